package target

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/perfengine/perfengine/metrics"
)

// Options configure a Watcher. The zero value is usable.
type Options struct {
	// Client scrapes services and Prometheus servers; default a client of
	// its own with keep-alives (probes always dial anew).
	Client *http.Client
	// Logger receives a target's failures (once per outage) and
	// recoveries; nil discards.
	Logger *slog.Logger
	// Registerer receives perfengine_target_up, _scrape_duration_seconds
	// and _scrape_failures_total by target; nil registers nothing.
	Registerer prometheus.Registerer
	// OnScrape is called after every scrape, from the target's goroutine.
	// It must not block for long: the target's next scrape waits.
	OnScrape func(Report)
	// NoSpread starts every target's first scrape at once instead of at an
	// offset within its interval (spreading avoids a burst of 50 scrapes
	// in the same millisecond).
	NoSpread bool
}

// Report is one scrape's outcome.
type Report struct {
	Target   string
	Kind     Kind
	Time     time.Time
	Duration time.Duration
	Result   Result
	// Err is why the scrape failed; nil when the target is up.
	Err error
}

// Up reports whether the scrape succeeded.
func (r Report) Up() bool { return r.Err == nil }

// State is a target as last seen.
type State struct {
	Name       string            `json:"name"`
	Kind       Kind              `json:"type"`
	Labels     map[string]string `json:"labels,omitempty"`
	Up         bool              `json:"up"`
	Error      string            `json:"error,omitempty"`
	Warnings   []string          `json:"warnings,omitempty"`
	Version    string            `json:"version,omitempty"`
	LastScrape time.Time         `json:"last_scrape"`
	Duration   time.Duration     `json:"duration_ns"`
	Bytes      int64             `json:"bytes"`
	Scrapes    uint64            `json:"scrapes"`
	Failures   int               `json:"consecutive_failures"`
	NextScrape time.Time         `json:"next_scrape"`
	// Samples are the last scrape's samples, target label included.
	Samples []metrics.Sample `json:"samples"`
}

