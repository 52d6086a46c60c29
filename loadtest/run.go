package loadtest

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Run executes the plan and returns what it measured. It returns an error
// only for an invalid plan; failures of the service are part of the result.
// When ctx is cancelled, in-flight requests are interrupted and the partial
// result is returned with Aborted set.
func Run(ctx context.Context, p Plan) (*Result, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	p = p.withDefaults()
	cl, err := newClients(p)
	if err != nil {
		return nil, err
	}
	defer cl.close()
	r := &runner{plan: p, cl: cl, seq: sequence(p.Targets, p.Selection), open: p.Open()}
	if r.open {
		r.sched = newSchedule(p)
	}
	return r.run(ctx)
}

type runner struct {
	plan  Plan
	cl    *clients
	seq   []int
	seqAt atomic.Uint64
	open  bool
	sched schedule

	start   time.Time
	ticket  atomic.Int64 // next open-model start
	issued  atomic.Int64 // requests begun, for MaxRequests
	capped  atomic.Bool  // MaxRequests reached
	aborted atomic.Bool
	abortCh chan struct{}

	ctx          context.Context // the caller's; cancelled on abort
	lastProgress time.Duration   // owned by the collector loop
	lastRequests int64
}

func (r *runner) nextTarget() int {
	i := r.seqAt.Add(1) - 1
	return r.seq[i%uint64(len(r.seq))]
}

// take reserves one request against MaxRequests.
func (r *runner) take() bool {
	if r.plan.MaxRequests == 0 {
		return true
	}
	if r.issued.Add(1) > r.plan.MaxRequests {
		r.capped.Store(true)
		return false
	}
	return true
}

func (r *runner) run(ctx context.Context) (*Result, error) {
	p := r.plan
	// Corrected latency can reach the whole run plus one timeout.
	highest := int64((p.Duration+p.Timeout+time.Minute)/time.Microsecond) + 1
	nShards := min(p.Concurrency, maxShards)
	shards := make([]*shard, nShards)
	for i := range shards {
		shards[i] = newShard(highest, r.open)
	}
	loops, err := r.eventLoops(shards)
	if err != nil && p.Engine == EngineEventLoop {
		return nil, err
	}
	var senders []sender
	if loops == nil {
		senders = make([]sender, p.Concurrency)
		for i := range senders {
			senders[i] = r.cl.newSender(ctx)
		}
	}
	r.abortCh = make(chan struct{})
	r.ctx = ctx
	r.start = time.Now()

	var wg sync.WaitGroup
	for _, loop := range loops {
		wg.Go(loop)
	}
	for i := range senders {
		wg.Go(func() {
			defer senders[i].close()
			if r.open {
				r.openWorker(senders[i], shards[i%nShards])
			} else {
				r.closedWorker(senders[i], shards[i%nShards])
			}
		})
	}

	workersDone := make(chan struct{})
	go func() {
		wg.Wait()
		close(workersDone)
	}()

	se := newSeries(highest)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var stoppedAt time.Duration
loop:
	for {
		select {
		case <-workersDone:
			if ctx.Err() != nil && !r.aborted.Swap(true) {
				// The workers saw the cancellation before this loop did
				// (or it came before they started): still an abort.
				stoppedAt = time.Since(r.start)
				close(r.abortCh)
			}
			break loop
		case <-ctx.Done():
			if !r.aborted.Swap(true) {
				stoppedAt = time.Since(r.start)
				close(r.abortCh)
				for _, s := range senders {
					s.interrupt()
				}
			}
		case <-tick.C:
			el := time.Since(r.start)
			// One second of grace: a request finishing at the edge may be
			// recorded a moment after its second ends.
			se.harvest(shards, int64(el/time.Second)-1)
			if p.Progress != nil && el-r.lastProgress >= p.ProgressInterval {
				p.Progress(r.progress(shards, se, el))
			}
		}
	}
	elapsed := time.Since(r.start)
	if stoppedAt == 0 {
		// The schedule's window is the whole duration even when the last
		// start, due just before the end, finished early.
		stoppedAt = p.Duration
		if r.capped.Load() {
			stoppedAt = min(elapsed, p.Duration)
		}
	}
	se.harvest(shards, int64(elapsed/time.Second)+1)
	res := r.result(shards, se, elapsed, stoppedAt)
	res.Engine = string(EngineGoroutines)
	if loops != nil {
		res.Engine = string(EngineEventLoop)
	}
	return res, nil
}

