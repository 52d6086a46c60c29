package alert

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Dispatcher defaults: Alertmanager's route defaults, its resolve timeout,
// and the resend delay of its clients.
const (
	DefaultGroupWait      = 30 * time.Second
	DefaultGroupInterval  = 5 * time.Minute
	DefaultRepeatInterval = 4 * time.Hour
	DefaultResolveTimeout = 5 * time.Minute
	DefaultResendInterval = time.Minute
	DefaultQueueSize      = 256
	DefaultNotifyTimeout  = time.Minute
)

// DefaultGroupBy groups alerts by name and by the target they concern.
var DefaultGroupBy = []string{LabelAlertname, "target"}

// GroupByAll as the only GroupBy label groups by every label: each alert
// is its own group.
const GroupByAll = "..."

// Notifier delivers a group's notification somewhere people look. Notify
// returns once the receiving end accepted it, or with the reason it did not.
type Notifier interface {
	Notify(ctx context.Context, n *Notification) error
}

// Forwarder hands every alert on, firing and resolved, to a system that
// groups and notifies itself: Alertmanager. The dispatcher re-sends the
// firing ones every resend interval, as Alertmanager's clients must.
type Forwarder interface {
	Forward(ctx context.Context, alerts []Forwarded) error
}

// Forwarded is one alert as a Forwarder receives it.
type Forwarded struct {
	Alert    Alert
	Labels   map[string]string
	StartsAt time.Time
	EndsAt   time.Time
}

// Channel is one destination of the dispatcher: a Notifier, which gets the
// dispatcher's grouped, deduplicated, silenced notifications, or a
// Forwarder, which gets every alert.
type Channel struct {
	Name         string
	Notifier     Notifier
	Forwarder    Forwarder
	SendResolved bool // resolved notices, for a Notifier
}

// StateStore keeps the dispatcher's memory across restarts: what was sent
// to each group and the silences. store.Store implements it.
type StateStore interface {
	GetState(ctx context.Context, key string) ([]byte, error)
	PutState(ctx context.Context, key string, value []byte) error
}

// DispatcherOptions configures a Dispatcher. Zero values mean the defaults.
type DispatcherOptions struct {
	// GroupBy are the labels whose values make a group; default
	// alertname and target. GroupByAll groups by every label.
	GroupBy []string
	// GroupWait is how long a new group waits for more alerts before its
	// first notification; default 30s.
	GroupWait time.Duration
	// GroupInterval is how often a group is looked at again; it notifies
	// only when its alerts changed; default 5m.
	GroupInterval time.Duration
	// RepeatInterval is how long an unchanged firing group stays quiet
	// after a notification; default 4h.
	RepeatInterval time.Duration
	// ResolveTimeout resolves a firing alert that was not put again for
	// this long; default 5m. Callers that put every cycle set it to a few
	// cycles.
	ResolveTimeout time.Duration
	// ResendInterval is how often Forwarders get the firing alerts again;
	// default 1m.
	ResendInterval time.Duration
	// Inhibit rules; nil means DefaultInhibitRules, an empty slice none.
	Inhibit []InhibitRule
	// QueueSize bounds the notifications waiting per channel; beyond it
	// they are dropped and counted. Default 256.
	QueueSize int
	// NotifyTimeout bounds one delivery attempt; default 1m. Failed
	// attempts are retried with backoff until the group's next interval.
	NotifyTimeout time.Duration
	// State persists the notification log and silences; nil keeps them
	// in memory only. Dispatchers sharing one store (engines of a fleet on
	// one PostgreSQL) merge what each knows, newest wins.
	State StateStore
	// SyncInterval is how often the store is read for what other
	// dispatchers on it learned; default 10s.
	SyncInterval time.Duration
	// Logger receives delivery failures; default discards.
	Logger *slog.Logger
	// Registerer, when set, receives the dispatcher's counters.
	Registerer prometheus.Registerer
}

