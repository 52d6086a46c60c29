package apiopt

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/perfengine/perfengine/apiopt/cache"
	"github.com/perfengine/perfengine/metrics"
)

// Snapshot is the optimizer's figures: totals since it started, and rates
// and percentiles over the interval since the previous Metrics call.
type Snapshot struct {
	Time     time.Time     `json:"time"`
	Interval time.Duration `json:"interval"`
	Requests uint64        `json:"requests"`
	// RPS, P95 and ErrorRate are over the interval, across routes.
	RPS       float64       `json:"rps"`
	P95       time.Duration `json:"p95"`
	ErrorRate float64       `json:"error_rate"`

	Cache       cache.Stats `json:"cache"`
	HitRatio    float64     `json:"hit_ratio"`
	BytesSaved  uint64      `json:"bytes_saved"`
	RateLimited uint64      `json:"rate_limited"`
	Fallbacks   uint64      `json:"ratelimit_fallbacks"`
	Shed        uint64      `json:"shed"`
	Concurrency int         `json:"concurrency_limit,omitempty"`
	Critical    bool        `json:"critical"`

	Routes []RouteStats `json:"routes"`
}

// RouteStats are one route's figures.
type RouteStats struct {
	Route    string `json:"route"`
	Requests uint64 `json:"requests"` // total
	// Interval figures.
	RPS       float64       `json:"rps"`
	P50       time.Duration `json:"p50"`
	P95       time.Duration `json:"p95"`
	P99       time.Duration `json:"p99"`
	ErrorRate float64       `json:"error_rate"`
	// Totals.
	Status      [6]uint64     `json:"status_classes"` // [1]=1xx ... [5]=5xx
	Bytes       uint64        `json:"bytes"`
	Hits        uint64        `json:"hits"`
	Misses      uint64        `json:"misses"`
	Refreshed   uint64        `json:"refreshed"`
	Changed     uint64        `json:"changed"`
	HitRatio    float64       `json:"hit_ratio"`
	Limited     uint64        `json:"limited"`
	CacheTTL    time.Duration `json:"cache_ttl,omitempty"`
	Slow        bool          `json:"slow"`
	Identical   float64       `json:"identical_ratio"` // over the body window
	CrossCaller int           `json:"cross_caller"`
	Personal    bool          `json:"personal"`
	Samples     int           `json:"samples"`
}

// Metrics returns the current figures. Interval figures cover the time
// since the previous call, so one caller (the engine's loop) should own it;
// others can read Peek.
func (o *Optimizer) Metrics(_ context.Context) Snapshot { return o.snapshot(true) }

// Peek is Metrics without starting a new interval.
func (o *Optimizer) Peek() Snapshot { return o.snapshot(false) }

func (o *Optimizer) snapshot(advance bool) Snapshot {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.now()
	s := Snapshot{Time: now, Interval: now.Sub(o.lastCall), RateLimited: o.limited.Load(), Critical: o.critical.Load()}
	if o.cache != nil {
		s.Cache = o.cache.Stats()
		s.HitRatio = s.Cache.HitRatio()
		s.BytesSaved = s.Cache.BytesSaved
	}
	if o.fallbacks != nil {
		s.Fallbacks = o.fallbacks()
	}
	if o.adaptive != nil {
		s.Shed = o.adaptive.Shed()
		s.Concurrency = o.adaptive.Limit()
	}
	var ttls map[string]time.Duration
	if o.cache != nil {
		ttls = o.cache.RouteTTLs()
	}
	all := &o.merged
	all.Reset()
	var intervalReq, intervalErr uint64
	secs := s.Interval.Seconds()
	for _, rs := range o.routes.all() {
		rs.mu.Lock()
		h := &o.interval
		h.Reset()
		if advance {
			rs.window.MoveTo(h)
			rs.total.Merge(h)
		} else {
			rs.window.AddTo(h)
		}
		req := rs.requests.Load()
		n := req - rs.lastReq
		errs5 := rs.class[5].Load()
		r := RouteStats{
			Route: rs.route, Requests: req, P50: h.Quantile(0.50), P95: h.Quantile(0.95), P99: h.Quantile(0.99),
			Bytes: rs.bytes.Load(), Hits: rs.hits.Load(), Misses: rs.misses.Load(),
			Refreshed: rs.refreshed.Load(), Changed: rs.changed.Load(), Limited: rs.limited.Load(),
			CacheTTL: ttls[rs.route],
		}
		for i := range r.Status {
			r.Status[i] = rs.class[i].Load()
		}
		if secs > 0 {
			r.RPS = float64(n) / secs
		}
		if hc := h.Count(); hc > 0 {
			r.ErrorRate = float64(min(rs.lastErrDelta(errs5), uint64(hc))) / float64(hc)
			intervalErr += uint64(r.ErrorRate * float64(hc))
			intervalReq += uint64(hc)
		}
		if lookups := r.Hits + r.Misses + r.Refreshed + r.Changed; lookups > 0 {
			r.HitRatio = float64(r.Hits+r.Refreshed) / float64(lookups)
		}
		r.Slow = r.P95 > o.cfg.SlowThreshold
		b := &rs.bodies
		r.Samples = b.same + b.differ
		if r.Samples > 0 {
			r.Identical = float64(b.same) / float64(r.Samples)
		}
		r.CrossCaller, r.Personal = b.crossCaller, b.personal > 0
		if advance {
			rs.lastReq = req
			rs.lastErr = errs5
			rs.lastP95 = r.P95
		}
		all.Merge(h)
		rs.mu.Unlock()
		s.Requests += req
		s.Routes = append(s.Routes, r)
	}
	if secs > 0 {
		s.RPS = float64(intervalReq) / secs
	}
	if intervalReq > 0 {
		s.ErrorRate = float64(intervalErr) / float64(intervalReq)
	}
	s.P95 = all.Quantile(0.95)
	if advance {
		o.lastCall = now
	}
	return s
}

