package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/perfengine/perfengine"
	"github.com/perfengine/perfengine/dashboard"
	"github.com/perfengine/perfengine/metrics"
)

// TestServeWatchesTargets runs the daemon against two real services on
// loopback, an instrumented one it scrapes and one it probes, then stops
// the probed one: that target turns to up 0 with a finding while the other
// keeps being judged, and the scraped series reach /api/v1/series.
func TestServeWatchesTargets(t *testing.T) {
	reg := prometheus.NewRegistry()
	dur := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "http_request_duration_seconds", Help: "Latency.", Buckets: prometheus.DefBuckets}, []string{"code"})
	reqs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "http_requests_total", Help: "Requests."}, []string{"code"})
	reg.MustRegister(dur, reqs)
	shop := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer shop.Close()
	// The shop serves 20 requests of 30 ms between any two scrapes.
	traffic := time.NewTicker(20 * time.Millisecond)
	defer traffic.Stop()
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case <-done:
				return
			case <-traffic.C:
				for range 20 {
					dur.WithLabelValues("200").Observe(0.03)
					reqs.WithLabelValues("200").Inc()
				}
			}
		}
	}()
	probed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") }))
	defer probed.Close()

	dir := t.TempDir()
	cfg := filepath.Join(dir, "perfengine.yaml")
	yaml := fmt.Sprintf(`monitoringInterval: 200ms
targets:
  - {name: shop, type: service, url: '%s/metrics', interval: 100ms, timeout: 100ms}
  - {name: probe, type: http, url: '%s/', interval: 100ms, timeout: 100ms}
`, shop.URL, probed.URL)
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	s := start(t, []string{"dashboard"}, "serve", "--config", cfg, "--addr", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "store"))
	c := client(t)
	base := s.urls["dashboard"]
	targets := func() map[string]perfengine.TargetSummary {
		_, body := get(t, c, base+"/api/v1/targets")
		out := map[string]perfengine.TargetSummary{}
		for _, ts := range decodeJSON[dashboard.TargetsBody](t, body).Targets {
			out[ts.Name] = ts
		}
		return out
	}
	waitUntil := func(what string, ok func(map[string]perfengine.TargetSummary) bool) map[string]perfengine.TargetSummary {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			ts := targets()
			if ok(ts) {
				return ts
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: targets %+v", what, ts)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitUntil("both up", func(ts map[string]perfengine.TargetSummary) bool {
		return ts["shop"].Up && ts["shop"].Scrapes >= 3 && ts["probe"].Up
	})

	probed.Close()
	before := targets()["shop"].Scrapes
	ts := waitUntil("probe down, shop still scraped", func(ts map[string]perfengine.TargetSummary) bool {
		return !ts["probe"].Up && ts["probe"].Scrapes > 0 && ts["shop"].Up && ts["shop"].Scrapes >= before+2
	})
	if ts["probe"].Status != perfengine.StatusCritical || ts["shop"].Status != perfengine.StatusHealthy {
		t.Errorf("statuses probe %s shop %s, want critical and healthy", ts["probe"].Status, ts["shop"].Status)
	}
	_, body := get(t, c, base+"/api/v1/targets/probe/summary")
	tb := decodeJSON[dashboard.TargetBody](t, body)
	if !slices.ContainsFunc(tb.Findings, func(f perfengine.Finding) bool { return f.Kind == perfengine.FindingTargetDown }) {
		t.Errorf("probe summary findings %+v, want target_down", tb.Findings)
	}

	// The engine stores what it collected at each cycle.
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, body := get(t, c, base+"/api/v1/series?name="+metrics.ThroughputRPS+"&target=shop&from=-5m")
		sb := decodeJSON[dashboard.SeriesBody](t, body)
		if len(sb.Series) == 1 && len(sb.Series[0].Points) > 0 {
			last := sb.Series[0].Points[len(sb.Series[0].Points)-1][1]
			// 20 requests per 20 ms tick is at most 1000 req/s; the ticker
			// may fall behind on a loaded machine, never ahead.
			if last <= 0 || last > 1100 {
				t.Errorf("shop throughput %v req/s, want a positive rate up to 1000", last)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no stored throughput for shop: %s", strings.TrimSpace(body))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
