package webopt

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Collector defaults.
const (
	DefaultMaxBeaconBytes     = 4 << 10 // a full beacon is about 400 bytes
	DefaultCollectorMaxRoutes = 100
	DefaultWindow             = 10 * time.Minute
	DefaultMinHintViews       = 3
	// OverflowRoute collects the page views of routes beyond MaxRoutes.
	OverflowRoute = "other"
)

// CollectorOptions configure a Collector. The zero value is usable: every
// zero field means the default noted on it.
type CollectorOptions struct {
	// Path is where the script sends beacons; default DefaultBeaconPath.
	// Mount the Collector there.
	Path string `yaml:"path" json:"path"`
	// MaxBeaconBytes bounds one beacon's body; default 4 KiB.
	MaxBeaconBytes int64 `yaml:"maxBeaconBytes" json:"maxBeaconBytes"`
	// MaxRoutes bounds the distinct routes kept; page views of further
	// routes count under OverflowRoute. Default 100.
	MaxRoutes int `yaml:"maxRoutes" json:"maxRoutes"`
	// Window is how much history a p75 covers: between Window/2 and Window,
	// as two halves rotate. Default 10m.
	Window time.Duration `yaml:"window" json:"window"`
	// MinHintViews is how many page views must name the same LCP element
	// before the collector tells the rewriter to prioritise it; default 3.
	MinHintViews int `yaml:"minHintViews" json:"minHintViews"`
	// Route maps a page's path to the route it is counted under; default
	// NormalizeRoute. Give it the service's ServeMux patterns to count
	// "/products/42" as "/products/{id}".
	Route func(path string) string `yaml:"-" json:"-"`
}

// Validate checks the options, naming the field and its range.
func (o CollectorOptions) Validate() error {
	var errs []error
	if o.Path != "" && !strings.HasPrefix(o.Path, "/") {
		errs = append(errs, fmt.Errorf("path %q: must start with /", o.Path))
	}
	if o.MaxBeaconBytes < 0 || o.MaxBeaconBytes > 1<<20 {
		errs = append(errs, fmt.Errorf("maxBeaconBytes %d: must be in 0..1048576", o.MaxBeaconBytes))
	}
	if o.MaxRoutes < 0 || o.MaxRoutes > 10_000 {
		errs = append(errs, fmt.Errorf("maxRoutes %d: must be in 0..10000", o.MaxRoutes))
	}
	if o.Window < 0 || (o.Window > 0 && o.Window < 2*time.Second) {
		errs = append(errs, fmt.Errorf("window %v: must be 0 (default) or at least 2s", o.Window))
	}
	if o.MinHintViews < 0 {
		errs = append(errs, fmt.Errorf("minHintViews %d: must not be negative", o.MinHintViews))
	}
	return errors.Join(errs...)
}

func (o *CollectorOptions) fill() {
	if o.Path == "" {
		o.Path = DefaultBeaconPath
	}
	if o.MaxBeaconBytes == 0 {
		o.MaxBeaconBytes = DefaultMaxBeaconBytes
	}
	if o.MaxRoutes == 0 {
		o.MaxRoutes = DefaultCollectorMaxRoutes
	}
	if o.Window == 0 {
		o.Window = DefaultWindow
	}
	if o.MinHintViews == 0 {
		o.MinHintViews = DefaultMinHintViews
	}
	if o.Route == nil {
		o.Route = NormalizeRoute
	}
}

// Metric is one vital of one page view, as Subscribe delivers it.
type Metric struct {
	Name   string  `json:"name"`  // LCP, INP, CLS, FCP or TTFB
	Value  float64 `json:"value"` // ms; CLS unitless
	Rating Rating  `json:"rating"`
	Route  string  `json:"route"`
	Device string  `json:"device"`
	// Element and URL name the LCP element: a CSS selector, and the image's
	// URL (a path when it is on the page's own host).
	Element string    `json:"element,omitempty"`
	URL     string    `json:"url,omitempty"`
	Time    time.Time `json:"time"`
}

// LCPHinter is told which element real users see as each route's LCP;
// *Optimizer implements it, so the rewriter prioritises that element.
type LCPHinter interface {
	SetLCPHint(route, selectorOrURL string)
}

// CollectorOption sets a collaborator of a Collector.
type CollectorOption func(*Collector)

// WithCollectorLogger sets the logger; default discards.
func WithCollectorLogger(l *slog.Logger) CollectorOption {
	return func(c *Collector) { c.log = l.With("module", "browser") }
}

// WithCollectorRegisterer registers the collector's Prometheus metrics on reg.
func WithCollectorRegisterer(reg prometheus.Registerer) CollectorOption {
	return func(c *Collector) { c.reg = reg }
}

// WithCollectorClock sets the clock of windows and page-view times.
func WithCollectorClock(now func() time.Time) CollectorOption {
	return func(c *Collector) { c.now = now }
}

// WithLCPHinter closes the loop: the collector calls h.SetLCPHint when a
// route's most frequent LCP element changes.
func WithLCPHinter(h LCPHinter) CollectorOption { return func(c *Collector) { c.hinter = h } }