// Stats counts what a Dispatcher did.
type Stats struct {
	Received      uint64 // alerts put
	Notifications uint64 // notifications queued, per channel
	Deduped       uint64 // group flushes a channel did not need: nothing new, repeat interval not passed
	Muted         uint64 // alerts left out of a notification by a silence or an inhibition
	Sent          uint64 // deliveries that succeeded, per channel
	Failed        uint64 // deliveries that failed after their retries, per channel
	Retried       uint64 // delivery attempts that failed and were tried again
	Dropped       uint64 // notifications lost to a full queue or a stop
	Forwarded     uint64 // successful posts to Forwarders
}

// Dispatcher implements Alertmanager's notification semantics in process:
// alerts are grouped by GroupBy; a new group waits GroupWait, then is
// looked at every GroupInterval and notifies a channel only when it holds
// a firing alert the channel was not told about, a resolution the channel
// wants, or RepeatInterval passed since the last notification. Silences
// and inhibition rules mute alerts. Each channel has a bounded queue and
// its own goroutine, retries with backoff, and never blocks Put. The
// notification log and silences go to the StateStore, so a restart
// neither repeats what was sent nor forgets a silence. Time is the
// standard library's, so testing/synctest controls it.
type Dispatcher struct {
	channels []Channel
	opts     DispatcherOptions
	queues   []chan job // per Notifier channel, nil for a Forwarder
	fwd      []chan []Forwarded
	wake     chan struct{}

	mu       sync.Mutex
	status   []ChannelStatus // by channel index
	alerts   map[uint64]*entry
	groups   map[string]*aggrGroup
	nflog    map[string]nflogEntry
	silences map[string]Silence
	dirty    bool // state changed since it was saved
	fwdDirty bool // alerts changed since they were forwarded
	lastFwd  time.Time
	adopted  bool
	// handedOver: a successor adopted the state and keeps it from now.
	handedOver bool
	lastSync   time.Time // the last read of the stored state
	started    bool
	stopped    bool

	cancel   context.CancelFunc // deliveries
	stopLoop context.CancelFunc // the loop and the forwarders
	wg       sync.WaitGroup     // deliveries
	loops    sync.WaitGroup     // the loop and the forwarders

	received, notifications, deduped, muted, sent, failed, retried, dropped, forwarded atomic.Uint64
	metrics                                                                            *dispatcherMetrics
}

// entry is one alert the dispatcher knows.
type entry struct {
	alert     Alert
	labels    map[string]string
	fp        uint64
	startsAt  time.Time
	endsAt    time.Time
	updatedAt time.Time
	group     *aggrGroup
}

func (e *entry) resolvedAt(now time.Time) bool { return !e.endsAt.After(now) }

// aggrGroup is Alertmanager's aggregation group: the alerts with the same
// values of the GroupBy labels, and when to look at them next.
type aggrGroup struct {
	key     string
	labels  map[string]string
	alerts  map[uint64]*entry
	next    time.Time
	flushed bool
}

// nflogEntry is what one channel was last told about one group.
type nflogEntry struct {
	At       time.Time `json:"at"`
	Firing   []uint64  `json:"firing"`
	Resolved []uint64  `json:"resolved"`
}

// nflogRetention bounds how long a group's last notification is kept.
const nflogRetention = 120 * time.Hour

type job struct {
	n        *Notification
	key      string // nflog key
	firing   []uint64
	resolved []uint64
	round    *flushRound
	deadline time.Time
}

// flushRound tracks the deliveries of one group flush, so its resolved
// alerts are forgotten only once every channel took them.
type flushRound struct {
	group   *aggrGroup
	at      time.Time
	pending int
	failed  bool
}