func (r *runner) progress(shards []*shard, se *series, el time.Duration) Progress {
	pr := Progress{Elapsed: el, Total: r.plan.Duration, P99: se.last.P99}
	for _, s := range shards {
		s.mu.Lock()
		pr.Requests += s.requests
		pr.Errors += s.requests - s.ok
		s.mu.Unlock()
	}
	// The rate is live (since the last report); p99 needs a whole second
	// and so trails by one or two.
	if d := el - r.lastProgress; d > 0 {
		pr.Rate = float64(pr.Requests-r.lastRequests) / d.Seconds()
	}
	r.lastProgress, r.lastRequests = el, pr.Requests
	return pr
}

// stopping reports an abort, including one the collector has not marked
// yet: a send can fail on the cancelled context first.
func (r *runner) stopping() bool { return r.aborted.Load() || r.ctx.Err() != nil }

func (r *runner) closedWorker(s sender, sh *shard) {
	for !r.aborted.Load() && !r.capped.Load() {
		began := time.Since(r.start)
		if began >= r.plan.Duration || !r.take() {
			return
		}
		status, in, out, kind := s.send(r.nextTarget())
		done := time.Since(r.start)
		if kind != errNone && r.stopping() {
			return // interrupted by us, not failed by the service
		}
		sh.mu.Lock()
		sh.sent++
		sh.mu.Unlock()
		d := done - began
		sh.record(outcome{done: done, corrected: d, actual: d, status: status, kind: kind, in: in, out: out})
	}
}

func (r *runner) openWorker(s sender, sh *shard) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for !r.aborted.Load() && !r.capped.Load() {
		at, ok := r.sched.at(r.ticket.Add(1) - 1)
		if !ok {
			return
		}
		now := time.Since(r.start)
		if at > now {
			timer.Reset(at - now)
			select {
			case <-timer.C:
			case <-r.abortCh:
				timer.Stop()
				return
			}
			now = time.Since(r.start)
		}
		if now >= r.plan.Duration+r.plan.LateAfter {
			// Still catching up after the end: stop, so a saturated service
			// cannot stretch the run; the rest are counted dropped.
			return
		}
		lag := now - at
		if r.plan.MaxLag > 0 && lag > r.plan.MaxLag {
			sh.mu.Lock()
			sh.dropped++
			sh.mu.Unlock()
			continue
		}
		if !r.take() {
			return
		}
		status, in, out, kind := s.send(r.nextTarget())
		done := time.Since(r.start)
		if kind != errNone && r.stopping() {
			return
		}
		sh.mu.Lock()
		sh.sent++
		if lag > r.plan.LateAfter {
			sh.late++
		}
		sh.mu.Unlock()
		sh.record(outcome{done: done, corrected: done - at, actual: done - now, status: status, kind: kind, in: in, out: out})
	}
}

func (r *runner) result(shards []*shard, se *series, elapsed, stoppedAt time.Duration) *Result {
	p := r.plan
	highest := shards[0].highest
	lat := hdr.New(1, highest, histDigits)
	raw := lat
	if r.open {
		raw = hdr.New(1, highest, histDigits)
	}
	if r.open && !r.aborted.Load() && !r.capped.Load() {
		// The last start may finish before the schedule's end; the run
		// still spanned the whole schedule.
		elapsed = max(elapsed, p.Duration)
	}
	res := &Result{
		Model:       "closed",
		Started:     r.start,
		Duration:    elapsed.Seconds(),
		Concurrency: p.Concurrency,
		StatusCodes: map[int]int64{},
		Errors:      map[string]int64{},
		Connections: r.cl.conns.Load(),
		Reused:      r.cl.reused.Load(),
		Series:      se.out,
		Aborted:     r.aborted.Load(),
	}
	var sent int64
	for _, s := range shards {
		s.mu.Lock()
		lat.Merge(s.lat)
		if s.raw != nil {
			raw.Merge(s.raw)
		}
		res.Requests += s.requests
		res.OK += s.ok
		res.Late += s.late
		res.Dropped += s.dropped
		res.BytesIn += s.bytesIn
		res.BytesOut += s.bytesOut
		sent += s.sent
		for code, n := range s.status {
			if n > 0 {
				res.StatusCodes[code] += n
			}
		}
		for k, n := range s.errs {
			if n > 0 {
				res.Errors[errKindNames[k]] += n
			}
		}
		s.mu.Unlock()
	}
	res.Latency, res.Distribution = summarize(lat)
	res.LatencyUncorrected, res.DistributionUncorrected = summarize(raw)
	if r.open {
		res.Model = "open"
		res.RateTarget = r.sched.meanRate()
		if !r.capped.Load() {
			// Due starts that were neither sent nor dropped for lag were still
			// waiting for a worker when the test ended.
			res.Dropped = max(res.Dropped, r.sched.due(stoppedAt)-sent)
		}
		if stoppedAt > 0 {
			res.RateAchieved = float64(sent) / stoppedAt.Seconds()
		}
	}
	return res
}
