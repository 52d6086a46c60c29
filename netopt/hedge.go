package netopt

import (
	"context"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/perfengine/perfengine/metrics"
)

// hedgeFloorFactor widens the hedged share for the floor of the hedging
// delay: at most three times 1-Quantile of the attempts (15 % at p95) are
// hedged however low the median rule puts the delay.
const hedgeFloorFactor = 3

// delayFrom is the hedging delay a host's latency window calls for: the
// lower of the window's Quantile and MedianMultiple times its median, but
// not below the quantile that hedges hedgeFloorFactor times as many
// attempts.
//
// The quantile alone fails when the slow tail is about as large as
// 1-Quantile: with 5 % of answers 200 ms late, the p95 of a window lands
// inside the tail about half the time, and a hedge sent at 200 ms helps no
// one. The median is far from any tail of less than half the attempts, so a
// multiple of it finds the gap between the fast answers and the slow ones;
// the floor keeps a wide but healthy distribution (p50 10 ms, p85 30 ms)
// from being hedged at every bump.
func (c HedgeConfig) delayFrom(w *metrics.Histogram) time.Duration {
	q := w.Quantile(c.Quantile)
	if c.MedianMultiple < 0 {
		return q
	}
	byMedian := time.Duration(float64(w.Quantile(0.5)) * c.MedianMultiple)
	floor := w.Quantile(max(0.5, 1-hedgeFloorFactor*(1-c.Quantile)))
	return min(q, max(byMedian, floor))
}

// try is one attempt, hedged when allowed: a second copy goes out if the
// first has not answered after the host's hedging delay and the budget
// allows; the first good answer wins and the other is cancelled.
//
// The first attempt runs on the caller's goroutine and the hedge on its
// timer's, so an armed hedge that never fires costs a pooled state, a
// cancellable context and a timer reset, not a goroutine and a channel
// hand-off per request. A hedge that wins cancels the first attempt, which
// then returns at once from any RoundTripper that honours its request's
// context, as net/http's do.
func (t *Transport) try(ctx context.Context, req *http.Request, h *host, probe, hedge bool) (*http.Response, error) {
	var delay time.Duration
	if hedge {
		delay = t.hedgeDelay(h)
	}
	if delay <= 0 {
		return t.attempt(ctx, req, h, probe)
	}
	s := t.getHedger()
	ctx1, cancel1 := context.WithCancel(ctx)
	s.mu.Lock()
	s.t, s.h, s.ctx, s.req, s.cancel1 = t, h, ctx, req, cancel1
	s.mu.Unlock()
	s.timer.Reset(delay)
	resp, err := t.attempt(ctx1, req, h, false)
	if s.timer.Stop() {
		// The hedge never started: the state is ours alone again.
		s.clear()
		t.hedgers.Put(s)
		return withCancel(resp, err, cancel1)
	}
	return s.settle(resp, err)
}

// getHedger takes an armed hedge's state from the Transport's pool. A
// state whose hedge was sent is shared with the hedge's goroutine and left
// to the collector instead of put back. The pool is the Transport's, not
// the package's, because a timer belongs to the clock it was made under
// (a synctest bubble has its own).
func (t *Transport) getHedger() *hedger {
	if s, ok := t.hedgers.Get().(*hedger); ok {
		return s
	}
	s := &hedger{res: make(chan attemptResult, 1)}
	s.timer = time.AfterFunc(time.Hour, s.fire)
	s.timer.Stop()
	return s
}

// hedger is one hedged request: the caller's first attempt and the hedge
// its timer may send.
type hedger struct {
	timer *time.Timer
	res   chan attemptResult // the hedge's outcome, when the caller takes it

	mu       sync.Mutex
	t        *Transport
	h        *host
	ctx      context.Context // the caller's
	req      *http.Request
	cancel1  context.CancelFunc // the first attempt's
	cancel2  context.CancelFunc // the hedge's, once sent
	launched bool               // the hedge was sent
	settled  bool               // the caller has its answer; a late hedge closes its own
	hedgeWon bool               // the hedge answered well first
}

func (s *hedger) clear() {
	s.t, s.h, s.ctx, s.req, s.cancel1, s.cancel2 = nil, nil, nil, nil, nil, nil
}

// fire runs on the timer's goroutine once the delay has passed with the
// first attempt unanswered: it sends the hedge when the budget allows and
// hands its outcome to the caller unless the first attempt won meanwhile.
func (s *hedger) fire() {
	s.mu.Lock()
	if s.settled || !s.h.budget.allow() {
		s.mu.Unlock()
		return
	}
	r2, err := rewind(s.req)
	if err != nil {
		s.mu.Unlock()
		return
	}
	t, h := s.t, s.h
	h.budget.spend()
	h.hedges.Add(1)
	ctx2, cancel2 := context.WithCancel(s.ctx)
	s.cancel2, s.launched = cancel2, true
	s.mu.Unlock()

	resp, err := t.attempt(ctx2, r2, h, false)

	s.mu.Lock()
	if s.settled {
		s.mu.Unlock()
		closeResult(resp)
		cancel2()
		return
	}
	if !t.failed(resp, err) {
		s.hedgeWon = true
		s.cancel1() // the first attempt returns now; the caller takes ours
	}
	s.mu.Unlock()
	s.res <- attemptResult{resp, err}
}

// settle decides between the first attempt's outcome and the hedge once
// the timer has fired.
func (s *hedger) settle(resp *http.Response, err error) (*http.Response, error) {
	s.mu.Lock()
	cancel1, cancel2, t, h := s.cancel1, s.cancel2, s.t, s.h
	switch {
	case !s.launched:
		// Not sent (budget, body) or not yet: it will not be now.
		s.settled = true
		s.mu.Unlock()
		return withCancel(resp, err, cancel1)
	case s.hedgeWon:
		s.mu.Unlock()
	case !t.failed(resp, err):
		s.settled = true
		s.mu.Unlock()
		cancel2()
		return withCancel(resp, err, cancel1)
	default:
		// Ours failed: the hedge may still succeed, and is the answer
		// either way.
		s.mu.Unlock()
	}
	r := <-s.res
	closeResult(resp)
	cancel1()
	if !t.failed(r.resp, r.err) {
		h.hedgeWins.Add(1)
	}
	return withCancel(r.resp, r.err, cancel2)
}

type attemptResult struct {
	resp *http.Response
	err  error
}

// withCancel ties an attempt's context to its body: cancelled when the
// body is closed, or now if there is no body.
func withCancel(resp *http.Response, err error, cancel context.CancelFunc) (*http.Response, error) {
	if resp == nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, err
}

func closeResult(resp *http.Response) {
	if resp != nil {
		drain(resp.Body)
	}
}

// cancelBody releases a hedged attempt's context when its body is closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}
