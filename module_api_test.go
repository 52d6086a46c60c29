package perfengine

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/perfengine/perfengine/metrics"
)

func apiTestHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/products", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `[{"id":1,"name":"widget"}]`)
	})
	return mux
}

func TestAPIModuleLifecycle(t *testing.T) {
	m, err := NewAPIModuleFromConfig(APIConfig{RateLimit: 1000, RateLimitBurst: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Stop(context.Background())
	h := m.Optimizer().Middleware(apiTestHandler())
	call := func(i int) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "/api/products", nil)
		r.RemoteAddr = fmt.Sprintf("192.0.2.%d:4000", i%4)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	for i := range 30 {
		call(i)
	}
	samples, err := m.Collect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, s := range samples {
		got[s.Key()] = s.Value
	}
	for _, k := range []string{metrics.ResponseTimeMs, metrics.ThroughputRPS, metrics.ErrorRate, APICacheHitRatio, APIBytesSaved,
		`api_route_p95_ms{route="GET /api/products"}`, `api_route_hit_ratio{route="GET /api/products"}`} {
		if _, ok := got[k]; !ok {
			t.Errorf("Collect lacks %s; got %v", k, got)
		}
	}
	if got[metrics.ThroughputRPS] <= 0 {
		t.Errorf("throughput = %v", got[metrics.ThroughputRPS])
	}

	actions, err := m.Recommend(context.Background(), Snapshot{})
	if err != nil || len(actions) != 1 {
		t.Fatalf("Recommend = %+v, %v; want one cache_route action", actions, err)
	}
	a := actions[0]
	if a.Kind != ActionCacheRoute || a.Risk != RiskSafe || a.Target != "GET /api/products" || !strings.Contains(a.Description, "identical") {
		t.Errorf("action = %+v", a)
	}
	res, err := m.Apply(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	a.Params["previous_ttl"] = res.Params["previous_ttl"]
	call(0)
	if cs := call(1).Header().Get("Cache-Status"); cs != "perfengine; hit" {
		t.Errorf("after Apply: Cache-Status %q", cs)
	}
	if err := m.Undo(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	m.Optimizer().Invalidate(context.Background(), "path:/api/products")
	call(0)
	if cs := call(1).Header().Get("Cache-Status"); strings.Contains(cs, "hit") {
		t.Errorf("after Undo: Cache-Status %q, want a miss", cs)
	}
	if _, err := m.Apply(context.Background(), Action{Kind: "drop_table"}); err == nil {
		t.Error("Apply of an unknown kind succeeded")
	}
}

func TestAPIModuleCriticalTightens(t *testing.T) {
	m, err := NewAPIModuleFromConfig(APIConfig{RateLimit: 60, RateLimitBurst: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Stop(context.Background())
	m.StatusChanged(StatusCritical)
	if !m.Optimizer().Peek().Critical {
		t.Error("critical not passed to the optimizer")
	}
	m.StatusChanged(StatusHealthy)
	if m.Optimizer().Peek().Critical {
		t.Error("healthy did not restore")
	}
}

func TestAPIConfigValidate(t *testing.T) {
	tests := []struct {
		c    APIConfig
		want string
	}{
		{APIConfig{CacheRoutes: "GET /a=0s"}, "api.cacheRoutes"},
		{APIConfig{CacheRoutes: "POST /a=1s"}, "api.cacheRoutes"},
		{APIConfig{CacheRoutes: "GET /a"}, "api.cacheRoutes"},
		{APIConfig{RateLimitKey: "cookie"}, "api.rateLimitKey"},
		{APIConfig{TrustedProxies: "10.0.0.0/8, nope"}, "api.trustedProxies"},
		{APIConfig{RedisURL: "http://x"}, "api.redisURL"},
		{APIConfig{MinTTL: Duration(time.Hour), MaxTTL: Duration(time.Second)}, "api.minTTL"},
	}
	for _, tc := range tests {
		var p problems
		tc.c.validate(&p)
		if err := p.err(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("validate(%+v) = %v, want a problem with %s", tc.c, err, tc.want)
		}
	}
	ok := APIConfig{CacheRoutes: "GET /api/products=30s, GET /api/products/{id}=1m", TrustedProxies: "10.0.0.0/8", RedisURL: "redis://127.0.0.1:6379/0"}
	var p problems
	ok.validate(&p)
	if err := p.err(); err != nil {
		t.Errorf("valid config: %v", err)
	}
	routes, _ := ok.RouteTTLs()
	if routes["GET /api/products/{id}"] != time.Minute || len(routes) != 2 {
		t.Errorf("RouteTTLs = %v", routes)
	}
}