// NewDispatcher returns a dispatcher over channels. Dispatchers given the
// same Registerer share its counters.
func NewDispatcher(channels []Channel, opts DispatcherOptions) (*Dispatcher, error) {
	if opts.GroupBy == nil {
		opts.GroupBy = DefaultGroupBy
	}
	opts.GroupWait = cmp.Or(opts.GroupWait, DefaultGroupWait)
	opts.GroupInterval = cmp.Or(opts.GroupInterval, DefaultGroupInterval)
	opts.RepeatInterval = cmp.Or(opts.RepeatInterval, DefaultRepeatInterval)
	opts.ResolveTimeout = cmp.Or(opts.ResolveTimeout, DefaultResolveTimeout)
	opts.ResendInterval = cmp.Or(opts.ResendInterval, DefaultResendInterval)
	opts.NotifyTimeout = cmp.Or(opts.NotifyTimeout, DefaultNotifyTimeout)
	opts.SyncInterval = cmp.Or(opts.SyncInterval, 10*time.Second)
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.Inhibit == nil {
		opts.Inhibit = DefaultInhibitRules()
	}
	for _, d := range []time.Duration{opts.GroupWait, opts.GroupInterval, opts.RepeatInterval, opts.ResolveTimeout} {
		if d < 0 {
			return nil, errors.New("alert: dispatcher intervals must not be negative")
		}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	d := &Dispatcher{
		opts:     opts,
		wake:     make(chan struct{}, 1),
		alerts:   map[uint64]*entry{},
		groups:   map[string]*aggrGroup{},
		nflog:    map[string]nflogEntry{},
		silences: map[string]Silence{},
	}
	seen := map[string]bool{}
	for i, c := range channels {
		if c.Name == "" {
			c.Name = fmt.Sprintf("channel%d", i)
		}
		if seen[c.Name] {
			return nil, fmt.Errorf("alert: two channels are named %q", c.Name)
		}
		seen[c.Name] = true
		if (c.Notifier == nil) == (c.Forwarder == nil) {
			return nil, fmt.Errorf("alert: channel %q needs exactly one of a notifier and a forwarder", c.Name)
		}
		d.channels = append(d.channels, c)
		d.status = append(d.status, ChannelStatus{Name: c.Name, Forwarder: c.Forwarder != nil})
		if c.Notifier != nil {
			d.queues = append(d.queues, make(chan job, opts.QueueSize))
			d.fwd = append(d.fwd, nil)
		} else {
			d.queues = append(d.queues, nil)
			d.fwd = append(d.fwd, make(chan []Forwarded, 1))
		}
	}
	if opts.Registerer != nil {
		m, err := newDispatcherMetrics(opts.Registerer)
		if err != nil {
			return nil, err
		}
		d.metrics = m
	}
	d.opts.Logger = d.opts.Logger.With("module", "alert")
	return d, nil
}

// Put tells the dispatcher about alerts and returns at once. A firing
// alert stays firing until it is put again resolved or ResolveTimeout
// passes without it being put; callers put what fires every cycle. An
// alert's identity is its LabelSet; its title, detail and severity (when
// severity is not a label of the set) are updated by each put.
func (d *Dispatcher) Put(alerts ...Alert) {
	now := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		return
	}
	changed := false
	for _, a := range alerts {
		d.received.Add(1)
		ls := LabelSet(a)
		fp := Fingerprint(ls)
		e := d.alerts[fp]
		if a.Resolved {
			if e != nil && !e.resolvedAt(now) {
				e.alert, e.endsAt, e.updatedAt = a, now, now
				changed = true
			}
			continue
		}
		if e == nil || e.resolvedAt(now) {
			start := now
			if !a.Time.IsZero() && a.Time.Before(now) {
				start = a.Time
			}
			if e == nil {
				e = &entry{labels: ls, fp: fp}
				d.alerts[fp] = e
			}
			e.startsAt = start
			changed = true
		}
		e.alert, e.endsAt, e.updatedAt = a, now.Add(d.opts.ResolveTimeout), now
		d.join(e, now)
	}
	if changed {
		d.fwdDirty = true
		d.poke()
	}
}

