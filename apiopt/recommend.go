package apiopt

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Recommendation kinds.
const (
	// KindCacheRoute proposes caching a route that answers every caller the
	// same and shows no sign of personal data.
	KindCacheRoute = "cache_route"
	// KindTuneTTL proposes a longer or shorter TTL for a cached route.
	KindTuneTTL = "tune_ttl"
)

// Recommendation is a change the optimizer proposes. Apply it with
// TuneCache(Route, TTL).
type Recommendation struct {
	Kind    string        `json:"kind"`
	Route   string        `json:"route"`
	TTL     time.Duration `json:"ttl"`
	Current time.Duration `json:"current"`
	Reason  string        `json:"reason"`
}

// Recommendations reads the current figures and proposes cache changes.
func (o *Optimizer) Recommendations() []Recommendation {
	if o.cache == nil {
		return nil
	}
	s := o.Peek()
	var out []Recommendation
	for _, r := range s.Routes {
		if !strings.HasPrefix(r.Route, "GET ") {
			continue
		}
		if r.CacheTTL == 0 {
			if rec, ok := o.cacheRoute(r); ok {
				out = append(out, rec)
			}
			continue
		}
		if rec, ok := o.tuneTTL(r); ok {
			out = append(out, rec)
		}
	}
	return out
}

func (o *Optimizer) cacheRoute(r RouteStats) (Recommendation, bool) {
	if r.Personal || r.Samples < o.cfg.MinSamples || r.Identical < o.cfg.IdenticalRatio || r.CrossCaller < 1 {
		return Recommendation{}, false
	}
	if r.Hits+r.Refreshed > 0 {
		return Recommendation{}, false // the origin already makes it cacheable
	}
	ttl := o.suggestTTL(r.Route)
	window := o.cfg.Window.Round(time.Minute)
	return Recommendation{
		Kind: KindCacheRoute, Route: r.Route, TTL: ttl,
		Reason: fmt.Sprintf("%s: %.0f %% identical bodies over %v (%d repeat requests, %d across callers), cacheable for %v",
			r.Route, math.Floor(r.Identical*100), window, r.Samples, r.CrossCaller, ttl),
	}, true
}

// suggestTTL is half the mean time between observed changes of a route's
// bodies, within the cache's bounds, or DefaultSuggestedTTL without changes.
func (o *Optimizer) suggestTTL(route string) time.Duration {
	rs := o.routes.get(route)
	rs.mu.Lock()
	ch := rs.bodies.changes
	var mean time.Duration
	if len(ch) >= 2 {
		mean = ch[len(ch)-1].Sub(ch[0]) / time.Duration(len(ch)-1)
	}
	rs.mu.Unlock()
	ttl := DefaultSuggestedTTL
	if mean > 0 {
		ttl = (mean / 2).Round(time.Second)
	}
	lo, hi := o.cfg.Cache.MinTTL, o.cfg.Cache.MaxTTL
	if lo == 0 {
		lo = time.Second
	}
	if hi == 0 {
		hi = time.Hour
	}
	return min(max(ttl, lo), hi)
}

func (o *Optimizer) tuneTTL(r RouteStats) (Recommendation, bool) {
	rs := o.routes.get(r.Route)
	rs.mu.Lock()
	r.Refreshed -= min(rs.tuneBase[0], r.Refreshed)
	r.Changed -= min(rs.tuneBase[1], r.Changed)
	rs.mu.Unlock()
	lo, hi := o.cfg.Cache.MinTTL, o.cfg.Cache.MaxTTL
	if lo == 0 {
		lo = time.Second
	}
	if hi == 0 {
		hi = time.Hour
	}
	switch {
	case r.Refreshed >= 10 && r.Changed == 0 && r.CacheTTL*2 <= hi:
		ttl := r.CacheTTL * 2
		return Recommendation{Kind: KindTuneTTL, Route: r.Route, TTL: ttl, Current: r.CacheTTL,
			Reason: fmt.Sprintf("%s: %d revalidations, none changed; TTL %v -> %v", r.Route, r.Refreshed, r.CacheTTL, ttl)}, true
	case r.Changed >= 5 && r.Changed > r.Refreshed && r.CacheTTL/2 >= lo:
		ttl := r.CacheTTL / 2
		return Recommendation{Kind: KindTuneTTL, Route: r.Route, TTL: ttl, Current: r.CacheTTL,
			Reason: fmt.Sprintf("%s: %d of %d revalidations changed; TTL %v -> %v", r.Route, r.Changed, r.Changed+r.Refreshed, r.CacheTTL, ttl)}, true
	}
	return Recommendation{}, false
}

// SlowRoutes lists routes whose p95 over the last interval exceeded
// SlowThreshold.
func (o *Optimizer) SlowRoutes() []RouteStats {
	var out []RouteStats
	for _, r := range o.Peek().Routes {
		if r.Slow {
			out = append(out, r)
		}
	}
	return out
}
