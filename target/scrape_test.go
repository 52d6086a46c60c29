package target

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	otelmetric "go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/perfengine/perfengine/metrics"
)

// service is a client_golang registry served by promhttp on loopback, the
// way an instrumented Go service exposes itself.
type service struct {
	reg  *prometheus.Registry
	dur  *prometheus.HistogramVec
	reqs *prometheus.CounterVec
	srv  *httptest.Server
}

func newService(t *testing.T, native bool) *service {
	t.Helper()
	s := &service{reg: prometheus.NewRegistry()}
	opts := prometheus.HistogramOpts{Name: "http_request_duration_seconds", Help: "Request latency.", Buckets: prometheus.DefBuckets}
	if native {
		opts.Buckets = nil
		opts.NativeHistogramBucketFactor = 1.1
	}
	s.dur = prometheus.NewHistogramVec(opts, []string{"handler", "code"})
	s.reqs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "http_requests_total", Help: "Requests."}, []string{"handler", "code"})
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "shop_build_info", Help: "Build."}, []string{"version"})
	build.WithLabelValues("v1.4.2").Set(1)
	s.reg.MustRegister(s.dur, s.reqs, build)
	s.srv = httptest.NewServer(promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *service) serve(handler, code string, n int, seconds float64) {
	for range n {
		s.dur.WithLabelValues(handler, code).Observe(seconds)
		s.reqs.WithLabelValues(handler, code).Inc()
	}
}

func values(ss []metrics.Sample) map[string]float64 {
	out := map[string]float64{}
	for _, s := range ss {
		out[s.Name] = s.Value
	}
	return out
}

func near(got, want, tol float64) bool { return math.Abs(got-want) <= tol }

func scrapeTwice(t *testing.T, src *serviceSource, between func()) map[string]float64 {
	t.Helper()
	t0 := time.Unix(1_800_000_000, 0)
	if _, err := src.scrape(context.Background(), t0); err != nil {
		t.Fatalf("first scrape: %v", err)
	}
	between()
	r, err := src.scrape(context.Background(), t0.Add(10*time.Second))
	if err != nil {
		t.Fatalf("second scrape: %v", err)
	}
	if r.version != "v1.4.2" {
		t.Errorf("version = %q, want v1.4.2 from shop_build_info", r.version)
	}
	return values(r.samples)
}

func TestServiceClassicHistogram(t *testing.T) {
	svc := newService(t, false)
	svc.serve("/a", "200", 10, 0.001) // before the first scrape: not counted
	src := newServiceSource(svc.srv.URL, svc.srv.Client(), 0, Series{})
	v := scrapeTwice(t, src, func() {
		svc.serve("/a", "200", 90, 0.02) // (0.01, 0.025]
		svc.serve("/b", "500", 10, 0.4)  // (0.25, 0.5]
	})
	if !near(v[metrics.ThroughputRPS], 10, 1e-9) {
		t.Errorf("throughput = %v, want 100 requests / 10 s", v[metrics.ThroughputRPS])
	}
	if !near(v[metrics.ErrorRate], 0.1, 1e-9) {
		t.Errorf("error rate = %v, want 0.1", v[metrics.ErrorRate])
	}
	// p50: rank 50 of 90 in (10, 25] ms → 10 + 15·50/90.
	if !near(v[LatencyP50Ms], 10+15*50.0/90, 1e-6) {
		t.Errorf("p50 = %v ms", v[LatencyP50Ms])
	}
	// p95: rank 95 is the 5th of 10 in (250, 500] ms.
	if !near(v[metrics.ResponseTimeMs], 250+250*5.0/10, 1e-6) {
		t.Errorf("p95 = %v ms", v[metrics.ResponseTimeMs])
	}
}

func TestServiceNativeHistogram(t *testing.T) {
	svc := newService(t, true)
	src := newServiceSource(svc.srv.URL, svc.srv.Client(), 0, Series{})
	v := scrapeTwice(t, src, func() {
		svc.serve("/a", "200", 95, 0.1)
		svc.serve("/a", "503", 5, 2)
	})
	// Factor 1.1 buckets are within 10 %: p50 near 100 ms, p99 near 2 s.
	if !near(v[LatencyP50Ms], 100, 10) || !near(v[LatencyP99Ms], 2000, 200) {
		t.Errorf("native p50 = %v ms, p99 = %v ms, want about 100 and 2000", v[LatencyP50Ms], v[LatencyP99Ms])
	}
	if !near(v[metrics.ErrorRate], 0.05, 1e-9) || !near(v[metrics.ThroughputRPS], 10, 1e-9) {
		t.Errorf("error rate %v, throughput %v", v[metrics.ErrorRate], v[metrics.ThroughputRPS])
	}
}