// join puts an entry into its group, creating the group with its first
// flush GroupWait away (at once when the alert began longer ago).
func (d *Dispatcher) join(e *entry, now time.Time) {
	if e.group != nil && d.groups[e.group.key] == e.group {
		e.group.alerts[e.fp] = e
		return
	}
	gl := d.groupLabels(e.labels)
	key := labelString(gl)
	g := d.groups[key]
	if g == nil {
		g = &aggrGroup{key: key, labels: gl, alerts: map[uint64]*entry{}, next: now.Add(d.opts.GroupWait)}
		d.groups[key] = g
	}
	if !g.flushed && e.startsAt.Add(d.opts.GroupWait).Before(now) {
		g.next = now
	}
	g.alerts[e.fp] = e
	e.group = g
}

func (d *Dispatcher) groupLabels(ls map[string]string) map[string]string {
	if len(d.opts.GroupBy) == 1 && d.opts.GroupBy[0] == GroupByAll {
		return maps.Clone(ls)
	}
	gl := map[string]string{}
	for _, k := range d.opts.GroupBy {
		if v, ok := ls[k]; ok {
			gl[k] = v
		}
	}
	return gl
}

func (d *Dispatcher) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Start loads the saved state (unless state was adopted) and starts the
// dispatcher's goroutines. Calling it again, or after Stop, does nothing.
func (d *Dispatcher) Start(ctx context.Context) error {
	d.mu.Lock()
	if d.started || d.stopped {
		d.mu.Unlock()
		return nil
	}
	d.started = true
	adopted := d.adopted
	d.mu.Unlock()
	if !adopted && d.opts.State != nil {
		if err := d.load(ctx); err != nil {
			// A dispatcher that cannot read its memory still notifies;
			// at worst it repeats a notification or misses a silence.
			d.opts.Logger.Warn("load alert state", "err", err)
		}
	}
	// Deliveries outlive the caller's context (a request's, say) and end
	// with Stop.
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	loopCtx, stopLoop := context.WithCancel(runCtx)
	d.cancel, d.stopLoop = cancel, stopLoop
	for i, c := range d.channels {
		if c.Notifier != nil {
			d.wg.Go(func() { d.deliver(runCtx, i) })
		} else {
			d.loops.Go(func() { d.forward(loopCtx, i) })
		}
	}
	d.loops.Go(func() { d.run(loopCtx) })
	return nil
}

// run flushes groups when they are due, forwards alerts and saves state.
func (d *Dispatcher) run(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-d.wake:
		}
		next := d.tick(time.Now())
		d.save(ctx)
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(max(time.Until(next), time.Millisecond))
	}
}