// Collector is the beacon endpoint of the RUM script: an http.Handler that
// validates beacons, aggregates p75 per route, device class and vital over
// an expiring window in bounded memory, and tells subscribers and the
// rewriter what it learns. It is safe for concurrent use; its zero value is
// not usable, build it with NewCollector.
type Collector struct {
	opts   CollectorOptions
	log    *slog.Logger
	reg    prometheus.Registerer
	now    func() time.Time
	hinter LCPHinter
	prom   *collectorMetrics

	mu     sync.Mutex
	epoch  int64 // index of the current half-window since the Unix epoch
	series map[seriesKey]*series
	routes map[string]*routeState
	subs   map[int]func(Metric)
	nextID int
	// totals since start, for Metrics
	accepted, dropped uint64
	dropReasons       map[string]uint64
}

type seriesKey struct {
	route  string
	device uint8
	vital  uint8
}

// series is one (route, device, vital): the current and previous halves
// of the window.
type series struct {
	epoch     int64
	cur, prev histogram
}

// routeState counts a route's LCP elements with the Misra–Gries summary:
// at most lcpCandidates kept, and any element named by more than a
// 1/(lcpCandidates+1) share of page views is among them.
type routeState struct {
	series int // live series of the route
	lcp    []lcpCount
	hinted string
}

type lcpCount struct {
	target string
	n      int
}

const lcpCandidates = 8

// NewCollector validates opts and builds a collector. It starts nothing.
func NewCollector(opts CollectorOptions, o ...CollectorOption) (*Collector, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("webopt: collector options: %w", err)
	}
	opts.fill()
	c := &Collector{
		opts:        opts,
		log:         slog.New(slog.DiscardHandler),
		now:         time.Now,
		series:      map[seriesKey]*series{},
		routes:      map[string]*routeState{},
		subs:        map[int]func(Metric){},
		dropReasons: map[string]uint64{},
	}
	for _, f := range o {
		f(c)
	}
	c.prom = newCollectorMetrics(c)
	if c.reg != nil {
		if err := c.prom.register(c.reg); err != nil {
			return nil, fmt.Errorf("webopt: register metrics: %w", err)
		}
	}
	return c, nil
}

// Path is where the collector expects beacons.
func (c *Collector) Path() string { return c.opts.Path }

// ScriptTag is the <script> element that reports to this collector.
func (c *Collector) ScriptTag() string { return ScriptTag(c.opts.Path) }

// Subscribe calls f with every vital of every accepted beacon, on the
// beacon's request goroutine: f must be quick. A panic in f is recovered
// and logged. The returned function unsubscribes; it is idempotent.
func (c *Collector) Subscribe(f func(Metric)) (unsubscribe func()) {
	c.mu.Lock()
	id := c.nextID
	c.nextID++
	c.subs[id] = f
	c.mu.Unlock()
	return func() {
		c.mu.Lock()
		delete(c.subs, id)
		c.mu.Unlock()
	}
}

// ServeHTTP accepts one beacon: 204 when stored, 400 with the reason when
// not (405 for methods other than POST). Every refusal is counted.
func (c *Collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		c.drop("method")
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "beacons are POSTed", http.StatusMethodNotAllowed)
		return
	}
	b, err := readBeacon(r, c.opts.MaxBeaconBytes)
	if err != nil {
		var be *BeaconError
		reason := "invalid"
		if errors.As(err, &be) {
			reason = be.Reason
		}
		c.drop(reason)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c.record(b, deviceClass(r.UserAgent()), r.Host)
	w.WriteHeader(http.StatusNoContent)
}

func (c *Collector) drop(reason string) {
	c.mu.Lock()
	c.dropped++
	c.dropReasons[reason]++
	c.mu.Unlock()
	c.prom.dropped.WithLabelValues(reason).Inc()
}

// record stores a valid beacon and tells subscribers and the hinter.
func (c *Collector) record(b beacon, device, host string) {
	now := c.now()
	route := c.opts.Route(b.Route)
	ms := make([]Metric, 0, len(b.Metrics))
	var hint, hintRoute string
	c.mu.Lock()
	c.rotate(now)
	rs, ok := c.routes[route]
	if !ok {
		if len(c.routes) >= c.opts.MaxRoutes && route != OverflowRoute {
			route = OverflowRoute
			c.prom.overflow.Inc()
			rs = c.routes[route]
		}
		if rs == nil {
			rs = &routeState{}
			c.routes[route] = rs
		}
	}
	di := uint8(deviceIndex(device))
	for _, m := range b.Metrics {
		vi := vitalIndex(m.Name)
		k := seriesKey{route, di, uint8(vi)}
		s := c.series[k]
		if s == nil {
			s = &series{epoch: c.epoch}
			c.series[k] = s
			rs.series++
		}
		s.cur.add(m.Value * vitals[vi].scale)
		mt := Metric{Name: m.Name, Value: m.Value, Rating: Rate(m.Name, m.Value), Route: route, Device: device, Time: now}
		if m.Name == LCP {
			mt.Element, mt.URL = m.Element, sameHostPath(m.URL, host)
			if t := mt.URL; t != "" || mt.Element != "" {
				if t == "" {
					t = mt.Element
				}
				if top := rs.countLCP(t); top != "" && top != rs.hinted && rs.count(top) >= c.opts.MinHintViews {
					rs.hinted = top
					hint, hintRoute = top, route
				}
			}
		}
		ms = append(ms, mt)
	}
	c.accepted++
	subs := make([]func(Metric), 0, len(c.subs))
	for _, f := range c.subs {
		subs = append(subs, f)
	}
	c.mu.Unlock()
	c.prom.accepted.Inc()
	for _, m := range ms {
		for _, f := range subs {
			c.deliver(f, m)
		}
	}
	if hint != "" && c.hinter != nil {
		c.log.Info("lcp element from real users", "route", hintRoute, "target", hint)
		c.hinter.SetLCPHint(hintRoute, hint)
	}
}