// Watcher scrapes its targets, each on its own goroutine with its own
// interval, timeout and backoff, so a dead or slow target never delays
// another. Create it with New; it scrapes nothing until Start. Its methods
// are safe for concurrent use.
type Watcher struct {
	specs   []Spec
	sources []Source
	o       Options
	log     *slog.Logger
	prom    *watcherMetrics

	mu     sync.Mutex
	states map[string]*State

	life    sync.Mutex
	running bool
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// New validates the specs and builds their sources. Names must be unique.
func New(specs []Spec, o Options) (*Watcher, error) {
	if o.Client == nil {
		o.Client = &http.Client{Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 2,
			IdleConnTimeout:     2 * time.Minute,
		}}
	}
	w := &Watcher{o: o, log: o.Logger, states: map[string]*State{}}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	w.log = w.log.With("module", "targets")
	var errs []error
	for _, s := range specs {
		if err := s.Validate(); err != nil {
			errs = append(errs, err)
			continue
		}
		if _, dup := w.states[s.Name]; dup {
			errs = append(errs, fmt.Errorf("%w %q: name is used twice", ErrInvalid, s.Name))
			continue
		}
		s = s.withDefaults()
		src, err := s.source(o.Client)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		w.specs = append(w.specs, s)
		w.sources = append(w.sources, src)
		w.states[s.Name] = &State{Name: s.Name, Kind: s.Kind, Labels: maps.Clone(s.Labels), Version: s.Version, Samples: []metrics.Sample{}}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if o.Registerer != nil {
		m, err := newWatcherMetrics(o.Registerer)
		if err != nil {
			return nil, err
		}
		w.prom = m
	}
	return w, nil
}

// Specs returns the targets with their defaults filled in.
func (w *Watcher) Specs() []Spec { return slices.Clone(w.specs) }

// Start starts one goroutine per target. It is idempotent.
func (w *Watcher) Start(context.Context) error {
	w.life.Lock()
	defer w.life.Unlock()
	if w.running {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel, w.running = cancel, true
	for i := range w.specs {
		w.wg.Go(func() { w.loop(ctx, i) })
	}
	return nil
}

// Stop cancels every scrape and waits for the goroutines within ctx. It is
// idempotent.
func (w *Watcher) Stop(ctx context.Context) error {
	w.life.Lock()
	defer w.life.Unlock()
	if !w.running {
		return nil
	}
	w.cancel()
	w.running = false
	done := make(chan struct{})
	go func() { w.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop targets: %w", ctx.Err())
	}
}

func (w *Watcher) loop(ctx context.Context, i int) {
	s := w.specs[i]
	wait := time.Duration(0)
	if !w.o.NoSpread {
		h := fnv.New64a()
		h.Write([]byte(s.Name))
		wait = time.Duration(h.Sum64() % uint64(s.Interval))
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		_, wait := w.scrape(ctx, i)
		if ctx.Err() != nil {
			return
		}
		t.Reset(wait)
	}
}

// backoff is the wait before the next scrape: the interval, or after n
// failures in a row interval·2^(n-1), capped at MaxBackoff (or the
// interval, when that is longer).
func backoff(s Spec, failures int) time.Duration {
	if failures <= 1 {
		return s.Interval
	}
	return min(s.Interval<<min(failures-1, 16), max(MaxBackoff, s.Interval))
}

// ScrapeNow scrapes one target at once and returns what it found.
func (w *Watcher) ScrapeNow(ctx context.Context, name string) (Report, error) {
	for i, s := range w.specs {
		if s.Name == name {
			rep, _ := w.scrape(ctx, i)
			return rep, nil
		}
	}
	return Report{}, fmt.Errorf("scrape %q: %w", name, ErrUnknown)
}

// ErrUnknown means no target has the name asked for.
var ErrUnknown = errors.New("no such target")

// scrape runs one scrape and returns it with the wait before the next.
func (w *Watcher) scrape(ctx context.Context, i int) (Report, time.Duration) {
	s, src := w.specs[i], w.sources[i]
	start := time.Now()
	sctx, cancel := context.WithTimeout(ctx, s.Timeout)
	res, err := safeScrape(sctx, src, start)
	cancel()
	d := time.Since(start)
	if err != nil && sctx.Err() == context.DeadlineExceeded && ctx.Err() == nil {
		err = fmt.Errorf("no answer within the timeout %s: %w", s.Timeout, err)
	}
	up := 1.0
	if err != nil {
		up = 0
	}
	res.Samples = append(res.Samples,
		metrics.Sample{Name: Up, Value: up, Unit: metrics.UnitCount, Time: start},
		metrics.Sample{Name: ScrapeDurationMs, Value: float64(d) / float64(time.Millisecond), Unit: metrics.UnitMilliseconds, Time: start},
	)
	if res.Bytes > 0 {
		res.Samples = append(res.Samples, metrics.Sample{Name: ScrapeBytes, Value: float64(res.Bytes), Unit: metrics.UnitBytes, Time: start})
	}
	for j := range res.Samples {
		l := make(map[string]string, len(res.Samples[j].Labels)+1)
		maps.Copy(l, res.Samples[j].Labels)
		l[Label] = s.Name
		res.Samples[j].Labels = l
		if res.Samples[j].Time.IsZero() {
			res.Samples[j].Time = start
		}
	}
	if res.Version == "" {
		res.Version = s.Version
	}
	rep := Report{Target: s.Name, Kind: s.Kind, Time: start, Duration: d, Result: res, Err: err}

	w.mu.Lock()
	st := w.states[s.Name]
	wasUp, first := st.Up, st.Scrapes == 0
	st.Up = err == nil
	st.Error = ""
	if err != nil {
		st.Error = err.Error()
		st.Failures++
	} else {
		st.Failures = 0
	}
	st.Warnings = res.Warnings
	if res.Version != "" {
		st.Version = res.Version
	}
	st.LastScrape, st.Duration, st.Bytes = start, d, res.Bytes
	st.Scrapes++
	st.Samples = res.Samples
	wait := backoff(s, st.Failures)
	st.NextScrape = start.Add(d).Add(wait)
	w.mu.Unlock()

	switch {
	case err != nil && (wasUp || first):
		w.log.Warn("target down", "target", s.Name, "err", err)
	case err == nil && !wasUp && !first:
		w.log.Info("target up", "target", s.Name)
	}
	if w.prom != nil {
		w.prom.up.WithLabelValues(s.Name).Set(up)
		w.prom.duration.WithLabelValues(s.Name).Observe(d.Seconds())
		if err != nil {
			w.prom.failures.WithLabelValues(s.Name).Inc()
		}
	}
	if w.o.OnScrape != nil {
		w.o.OnScrape(rep)
	}
	return rep, wait
}

// safeScrape runs a source, turning a panic into an error: a target must
// never take the daemon down.
func safeScrape(ctx context.Context, src Source, now time.Time) (r Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			r, err = Result{}, fmt.Errorf("scrape panicked: %v\n%s", p, debug.Stack())
		}
	}()
	return src.Scrape(ctx, now)
}

// States returns every target's state, in configuration order.
func (w *Watcher) States() []State {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]State, 0, len(w.specs))
	for _, s := range w.specs {
		out = append(out, w.states[s.Name].clone())
	}
	return out
}

// State returns one target's state.
func (w *Watcher) State(name string) (State, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	st, ok := w.states[name]
	if !ok {
		return State{}, false
	}
	return st.clone(), true
}

func (s *State) clone() State {
	c := *s
	c.Labels = maps.Clone(s.Labels)
	c.Warnings = slices.Clone(s.Warnings)
	c.Samples = slices.Clone(s.Samples)
	return c
}

type watcherMetrics struct {
	up       *prometheus.GaugeVec
	duration *prometheus.HistogramVec
	failures *prometheus.CounterVec
}

func newWatcherMetrics(r prometheus.Registerer) (*watcherMetrics, error) {
	m := &watcherMetrics{
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "perfengine_target_up", Help: "1 when the target's last scrape succeeded.",
		}, []string{"target"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "perfengine_target_scrape_duration_seconds", Help: "Time a scrape or probe of the target took.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"target"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "perfengine_target_scrape_failures_total", Help: "Scrapes or probes of the target that failed.",
		}, []string{"target"}),
	}
	for _, c := range []prometheus.Collector{m.up, m.duration, m.failures} {
		if err := r.Register(c); err != nil {
			return nil, fmt.Errorf("register target metrics: %w", err)
		}
	}
	return m, nil
}