// tick does what is due at now and returns when to tick next.
func (d *Dispatcher) tick(now time.Time) time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	next := now.Add(time.Minute)
	for _, g := range d.groups {
		if !g.next.After(now) && len(g.alerts) == 0 {
			// Emptied by the last flush and still empty a whole interval
			// later. Kept until now so an alert arriving in between joins
			// it and waits for its interval: a group notifies at most once
			// per group interval.
			delete(d.groups, g.key)
			continue
		}
		if !g.next.After(now) {
			d.flush(g, now)
			g.flushed = true
			g.next = now.Add(d.opts.GroupInterval)
		}
		if d.groups[g.key] == g {
			next = minTime(next, g.next)
		}
	}
	if len(d.fwd) > 0 && (d.fwdDirty || now.Sub(d.lastFwd) >= d.opts.ResendInterval) {
		d.queueForward(now)
	}
	if len(d.fwd) > 0 {
		next = minTime(next, d.lastFwd.Add(d.opts.ResendInterval))
	}
	d.gc(now)
	if d.opts.State != nil {
		next = minTime(next, d.lastSync.Add(d.opts.SyncInterval))
	}
	return next
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// flush sends the group to every Notifier channel that needs it.
func (d *Dispatcher) flush(g *aggrGroup, now time.Time) {
	firingAll := d.firing(now)
	var firing, resolved []*entry
	muted := 0
	for _, e := range g.alerts {
		if e.resolvedAt(now) {
			resolved = append(resolved, e)
			continue
		}
		if d.isMuted(e, firingAll, now) {
			muted++
			continue
		}
		firing = append(firing, e)
	}
	d.muted.Add(uint64(muted))
	round := &flushRound{group: g, at: now}
	if len(firing) == 0 && len(resolved) == 0 {
		// Only muted alerts: like Alertmanager's pipeline, stop here and
		// leave the log alone, so the end of a silence notifies as news.
		d.finish(round)
		return
	}
	if len(firing) == 0 && muted == 0 {
		d.forgetAbsentChannels(g.key, now)
	}
	sortEntries(firing)
	sortEntries(resolved)
	for i, c := range d.channels {
		if c.Notifier == nil {
			continue
		}
		key := c.Name + "\x00" + g.key
		fset := fingerprints(firing)
		var rset []uint64
		var rs []*entry
		if c.SendResolved {
			for _, e := range resolved {
				if e.labels[LabelEvent] != "true" {
					rs = append(rs, e)
				}
			}
			rset = fingerprints(rs)
		}
		prev, seen := d.nflog[key]
		if !needsUpdate(prev, seen, fset, rset, c.SendResolved, d.opts.RepeatInterval, now) {
			d.deduped.Add(1)
			if d.metrics != nil {
				d.metrics.deduped.Inc()
			}
			continue
		}
		if len(firing) == 0 && len(rs) == 0 {
			// Everything resolved and this channel does not want
			// resolutions: log that nothing fires, so a new firing
			// notifies. An entry, not a deletion, so the store's merge
			// (newest wins) does not bring the old one back.
			d.nflog[key] = nflogEntry{At: now}
			d.dirty = true
			continue
		}
		n := &Notification{
			Receiver: c.Name, GroupKey: g.key, GroupLabels: maps.Clone(g.labels),
			Starts: map[string]time.Time{}, Ends: map[string]time.Time{},
		}
		for _, e := range firing {
			n.Firing = append(n.Firing, e.alert)
			n.Starts[e.alert.ID], n.Ends[e.alert.ID] = e.startsAt, e.endsAt
		}
		for _, e := range rs {
			a := e.alert
			a.Resolved = true
			n.Resolved = append(n.Resolved, a)
			n.Starts[a.ID], n.Ends[a.ID] = e.startsAt, e.endsAt
		}
		j := job{n: n, key: key, firing: fset, resolved: rset, round: round, deadline: now.Add(d.opts.GroupInterval)}
		select {
		case d.queues[i] <- j:
			round.pending++
			d.notifications.Add(1)
		default:
			round.failed = true
			d.countDropped(1)
			d.opts.Logger.Warn("alert notification dropped, queue full", "channel", c.Name, "group", g.key)
		}
	}
	if round.pending == 0 {
		d.finish(round)
	}
}

// forgetAbsentChannels clears what channels that are no longer configured
// were told about a group that stopped firing: were one configured again,
// the group's next firing is news to it.
func (d *Dispatcher) forgetAbsentChannels(groupKey string, now time.Time) {
	for k, e := range d.nflog {
		name, gk, _ := strings.Cut(k, "\x00")
		if gk != groupKey || len(e.Firing) == 0 || slices.ContainsFunc(d.channels, func(c Channel) bool { return c.Name == name }) {
			continue
		}
		d.nflog[k] = nflogEntry{At: now} // see flush: an entry, not a deletion
		d.dirty = true
	}
}

// needsUpdate is Alertmanager's DedupStage decision: notify a group that
// was never notified only if something fires; then when a firing alert is
// new to the channel, when everything it was told about resolved, when a
// wanted resolution is new, or when the repeat interval passed.
func needsUpdate(prev nflogEntry, seen bool, firing, resolved []uint64, sendResolved bool, repeat time.Duration, now time.Time) bool {
	if !seen {
		return len(firing) > 0
	}
	if !isSubset(firing, prev.Firing) {
		return true
	}
	if len(firing) == 0 {
		return len(prev.Firing) > 0
	}
	if sendResolved && !isSubset(resolved, prev.Resolved) {
		return true
	}
	return !prev.At.After(now.Add(-repeat))
}

