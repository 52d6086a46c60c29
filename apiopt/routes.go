package apiopt

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/perfengine/perfengine/apiopt/cache"
	"github.com/perfengine/perfengine/metrics"
	"github.com/prometheus/client_golang/prometheus"
)

// maxRoutes bounds the routes tracked; later ones count as "other", so a
// handler that invents patterns cannot grow memory or metric labels.
const maxRoutes = 512

// Labels for requests without a route.
const (
	RouteUnmatched = "unmatched"
	RouteOther     = "other"
)

type routeTable struct {
	m sync.Map // string -> *routeStats
	n atomic.Int32
}

func (t *routeTable) init() {}

func (t *routeTable) get(route string) *routeStats {
	if route == "" {
		route = RouteUnmatched
	}
	if v, ok := t.m.Load(route); ok {
		return v.(*routeStats)
	}
	if t.n.Load() >= maxRoutes {
		route = RouteOther
		if v, ok := t.m.Load(route); ok {
			return v.(*routeStats)
		}
	}
	v, loaded := t.m.LoadOrStore(route, newRouteStats(route))
	if !loaded {
		t.n.Add(1)
	}
	return v.(*routeStats)
}

func (t *routeTable) all() []*routeStats {
	var out []*routeStats
	t.m.Range(func(_, v any) bool {
		out = append(out, v.(*routeStats))
		return true
	})
	slices.SortFunc(out, func(a, b *routeStats) int { return strings.Compare(a.route, b.route) })
	return out
}

// routeStats are one route's counters. Counters are atomics; latency goes
// to a striped HDR recorder; the body tracker takes a mutex on misses only.
type routeStats struct {
	route                            string
	requests                         atomic.Uint64
	class                            [6]atomic.Uint64 // index status/100; 0 for unknown
	bytes                            atomic.Uint64
	hits, misses, refreshed, changed atomic.Uint64
	limited                          atomic.Uint64

	window *metrics.LatencyRecorder // since the last Metrics call

	// prom is the latency histogram last exported to Prometheus and
	// promCount its sample count; both guarded by the optimizer's mu.
	prom      prometheus.Metric
	promCount int64

	mu      sync.Mutex
	total   *metrics.Histogram // everything before the current window
	lastP95 time.Duration
	lastReq uint64
	lastErr uint64
	// tuneBase holds refreshed and changed at the last TuneCache, so a
	// proposal judges only what happened under the current TTL.
	tuneBase [2]uint64
	bodies   bodyTracker
}

// routeDigits is the precision of per-route latency histograms: quantiles
// within 1 % are plenty for a route's p95, and at 2 digits a histogram
// takes ~27 KB where 3 take ~190 KB, per route and per recorder stripe.
const routeDigits = 2

func newRouteStats(route string) *routeStats {
	return &routeStats{route: route, window: metrics.NewLatencyRecorderDigits(routeDigits), total: metrics.NewHistogramDigits(routeDigits)}
}

// record is called once per request, after the response.
func (o *Optimizer) record(sw *statsWriter, r *http.Request, start time.Time) {
	rs := o.routes.get(sw.route)
	rs.requests.Add(1)
	code := sw.code
	if code == 0 {
		code = http.StatusOK
	}
	if c := code / 100; c >= 1 && c <= 5 {
		rs.class[c].Add(1)
	}
	rs.bytes.Add(uint64(sw.bytes))
	switch sw.outcome {
	case cache.Hit:
		rs.hits.Add(1)
	case cache.Miss:
		rs.misses.Add(1)
	case cache.Refreshed:
		rs.refreshed.Add(1)
	case cache.Changed:
		rs.changed.Add(1)
	}
	if sw.limited {
		rs.limited.Add(1)
	}
	rs.window.Record(o.now().Sub(start))
	if sw.hashing && code == http.StatusOK && sw.outcome != cache.Hit {
		rs.observeBody(o, r, sw)
	}
}

// bodyTracker remembers, per URL, the last body hash and who asked, to
// prove a route answers everyone the same.
type bodyTracker struct {
	since        time.Time
	urls         map[string]*urlSeen
	same, differ int
	crossCaller  int // identical bodies seen by a different caller
	personal     int // responses or requests that identify a user
	changes      []time.Time
}

type urlSeen struct {
	hash    uint64
	callers [4]string
	n       int
}

const maxTrackedURLs = 256

func (rs *routeStats) observeBody(o *Optimizer, r *http.Request, sw *statsWriter) {
	now := o.now()
	personal := isPersonal(r, sw.Header())
	caller := clientHost(r.RemoteAddr)
	url := r.URL.RequestURI()
	rs.mu.Lock()
	defer rs.mu.Unlock()
	b := &rs.bodies
	if b.urls == nil || now.Sub(b.since) > o.cfg.Window {
		*b = bodyTracker{since: now, urls: map[string]*urlSeen{}}
	}
	if personal {
		b.personal++
	}
	u := b.urls[url]
	if u == nil {
		if len(b.urls) >= maxTrackedURLs {
			return
		}
		u = &urlSeen{hash: sw.hash}
		b.urls[url] = u
		u.add(caller)
		return
	}
	if u.hash == sw.hash {
		b.same++
		if !u.has(caller) {
			b.crossCaller++
		}
	} else {
		b.differ++
		b.changes = append(b.changes, now)
		if len(b.changes) > 64 {
			b.changes = b.changes[1:]
		}
		u.hash = sw.hash
	}
	u.add(caller)
}

func (u *urlSeen) has(c string) bool {
	for i := range min(u.n, len(u.callers)) {
		if u.callers[i] == c {
			return true
		}
	}
	return false
}

func (u *urlSeen) add(c string) {
	if u.has(c) {
		return
	}
	u.callers[u.n%len(u.callers)] = c
	u.n++
}

// isPersonal reports signs that a response belongs to one user.
func isPersonal(r *http.Request, h http.Header) bool {
	if len(r.Header["Authorization"]) != 0 || len(h["Set-Cookie"]) != 0 {
		return true
	}
	for _, v := range h["Cache-Control"] {
		lv := strings.ToLower(v)
		if strings.Contains(lv, "private") || strings.Contains(lv, "no-store") {
			return true
		}
	}
	for _, v := range h["Vary"] {
		lv := strings.ToLower(v)
		if strings.Contains(lv, "cookie") || strings.Contains(lv, "authorization") || strings.Contains(lv, "*") {
			return true
		}
	}
	return false
}

func clientHost(addr string) string {
	if i := strings.LastIndexByte(addr, ':'); i > 0 {
		return addr[:i]
	}
	return addr
}