func (rs *routeStats) lastErrDelta(now uint64) uint64 { return now - rs.lastErr }

// collector exports the optimizer's figures at scrape time, so the request
// path pays nothing for Prometheus.
type collector struct{ o *Optimizer }

var (
	descHits       = prometheus.NewDesc("perfengine_api_cache_hits_total", "Responses served from the API cache.", nil, nil)
	descMisses     = prometheus.NewDesc("perfengine_api_cache_misses_total", "Cacheable requests that went to the origin.", nil, nil)
	descHitRatio   = prometheus.NewDesc("perfengine_api_cache_hit_ratio", "Cache hits over lookups since start, 0..1.", nil, nil)
	descSaved      = prometheus.NewDesc("perfengine_api_cache_saved_bytes_total", "Bytes not sent thanks to stored compressed codings and 304 answers.", nil, nil)
	descFromCache  = prometheus.NewDesc("perfengine_api_cache_served_bytes_total", "Identity body bytes served from the cache instead of the origin.", nil, nil)
	descEntries    = prometheus.NewDesc("perfengine_api_cache_entries", "URLs held in the cache.", nil, nil)
	descSize       = prometheus.NewDesc("perfengine_api_cache_size_bytes", "Memory held by cached entries.", nil, nil)
	descRequests   = prometheus.NewDesc("perfengine_api_requests_total", "Requests by route pattern and status class.", []string{"route", "class"}, nil)
	descRouteHits  = prometheus.NewDesc("perfengine_api_route_cache_hits_total", "Cache hits by route pattern.", []string{"route"}, nil)
	descLatency    = prometheus.NewDesc("perfengine_api_request_duration_seconds", "Request latency by route pattern.", []string{"route"}, nil)
	descLimited    = prometheus.NewDesc("perfengine_api_ratelimit_limited_total", "Requests answered 429.", nil, nil)
	descFallbacks  = prometheus.NewDesc("perfengine_api_ratelimit_fallbacks_total", "Rate-limit decisions made locally because Redis failed.", nil, nil)
	descShed       = prometheus.NewDesc("perfengine_api_shed_total", "Requests answered 503 by the adaptive concurrency limiter.", nil, nil)
	descConcurrent = prometheus.NewDesc("perfengine_api_concurrency_limit", "Current adaptive concurrency limit.", nil, nil)
)

var classes = [6]string{"", "1xx", "2xx", "3xx", "4xx", "5xx"}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descHits, descMisses, descHitRatio, descSaved, descFromCache, descEntries, descSize,
		descRequests, descRouteHits, descLatency, descLimited, descFallbacks, descShed, descConcurrent} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	o := c.o
	if o.cache != nil {
		st := o.cache.Stats()
		ch <- prometheus.MustNewConstMetric(descHits, prometheus.CounterValue, float64(st.Hits))
		ch <- prometheus.MustNewConstMetric(descMisses, prometheus.CounterValue, float64(st.Misses))
		ch <- prometheus.MustNewConstMetric(descHitRatio, prometheus.GaugeValue, st.HitRatio())
		ch <- prometheus.MustNewConstMetric(descSaved, prometheus.CounterValue, float64(st.BytesSaved))
		ch <- prometheus.MustNewConstMetric(descFromCache, prometheus.CounterValue, float64(st.BytesFromCache))
		ch <- prometheus.MustNewConstMetric(descEntries, prometheus.GaugeValue, float64(st.Entries))
		ch <- prometheus.MustNewConstMetric(descSize, prometheus.GaugeValue, float64(st.Bytes))
	}
	ch <- prometheus.MustNewConstMetric(descLimited, prometheus.CounterValue, float64(o.limited.Load()))
	if o.fallbacks != nil {
		ch <- prometheus.MustNewConstMetric(descFallbacks, prometheus.CounterValue, float64(o.fallbacks()))
	}
	if o.adaptive != nil {
		ch <- prometheus.MustNewConstMetric(descShed, prometheus.CounterValue, float64(o.adaptive.Shed()))
		ch <- prometheus.MustNewConstMetric(descConcurrent, prometheus.GaugeValue, float64(o.adaptive.Limit()))
	}
	for _, rs := range o.routes.all() {
		for i := 1; i < len(classes); i++ {
			if n := rs.class[i].Load(); n > 0 {
				ch <- prometheus.MustNewConstMetric(descRequests, prometheus.CounterValue, float64(n), rs.route, classes[i])
			}
		}
		ch <- prometheus.MustNewConstMetric(descRouteHits, prometheus.CounterValue, float64(rs.hits.Load()), rs.route)
		// A histogram, classic and native buckets both, so instances add up
		// and a rate over any window is a query away; the HDR view stays
		// the engine's.
		o.mu.Lock()
		rs.mu.Lock()
		h := &o.merged
		h.Reset()
		h.Merge(rs.total)
		rs.window.AddTo(h)
		rs.mu.Unlock()
		// Latency only ever accumulates, so an unchanged count is an
		// unchanged histogram: an idle route costs a scrape nothing.
		if rs.prom == nil || rs.promCount != h.Count() {
			m, err := h.PrometheusHistogram(descLatency, nil, metrics.DefaultNativeSchema, rs.route)
			if err != nil {
				o.mu.Unlock()
				ch <- prometheus.NewInvalidMetric(descLatency, err)
				continue
			}
			rs.prom, rs.promCount = m, h.Count()
		}
		m := rs.prom
		o.mu.Unlock()
		ch <- m
	}
}