// isSubset reports whether every element of a (sorted) is in b.
func isSubset(a, b []uint64) bool {
	for _, x := range a {
		if _, ok := slices.BinarySearch(b, x); !ok {
			return false
		}
	}
	return true
}

func fingerprints(es []*entry) []uint64 {
	out := make([]uint64, len(es))
	for i, e := range es {
		out[i] = e.fp
	}
	slices.Sort(out)
	return out
}

func sortEntries(es []*entry) {
	slices.SortFunc(es, func(a, b *entry) int {
		return cmp.Or(a.startsAt.Compare(b.startsAt), cmp.Compare(a.fp, b.fp))
	})
}

func (d *Dispatcher) firing(now time.Time) []*entry {
	var out []*entry
	for _, e := range d.alerts {
		if !e.resolvedAt(now) {
			out = append(out, e)
		}
	}
	return out
}

// isMuted reports whether an active silence or an inhibition rule mutes e.
func (d *Dispatcher) isMuted(e *entry, firing []*entry, now time.Time) bool {
	if _, ok := d.silencedBy(e.labels, now); ok {
		return true
	}
	_, ok := inhibitedBy(d.opts.Inhibit, e, firing)
	return ok
}

func (d *Dispatcher) silencedBy(ls map[string]string, now time.Time) (string, bool) {
	for _, s := range d.silences {
		if s.State(now) == SilenceActive && matchAll(s.Matchers, ls) {
			return s.ID, true
		}
	}
	return "", false
}

// finish ends a flush round: when every delivery succeeded, the resolved
// alerts that were sent are forgotten. Runs under mu.
func (d *Dispatcher) finish(r *flushRound) {
	if r.failed {
		return
	}
	g := r.group
	for fp, e := range g.alerts {
		if e.resolvedAt(r.at) && !e.updatedAt.After(r.at) {
			delete(g.alerts, fp)
			e.group = nil
		}
	}
}

// gc forgets resolved alerts that no group holds once Forwarders had time
// to learn of the resolution, and old log entries and silences.
func (d *Dispatcher) gc(now time.Time) {
	for fp, e := range d.alerts {
		if e.group == nil && e.resolvedAt(now) && now.Sub(e.endsAt) > 3*d.opts.ResendInterval {
			delete(d.alerts, fp)
		}
	}
	for k, e := range d.nflog {
		if d.nflogExpired(e, now) {
			delete(d.nflog, k)
			d.dirty = true
		}
	}
	for id, s := range d.silences {
		if now.Sub(s.EndsAt) > silenceRetention {
			delete(d.silences, id)
			d.dirty = true
		}
	}
}

// nflogExpired reports whether a log entry is past its retention.
func (d *Dispatcher) nflogExpired(e nflogEntry, now time.Time) bool {
	return now.Sub(e.At) > max(nflogRetention, 2*d.opts.RepeatInterval)
}

func (d *Dispatcher) queueForward(now time.Time) {
	batch := make([]Forwarded, 0, len(d.alerts))
	for _, e := range d.alerts {
		a := e.alert
		a.Resolved = e.resolvedAt(now)
		batch = append(batch, Forwarded{Alert: a, Labels: maps.Clone(e.labels), StartsAt: e.startsAt, EndsAt: e.endsAt})
	}
	d.fwdDirty, d.lastFwd = false, now
	if len(batch) == 0 {
		return
	}
	slices.SortFunc(batch, func(a, b Forwarded) int { return a.StartsAt.Compare(b.StartsAt) })
	for _, q := range d.fwd {
		if q == nil {
			continue
		}
		// The newest batch replaces one still waiting: it says more.
		select {
		case <-q:
		default:
		}
		q <- batch
	}
}

func (d *Dispatcher) forward(ctx context.Context, i int) {
	c := d.channels[i]
	for {
		select {
		case <-ctx.Done():
			return
		case batch := <-d.fwd[i]:
			fctx, cancel := context.WithTimeout(ctx, d.opts.NotifyTimeout)
			err := c.Forwarder.Forward(fctx, batch)
			cancel()
			// A failure is retried at the next resend interval, with what
			// fires then.
			d.outcome(i, err, "alerts", len(batch))
		}
	}
}

