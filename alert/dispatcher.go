package alert

import (
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

// Dispatcher defaults.
const (
	// DefaultRepeatInterval is Alertmanager's: a still-firing alert is
	// sent again after four hours.
	DefaultRepeatInterval = 4 * time.Hour
	DefaultQueueSize      = 256
	DefaultNotifyTimeout  = time.Minute
)

// DispatcherOptions configures a Dispatcher. Zero values mean the defaults.
type DispatcherOptions struct {
	// RepeatInterval is how long an unchanged firing alert of one group
	// stays quiet after it was sent; default 4h.
	RepeatInterval time.Duration
	// QueueSize bounds the alerts waiting per notifier; beyond it Send
	// drops and counts. Default 256.
	QueueSize int
	// NotifyTimeout bounds one Notify call; default 1m.
	NotifyTimeout time.Duration
	// Key groups alerts: one notification per group and repeat interval.
	// Default GroupKey.
	Key func(Alert) string
	// Now is the clock for repeat intervals; default time.Now.
	Now func() time.Time
	// Logger receives delivery failures; default discards.
	Logger *slog.Logger
	// Registerer, when set, receives the dispatcher's counters.
	Registerer prometheus.Registerer
}

// GroupKey is the default grouping: source, title and labels. Two alerts
// that differ only in detail, time, ID or severity are one group.
func GroupKey(a Alert) string {
	var b strings.Builder
	b.WriteString(a.Source)
	b.WriteByte(0)
	b.WriteString(a.Title)
	for _, k := range slices.Sorted(maps.Keys(a.Labels)) {
		b.WriteByte(0)
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(a.Labels[k])
	}
	return b.String()
}

// Stats counts what a Dispatcher did with the alerts it was given.
type Stats struct {
	Queued  uint64 // accepted for delivery (once per alert, not per notifier)
	Deduped uint64 // suppressed: same group, same state, within the repeat interval
	Sent    uint64 // deliveries that succeeded, per notifier
	Failed  uint64 // deliveries that returned an error, per notifier
	Dropped uint64 // deliveries lost to a full queue or a stopped dispatcher, per notifier
}

// Dispatcher sends alerts to notifiers without blocking the caller: it
// suppresses repeats of a group within the repeat interval, sends changes
// (escalation, resolution) at once, and delivers through one bounded queue
// and goroutine per notifier, so a slow mail server does not delay the
// webhook. It is safe for concurrent use. New starts nothing; Start starts
// the workers, Stop drains them.
type Dispatcher struct {
	notifiers []Notifier
	names     []string
	opts      DispatcherOptions
	queues    []chan job

	mu      sync.Mutex // guards groups, started, stopped and sends on queues
	groups  map[string]*group
	started bool
	stopped bool

	cancel context.CancelFunc
	wg     sync.WaitGroup

	queued, deduped, sent, failed, dropped atomic.Uint64
	metrics                                *dispatcherMetrics
}

// group is the last notification sent for a group key.
type group struct {
	at       time.Time
	severity string
	resolved bool
	seq      uint64 // identifies the send, so a failure resets only its own
}

type job struct {
	alert Alert
	key   string
	seq   uint64
}

// NewDispatcher returns a dispatcher over notifiers. Dispatchers given the
// same Registerer share its counters. It fails only when Registerer refuses
// the metrics (another collector holds their names).
func NewDispatcher(notifiers []Notifier, opts DispatcherOptions) (*Dispatcher, error) {
	if opts.RepeatInterval <= 0 {
		opts.RepeatInterval = DefaultRepeatInterval
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.NotifyTimeout <= 0 {
		opts.NotifyTimeout = DefaultNotifyTimeout
	}
	if opts.Key == nil {
		opts.Key = GroupKey
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	d := &Dispatcher{
		notifiers: notifiers,
		opts:      opts,
		groups:    map[string]*group{},
	}
	for i, n := range notifiers {
		name := fmt.Sprintf("notifier%d", i)
		if nn, ok := n.(interface{ Name() string }); ok {
			name = nn.Name()
		}
		d.names = append(d.names, name)
		d.queues = append(d.queues, make(chan job, opts.QueueSize))
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

// Send hands an alert over for delivery and returns at once. It returns
// false when the alert is not queued for every notifier: suppressed as a
// repeat, dropped by a full queue, or sent after Stop. An alert sent before
// Start waits in the queue.
func (d *Dispatcher) Send(a Alert) bool {
	key := d.opts.Key(a)
	now := d.opts.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		d.countDropped(len(d.queues))
		return false
	}
	g := d.groups[key]
	if d.suppress(g, a, now) {
		d.deduped.Add(1)
		if d.metrics != nil {
			d.metrics.deduped.Inc()
		}
		return false
	}
	var seq uint64
	if g != nil {
		seq = g.seq + 1
	}
	d.groups[key] = &group{at: now, severity: a.Severity, resolved: a.Resolved, seq: seq}
	d.prune(now)
	d.queued.Add(1)
	all := true
	for i, q := range d.queues {
		select {
		case q <- job{alert: a, key: key, seq: seq}:
		default:
			all = false
			d.countDropped(1)
			d.opts.Logger.Warn("alert dropped, queue full", "notifier", d.names[i], "title", a.Title)
		}
	}
	return all
}

// suppress reports whether a repeats what group g last sent: a resolution
// of a group that is not firing, or the same firing state and severity
// within the repeat interval.
func (d *Dispatcher) suppress(g *group, a Alert, now time.Time) bool {
	if a.Resolved {
		return g == nil || g.resolved
	}
	if g == nil || g.resolved || g.severity != a.Severity {
		return false
	}
	return now.Sub(g.at) < d.opts.RepeatInterval
}

// prune forgets groups that can no longer suppress anything, so a long
// run with changing labels does not grow the map without bound.
func (d *Dispatcher) prune(now time.Time) {
	if len(d.groups) < 1024 {
		return
	}
	for k, g := range d.groups {
		if now.Sub(g.at) >= d.opts.RepeatInterval && (g.resolved || now.Sub(g.at) >= 2*d.opts.RepeatInterval) {
			delete(d.groups, k)
		}
	}
}

func (d *Dispatcher) countDropped(n int) {
	d.dropped.Add(uint64(n))
	if d.metrics != nil {
		d.metrics.dropped.Add(float64(n))
	}
}

// Start starts one delivery goroutine per notifier. Calling it again, or
// after Stop, does nothing.
func (d *Dispatcher) Start(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.started || d.stopped {
		return nil
	}
	d.started = true
	// Deliveries outlive the caller's context (a request's, say) and end
	// with Stop.
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	d.cancel = cancel
	for i := range d.queues {
		d.wg.Go(func() { d.deliver(runCtx, i) })
	}
	return nil
}

func (d *Dispatcher) deliver(ctx context.Context, i int) {
	n, name := d.notifiers[i], d.names[i]
	for j := range d.queues[i] {
		if ctx.Err() != nil {
			d.countDropped(1)
			continue
		}
		nctx, cancel := context.WithTimeout(ctx, d.opts.NotifyTimeout)
		err := n.Notify(nctx, j.alert)
		cancel()
		if err == nil {
			d.sent.Add(1)
			if d.metrics != nil {
				d.metrics.sent.WithLabelValues(name).Inc()
			}
			continue
		}
		d.failed.Add(1)
		if d.metrics != nil {
			d.metrics.failed.WithLabelValues(name).Inc()
		}
		d.opts.Logger.Warn("alert delivery failed", "notifier", name, "title", j.alert.Title, "err", err)
		// Let the next occurrence through instead of suppressing it
		// for a whole repeat interval behind a failed send.
		d.mu.Lock()
		if g := d.groups[j.key]; g != nil && g.seq == j.seq {
			delete(d.groups, j.key)
		}
		d.mu.Unlock()
	}
}

// Stop stops accepting alerts and waits for the queued ones to be
// delivered, until ctx ends; then in-flight deliveries are canceled and
// what is still queued is dropped. Calling it again does nothing.
func (d *Dispatcher) Stop(ctx context.Context) error {
	d.mu.Lock()
	if d.stopped {
		d.mu.Unlock()
		return nil
	}
	d.stopped = true
	for _, q := range d.queues {
		close(q)
	}
	started := d.started
	d.mu.Unlock()
	if !started {
		for _, q := range d.queues {
			d.countDropped(len(q))
		}
		return nil
	}
	done := make(chan struct{})
	go func() { d.wg.Wait(); close(done) }()
	select {
	case <-done:
		d.cancel()
		return nil
	case <-ctx.Done():
		d.cancel()
		<-done
		return fmt.Errorf("alert: stop: %w", ctx.Err())
	}
}

// Stats returns the counters so far.
func (d *Dispatcher) Stats() Stats {
	return Stats{
		Queued:  d.queued.Load(),
		Deduped: d.deduped.Load(),
		Sent:    d.sent.Load(),
		Failed:  d.failed.Load(),
		Dropped: d.dropped.Load(),
	}
}

type dispatcherMetrics struct {
	sent, failed     *prometheus.CounterVec
	dropped, deduped prometheus.Counter
}

func newDispatcherMetrics(r prometheus.Registerer) (*dispatcherMetrics, error) {
	m := &dispatcherMetrics{
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "perfengine_alert_sent_total", Help: "Alert notifications delivered, by notifier.",
		}, []string{"notifier"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "perfengine_alert_failed_total", Help: "Alert notifications whose delivery failed, by notifier.",
		}, []string{"notifier"}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "perfengine_alert_dropped_total", Help: "Alert notifications dropped by a full queue or a stopped dispatcher.",
		}),
		deduped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "perfengine_alert_deduplicated_total", Help: "Alerts suppressed as repeats within the repeat interval.",
		}),
	}
	// A dispatcher cannot be restarted, so an engine builds a new one on
	// each Start; the new one counts on in the collectors already there.
	var err error
	if m.sent, err = register(r, m.sent); err != nil {
		return nil, err
	}
	if m.failed, err = register(r, m.failed); err != nil {
		return nil, err
	}
	if m.dropped, err = register(r, m.dropped); err != nil {
		return nil, err
	}
	if m.deduped, err = register(r, m.deduped); err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c, or returns the equal collector registered before.
func register[C prometheus.Collector](r prometheus.Registerer, c C) (C, error) {
	err := r.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, fmt.Errorf("alert: register metrics: %w", err)
}
