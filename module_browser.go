package perfengine

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/perfengine/perfengine/metrics"
	"github.com/perfengine/perfengine/webopt"
)

// Browser module sample names besides the per-vital p75s that
// webopt.SampleName gives (web_lcp_p75_ms, web_inp_p75_ms, web_cls_p75,
// web_fcp_p75_ms, web_ttfb_p75_ms, labelled route and device).
const (
	BrowserViews          = "web_views"           // page views reporting a vital in the window, per route
	BrowserBeacons        = "web_beacons"         // beacons accepted since start
	BrowserBeaconsDropped = "web_beacons_dropped" // beacons refused since start
	BrowserPagesRewritten = "web_pages_rewritten" // HTML pages rewritten since start
)

// Action kinds of the browser module.
const (
	ActionPrioritizeLCP     = "prioritize_lcp"
	ActionEnableLazyLoading = "enable_lazy_loading"
	ActionAddDimensions     = "add_dimensions"
	ActionEarlyHints        = "early_hints"
)

// BrowserModule adapts the webopt rewriter and RUM collector: it reports
// each route's p75 Core Web Vitals from real page views, flags the poor
// ones, and recommends from what was measured: prioritising the element
// real users see as the LCP, turning on lazy loading, image dimensions or
// 103 Early Hints. Each action is undoable: the rewriter's previous options
// or hint come back. It is safe for concurrent use.
type BrowserModule struct {
	rw       *webopt.Optimizer
	col      *webopt.Collector
	minViews int
	now      func() time.Time

	mu  sync.Mutex
	lab map[string]bool // finding kinds the last lab audit reported
}

var (
	_ Module   = (*BrowserModule)(nil)
	_ Undoer   = (*BrowserModule)(nil)
	_ Reporter = (*BrowserModule)(nil)
)

// NewBrowserModule wraps a rewriter and a collector the caller built.
func NewBrowserModule(rw *webopt.Optimizer, col *webopt.Collector, minViews int) *BrowserModule {
	if minViews <= 0 {
		minViews = DefaultBrowserMinViews
	}
	return &BrowserModule{rw: rw, col: col, minViews: minViews, now: time.Now, lab: map[string]bool{}}
}

// NewBrowserModuleFromConfig builds the rewriter and the collector from the
// engine's browser section, the collector script injected into every page
// unless rumDisabled. Serve the site through Middleware.
func NewBrowserModuleFromConfig(c BrowserConfig, copts []webopt.CollectorOption, opts ...webopt.Option) (*BrowserModule, error) {
	col, err := webopt.NewCollector(c.CollectorOptions(), copts...)
	if err != nil {
		return nil, fmt.Errorf("browser: %w", err)
	}
	ro := c.RewriterOptions()
	if !c.RUMDisabled {
		ro.InjectScript = webopt.Script(col.Path())
	}
	rw, err := webopt.New(ro, opts...)
	if err != nil {
		return nil, fmt.Errorf("browser: %w", err)
	}
	return NewBrowserModule(rw, col, c.MinViews), nil
}

// Rewriter returns the HTML rewriter.
func (m *BrowserModule) Rewriter() *webopt.Optimizer { return m.rw }

// Collector returns the RUM beacon endpoint.
func (m *BrowserModule) Collector() *webopt.Collector { return m.col }

// Middleware answers beacons at the collector's path and rewrites the HTML
// of everything else. Put it inside apiopt's middleware, so compression and
// the cache see the rewritten page.
func (m *BrowserModule) Middleware(next http.Handler) http.Handler {
	rewritten := m.rw.Middleware(next)
	path := m.col.Path()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == path {
			m.col.ServeHTTP(w, r)
			return
		}
		rewritten.ServeHTTP(w, r)
	})
}

// Name returns "browser".
func (*BrowserModule) Name() string { return "browser" }

// NoteLabFindings tells the module what a lab audit found (finding kinds of
// webopt/audit, such as "offscreen_image" or "unsized_image"), so its
// recommendations can rest on lab data where real users sent none yet.
func (m *BrowserModule) NoteLabFindings(kinds ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lab = map[string]bool{}
	for _, k := range kinds {
		m.lab[k] = true
	}
}

// Collect reports every (route, device) p75 in the collector's window.
func (m *BrowserModule) Collect(context.Context) ([]metrics.Sample, error) {
	t := m.now()
	var out []metrics.Sample
	views := map[string]int{}
	for _, v := range m.col.Vitals() {
		unit := metrics.UnitMilliseconds
		if v.Name == webopt.CLS {
			unit = metrics.UnitCount
		}
		out = append(out, metrics.Sample{Name: webopt.SampleName(v.Name), Value: v.P75, Unit: unit, Time: t,
			Labels: map[string]string{"route": v.Route, "device": v.Device}})
		views[v.Route] = max(views[v.Route], v.Views)
	}
	for r, n := range views {
		out = append(out, metrics.Sample{Name: BrowserViews, Value: float64(n), Unit: metrics.UnitCount, Time: t, Labels: map[string]string{"route": r}})
	}
	cs, rs := m.col.Stats(), m.rw.Stats()
	out = append(out,
		metrics.Sample{Name: BrowserBeacons, Value: float64(cs.Accepted), Unit: metrics.UnitTotal, Time: t},
		metrics.Sample{Name: BrowserBeaconsDropped, Value: float64(cs.Dropped), Unit: metrics.UnitTotal, Time: t},
		metrics.Sample{Name: BrowserPagesRewritten, Value: float64(rs.PagesRewritten), Unit: metrics.UnitTotal, Time: t},
	)
	return out, nil
}