// deliver sends one channel's notifications, retrying each with backoff
// until its group's next interval.
func (d *Dispatcher) deliver(ctx context.Context, i int) {
	c := d.channels[i]
	for j := range d.queues[i] {
		err := d.attempts(ctx, c, j)
		d.mu.Lock()
		if err == nil {
			d.nflog[j.key] = nflogEntry{At: j.round.at, Firing: j.firing, Resolved: j.resolved}
			d.dirty = true
		} else {
			j.round.failed = true
		}
		j.round.pending--
		if j.round.pending == 0 {
			d.finish(j.round)
		}
		d.mu.Unlock()
		if err != nil && ctx.Err() != nil {
			d.countDropped(1)
			continue
		}
		d.outcome(i, err, "group", j.n.GroupKey)
	}
}

// outcome counts a delivery of channel i and keeps its last error for
// ChannelStatuses.
func (d *Dispatcher) outcome(i int, err error, what string, detail any) {
	c := d.channels[i]
	d.mu.Lock()
	st := &d.status[i]
	if err == nil {
		st.Sent++
		st.LastSuccess = time.Now()
	} else {
		st.Failed++
		st.LastError, st.LastErrorAt = err.Error(), time.Now()
	}
	d.mu.Unlock()
	if err == nil {
		if c.Forwarder != nil {
			d.forwarded.Add(1)
		} else {
			d.sent.Add(1)
		}
		if d.metrics != nil {
			d.metrics.sent.WithLabelValues(c.Name).Inc()
		}
		return
	}
	d.failed.Add(1)
	if d.metrics != nil {
		d.metrics.failed.WithLabelValues(c.Name).Inc()
	}
	d.opts.Logger.Warn("alert delivery failed", "channel", c.Name, what, detail, "err", err)
}

func (d *Dispatcher) attempts(ctx context.Context, c Channel, j job) error {
	dctx, cancel := context.WithDeadline(ctx, j.deadline)
	defer cancel()
	for attempt := 0; ; attempt++ {
		actx, acancel := context.WithTimeout(dctx, d.opts.NotifyTimeout)
		err := c.Notifier.Notify(actx, j.n)
		acancel()
		if err == nil {
			return nil
		}
		if dctx.Err() != nil {
			return err
		}
		d.retried.Add(1)
		d.opts.Logger.Debug("alert delivery failed, retrying", "channel", c.Name, "attempt", attempt+1, "err", err)
		if sleepCtx(dctx, max(backoff(time.Second, attempt), 100*time.Millisecond)) != nil {
			return err
		}
	}
}

func (d *Dispatcher) countDropped(n int) {
	d.dropped.Add(uint64(n))
	if d.metrics != nil {
		d.metrics.dropped.Add(float64(n))
	}
}

// Stop stops accepting alerts, saves the state and waits for the queued
// notifications to be delivered, until ctx ends; then in-flight deliveries
// are canceled and what is still queued is dropped. Calling it again does
// nothing.
func (d *Dispatcher) Stop(ctx context.Context) error {
	d.mu.Lock()
	if d.stopped {
		d.mu.Unlock()
		return nil
	}
	d.stopped = true
	started := d.started
	d.mu.Unlock()
	if !started {
		for _, q := range d.queues {
			d.countDropped(len(q))
		}
		return nil
	}
	// The loop and the forwarders have nothing to drain; once they are
	// gone nothing sends on the queues, which the notifiers then drain.
	d.stopLoop()
	d.loops.Wait()
	d.mu.Lock()
	for _, q := range d.queues {
		if q != nil {
			close(q)
		}
	}
	d.mu.Unlock()
	done := make(chan struct{})
	go func() { d.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		d.cancel()
		<-done
		err = fmt.Errorf("alert: stop: %w", ctx.Err())
	}
	d.cancel()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	d.save(sctx)
	return err
}