func TestServiceCounterReset(t *testing.T) {
	svc := newService(t, false)
	svc.serve("/a", "200", 500, 0.01)
	src := newServiceSource(svc.srv.URL, svc.srv.Client(), 0, Series{})
	v := scrapeTwice(t, src, func() {
		// The service restarts: a new registry with fewer requests than
		// the last scrape saw.
		svc.dur.Reset()
		svc.reqs.Reset()
		svc.serve("/a", "200", 30, 0.2)
	})
	if !near(v[metrics.ThroughputRPS], 3, 1e-9) {
		t.Errorf("throughput after reset = %v, want 30 requests / 10 s", v[metrics.ThroughputRPS])
	}
	if v[LatencyP50Ms] < 100 || v[LatencyP50Ms] > 250 {
		t.Errorf("p50 after reset = %v ms, want in the (100, 250] ms bucket", v[LatencyP50Ms])
	}
}

func TestServiceTextFormat(t *testing.T) {
	svc := newService(t, false)
	text := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Set("Accept", "text/plain")
		promhttp.HandlerFor(svc.reg, promhttp.HandlerOpts{}).ServeHTTP(w, r)
	}))
	defer text.Close()
	src := newServiceSource(text.URL, text.Client(), 0, Series{Match: map[string]string{"handler": "/a"}})
	v := scrapeTwice(t, src, func() {
		svc.serve("/a", "200", 50, 0.02)
		svc.serve("/b", "500", 50, 0.02) // filtered out by Match
	})
	if !near(v[metrics.ThroughputRPS], 5, 1e-9) || v[metrics.ErrorRate] != 0 {
		t.Errorf("text: throughput %v, error rate %v, want 5 and 0", v[metrics.ThroughputRPS], v[metrics.ErrorRate])
	}
}

func TestServiceOpenTelemetry(t *testing.T) {
	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo(), otelprom.WithoutTargetInfo())
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	defer mp.Shutdown(context.Background())
	h, err := mp.Meter("shop").Float64Histogram("http.server.request.duration", otelmetric.WithUnit("s"),
		otelmetric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1))
	if err != nil {
		t.Fatal(err)
	}
	record := func(n int, sec float64, code int) {
		for range n {
			h.Record(context.Background(), sec, otelmetric.WithAttributes(attribute.Int("http.response.status_code", code), attribute.String("http.route", "/p")))
		}
	}
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	record(1, 0.001, 200)
	src := newServiceSource(srv.URL, srv.Client(), 0, Series{})
	t0 := time.Unix(1_800_000_000, 0)
	if _, err := src.scrape(context.Background(), t0); err != nil {
		t.Fatal(err)
	}
	record(80, 0.03, 200)
	record(20, 0.7, 500)
	r, err := src.scrape(context.Background(), t0.Add(20*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	v := values(r.samples)
	if !near(v[metrics.ThroughputRPS], 5, 1e-9) || !near(v[metrics.ErrorRate], 0.2, 1e-9) {
		t.Errorf("otel: throughput %v, error rate %v, want 5 and 0.2", v[metrics.ThroughputRPS], v[metrics.ErrorRate])
	}
	if !near(v[metrics.ResponseTimeMs], 500+500*15.0/20, 1e-6) {
		t.Errorf("otel p95 = %v ms, want 875 (rank 95 in (0.5, 1] s)", v[metrics.ResponseTimeMs])
	}
}

func TestServiceWithoutRequestSeries(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("up 1\n"))
	}))
	defer srv.Close()
	r, err := newServiceSource(srv.URL, srv.Client(), 0, Series{}).scrape(context.Background(), time.Now())
	if err != nil || len(r.warnings) != 1 || !strings.Contains(r.warnings[0], "http_requests_total") {
		t.Errorf("scrape = %v, warnings %q; want up with a warning naming the series", err, r.warnings)
	}
}

func TestServiceBadExpositions(t *testing.T) {
	tests := []struct {
		name string
		body string
		ct   string
		max  int64
		want error
	}{
		{"malformed", "http_requests_total{code=\"200\" 5\n", "text/plain; version=0.0.4", 0, ErrMalformed},
		{"too large", strings.Repeat("# HELP x y\n", 1000), "text/plain; version=0.0.4", 1000, ErrTooLarge},
		{"garbage protobuf", "\xff\xff\xff\xff\x0f", "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited", 0, ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tc.ct)
				w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			src := newServiceSource(srv.URL, srv.Client(), tc.max, Series{})
			if _, err := src.scrape(context.Background(), time.Now()); !errors.Is(err, tc.want) {
				t.Errorf("scrape = %v, want %v", err, tc.want)
			}
		})
	}
}