// routeVitals groups the window's vitals by route: the worst p75 over
// device classes with at least minViews page views.
func (m *BrowserModule) routeVitals() map[string]map[string]webopt.Vital {
	out := map[string]map[string]webopt.Vital{}
	for _, v := range m.col.Vitals() {
		if v.Views < m.minViews {
			continue
		}
		r := out[v.Route]
		if r == nil {
			r = map[string]webopt.Vital{}
			out[v.Route] = r
		}
		if old, ok := r[v.Name]; !ok || v.P75 > old.P75 {
			r[v.Name] = v
		}
	}
	return out
}

func overGood(v webopt.Vital, ok bool) bool { return ok && v.Rating != webopt.RatingGood }

// Recommend proposes what the measured data calls for, never more: a
// route's LCP element when its LCP p75 is not good; lazy loading when LCP
// is not good somewhere (or a lab audit saw images below the fold fetched
// up front); image dimensions when CLS is not good (or a lab audit saw
// unsized images) and the filter is off; Early Hints when TTFB or LCP is
// not good and they are off.
func (m *BrowserModule) Recommend(context.Context, Snapshot) ([]Action, error) {
	m.mu.Lock()
	lab := m.lab
	m.mu.Unlock()
	opts := m.rw.Options()
	rv := m.routeVitals()
	routes := make([]string, 0, len(rv))
	for r := range rv {
		routes = append(routes, r)
	}
	slices.Sort(routes)
	var out []Action
	var slowLCP, badCLS, slowTTFB []string
	for _, r := range routes {
		vs := rv[r]
		if v, ok := vs[webopt.LCP]; overGood(v, ok) {
			slowLCP = append(slowLCP, fmt.Sprintf("%s %.0f ms", r, v.P75))
			if el, n := m.col.LCPElement(r); el != "" && n >= m.minViews && !opts.Images.DisablePriority {
				out = append(out, Action{
					Module: "browser", Kind: ActionPrioritizeLCP, Target: r, Risk: RiskSafe,
					Description: fmt.Sprintf("LCP p75 on %s is %.0f ms (%s); %d page views name %s as the LCP element", r, v.P75, v.Rating, n, el),
					Impact:      "the rewriter gives " + el + " fetchpriority=high and a preload, and never lazy-loads it",
					Undo:        "forget the LCP hint for " + r,
					Params:      map[string]string{"route": r, "target": el},
				})
			}
		}
		if v, ok := vs[webopt.CLS]; overGood(v, ok) {
			badCLS = append(badCLS, fmt.Sprintf("%s %.3f", r, v.P75))
		}
		if v, ok := vs[webopt.TTFB]; overGood(v, ok) {
			slowTTFB = append(slowTTFB, fmt.Sprintf("%s %.0f ms", r, v.P75))
		}
	}
	filter := func(kind string, risk Risk, why, impact, undo string) {
		out = append(out, Action{Module: "browser", Kind: kind, Target: "rewriter", Risk: risk, Description: why, Impact: impact, Undo: undo,
			Params: map[string]string{"filter": kind}})
	}
	if !opts.Lazy.Enabled && (len(slowLCP) > 0 || lab["offscreen_image"]) {
		filter(ActionEnableLazyLoading, RiskModerate,
			"images below the fold compete with the LCP: "+evidence(slowLCP, lab["offscreen_image"], "LCP p75", "the lab audit saw offscreen images fetched before any interaction"),
			fmt.Sprintf("images after the first %d get loading=lazy and decoding=async; fewer bytes before the first interaction", opts.Images.AboveFold),
			"turn lazy loading off again")
	}
	if opts.Images.DisableDimensions && (len(badCLS) > 0 || lab["unsized_image"]) {
		filter(ActionAddDimensions, RiskSafe,
			"layout shifts: "+evidence(badCLS, lab["unsized_image"], "CLS p75", "the lab audit saw images without width and height"),
			"local images without width/height get their intrinsic size, so nothing shifts when they load",
			"stop adding image dimensions")
	}
	if !opts.Hints.EarlyHints && (len(slowTTFB) > 0 || len(slowLCP) > 0) {
		filter(ActionEarlyHints, RiskModerate,
			"the browser waits for the server before it fetches anything: "+evidence(append(slowTTFB, slowLCP...), false, "TTFB/LCP p75", ""),
			"HTTP/2 clients get 103 Early Hints for the route's CSS, hero and fonts while the page is generated (Chrome ignores 103 over HTTP/1.1; some proxies mishandle it)",
			"stop sending 103 Early Hints")
	}
	return out, nil
}