func (c *Collector) deliver(f func(Metric), m Metric) {
	defer func() {
		if p := recover(); p != nil {
			c.log.Error("rum subscriber panicked", "panic", fmt.Sprint(p))
		}
	}()
	f(m)
}

// countLCP adds one view of target and returns the most frequent target.
func (rs *routeState) countLCP(target string) string {
	found := false
	for i := range rs.lcp {
		if rs.lcp[i].target == target {
			rs.lcp[i].n++
			found = true
			break
		}
	}
	if !found {
		if len(rs.lcp) < lcpCandidates {
			rs.lcp = append(rs.lcp, lcpCount{target, 1})
		} else {
			kept := rs.lcp[:0]
			for _, x := range rs.lcp {
				if x.n--; x.n > 0 {
					kept = append(kept, x)
				}
			}
			rs.lcp = kept
		}
	}
	best := ""
	bn := 0
	for _, x := range rs.lcp {
		if x.n > bn || (x.n == bn && x.target < best) {
			best, bn = x.target, x.n
		}
	}
	return best
}

func (rs *routeState) count(target string) int {
	for _, x := range rs.lcp {
		if x.target == target {
			return x.n
		}
	}
	return 0
}

// rotate moves every series to the current half-window: a series one half
// behind keeps its newest half as the previous one; a series further behind,
// and a route without series, is dropped. Called with c.mu held.
func (c *Collector) rotate(now time.Time) {
	e := now.UnixNano() / int64(c.opts.Window/2)
	if e == c.epoch {
		return
	}
	c.epoch = e
	for k, s := range c.series {
		switch {
		case s.epoch == e:
		case s.epoch == e-1 && s.cur.n > 0:
			s.prev, s.cur, s.epoch = s.cur, histogram{}, e
		default:
			delete(c.series, k)
			if rs := c.routes[k.route]; rs != nil {
				rs.series--
			}
		}
	}
	for r, rs := range c.routes {
		if rs.series <= 0 {
			delete(c.routes, r)
		}
	}
}

// Vital is the p75 of one vital on one route and device class over the
// window.
type Vital struct {
	Name   string  `json:"name"`
	Route  string  `json:"route"`
	Device string  `json:"device"`
	P75    float64 `json:"p75"` // ms; CLS unitless
	Rating Rating  `json:"rating"`
	Views  int     `json:"views"` // page views that reported it
}

// Vitals returns the p75 of every (route, device, vital) with page views in
// the window, sorted by route, device and vital.
func (c *Collector) Vitals() []Vital {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rotate(c.now())
	out := make([]Vital, 0, len(c.series))
	for k, s := range c.series {
		v := vitals[k.vital]
		p := quantile(0.75, &s.cur, &s.prev) / v.scale
		out = append(out, Vital{Name: v.name, Route: k.route, Device: devices[k.device], P75: p, Rating: Rate(v.name, p), Views: int(s.cur.n + s.prev.n)})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Route != b.Route {
			return a.Route < b.Route
		}
		if a.Device != b.Device {
			return deviceIndex(a.Device) < deviceIndex(b.Device)
		}
		return vitalIndex(a.Name) < vitalIndex(b.Name)
	})
	return out
}

// LCPElement returns the element real users most often see as route's
// LCP (an image's path or URL, else a selector) and how many page views
// named it, or "" when none did.
func (c *Collector) LCPElement(route string) (string, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	rs := c.routes[route]
	if rs == nil {
		return "", 0
	}
	best, bn := "", 0
	for _, x := range rs.lcp {
		if x.n > bn || (x.n == bn && x.target < best) {
			best, bn = x.target, x.n
		}
	}
	return best, bn
}

// CollectorStats are the collector's counters since it was built.
type CollectorStats struct {
	Accepted    uint64            `json:"accepted"`
	Dropped     uint64            `json:"dropped"`
	DropReasons map[string]uint64 `json:"drop_reasons,omitempty"`
	Routes      int               `json:"routes"`
	Series      int               `json:"series"`
}

// Stats returns the counters.
func (c *Collector) Stats() CollectorStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := CollectorStats{Accepted: c.accepted, Dropped: c.dropped, Routes: len(c.routes), Series: len(c.series), DropReasons: map[string]uint64{}}
	for k, v := range c.dropReasons {
		s.DropReasons[k] = v
	}
	return s
}