func evidence(rum []string, lab bool, what, labWhat string) string {
	var parts []string
	if len(rum) > 0 {
		parts = append(parts, what+" not good on "+strings.Join(rum, ", "))
	}
	if lab {
		parts = append(parts, labWhat)
	}
	return strings.Join(parts, "; ")
}

// Apply carries out a recommendation: a hint, or one switch of the
// rewriter's options, for the requests that start from now on.
func (m *BrowserModule) Apply(_ context.Context, a Action) (Result, error) {
	switch a.Kind {
	case ActionPrioritizeLCP:
		route, target := a.Params["route"], a.Params["target"]
		if route == "" || target == "" {
			return Result{}, fmt.Errorf("browser: action %s needs a route and a target", a.ID)
		}
		m.rw.SetLCPHint(route, target)
		return Result{Message: fmt.Sprintf("%s prioritised as the LCP of %s", target, route)}, nil
	case ActionEnableLazyLoading, ActionAddDimensions, ActionEarlyHints:
		m.mu.Lock()
		defer m.mu.Unlock()
		o := m.rw.Options()
		switch a.Kind {
		case ActionEnableLazyLoading:
			o.Lazy.Enabled = true
		case ActionAddDimensions:
			o.Images.DisableDimensions = false
		case ActionEarlyHints:
			o.Hints.EarlyHints = true
		}
		if err := m.rw.Update(o); err != nil {
			return Result{}, fmt.Errorf("browser: update rewriter: %w", err)
		}
		return Result{Message: a.Kind + " on"}, nil
	}
	return Result{}, fmt.Errorf("browser: unknown action kind %q: %w", a.Kind, ErrNotFound)
}

// Undo turns the one switch Apply turned back (other option changes made
// since stay), or forgets the LCP hint.
func (m *BrowserModule) Undo(_ context.Context, a Action) error {
	switch a.Kind {
	case ActionPrioritizeLCP:
		m.rw.SetLCPHint(a.Params["route"], "")
		return nil
	case ActionEnableLazyLoading, ActionAddDimensions, ActionEarlyHints:
		m.mu.Lock()
		defer m.mu.Unlock()
		cur := m.rw.Options()
		switch a.Kind {
		case ActionEnableLazyLoading:
			cur.Lazy.Enabled = false
		case ActionAddDimensions:
			cur.Images.DisableDimensions = true
		case ActionEarlyHints:
			cur.Hints.EarlyHints = false
		}
		if err := m.rw.Update(cur); err != nil {
			return fmt.Errorf("browser: update rewriter: %w", err)
		}
		return nil
	}
	return fmt.Errorf("browser: unknown action kind %q: %w", a.Kind, ErrNotFound)
}

// Findings lists the routes whose p75 vitals are poor, and those that need
// improvement, per device class, with the page views behind them.
func (m *BrowserModule) Findings() []Finding {
	now := m.now()
	var out []Finding
	for _, v := range m.col.Vitals() {
		if v.Views < m.minViews || v.Rating == webopt.RatingGood {
			continue
		}
		sev := SeverityInfo
		if v.Rating == webopt.RatingPoor {
			sev = SeverityWarning
		}
		val := fmt.Sprintf("%.0f ms", v.P75)
		if v.Name == webopt.CLS {
			val = fmt.Sprintf("%.3f", v.P75)
		}
		out = append(out, Finding{
			Module: "browser", Kind: "web_vital_" + strings.ToLower(v.Name), Severity: sev, Time: now,
			Title:   fmt.Sprintf("%s p75 %s on %s (%s): %s", v.Name, val, v.Route, v.Device, v.Rating),
			Detail:  fmt.Sprintf("from %d real page views in the last window", v.Views),
			Subject: v.Route + " " + v.Device,
		})
	}
	return out
}

// vitals are the browser module's real-user p75s, by route, device and
// metric; nil without the module.
func (e *Engine) vitals(cfg Config) []webopt.Vital {
	if !cfg.enabled("browser") {
		return nil
	}
	ms := e.module("browser")
	if ms == nil {
		return nil
	}
	bm, ok := ms.m.(*BrowserModule)
	if !ok || bm.Collector() == nil {
		return nil
	}
	v := bm.Collector().Vitals()
	order := map[string]int{webopt.LCP: 0, webopt.INP: 1, webopt.CLS: 2, webopt.FCP: 3, webopt.TTFB: 4}
	slices.SortFunc(v, func(a, b webopt.Vital) int {
		return cmp.Or(strings.Compare(a.Route, b.Route), strings.Compare(a.Device, b.Device), cmp.Compare(order[a.Name], order[b.Name]))
	})
	return v
}
