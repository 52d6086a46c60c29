package dashboard_test

import (
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/perfengine/perfengine"
)

// TestTargetPageShowsItsRelease: a scraped service's build_info version is
// its release, and its page says how far that release is from its own
// baseline and what it is judged against.
func TestTargetPageShowsItsRelease(t *testing.T) {
	reg := prometheus.NewRegistry()
	info := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "shop_build_info", Help: "Build."}, []string{"version"})
	info.WithLabelValues("2.4.<1>").Set(1)
	reg.MustRegister(info)
	shop := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer shop.Close()

	cfg := perfengine.DefaultConfig()
	cfg.Store.DataDir = t.TempDir()
	cfg.MonitoringInterval = perfengine.Duration(100 * time.Millisecond)
	cfg.Targets = perfengine.TargetsConfig{{Name: "shop", Type: "service", URL: shop.URL, Interval: perfengine.Duration(100 * time.Millisecond)}}
	eng, _, srv := targetsDashboard(t, cfg)

	for deadline := time.Now().Add(20 * time.Second); len(eng.Summary().TargetReleases) == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no target release in the summary after 20 s of scrapes")
		}
	}
	resp, err := http.Get(srv.URL + "/targets/shop")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	page := string(b)
	i := strings.Index(page, `<section id="target-release">`)
	if resp.StatusCode != 200 || i < 0 {
		t.Fatalf("GET /targets/shop = %d, no release section:\n%.2000s", resp.StatusCode, page)
	}
	rel := eng.Summary().TargetReleases[0]
	section := page[i:min(len(page), i+800)]
	for _, want := range []string{"Release 2.4.&lt;1&gt;", "without a regression towards its baseline", html.EscapeString(rel.Rollback)} {
		if !strings.Contains(section, want) {
			t.Errorf("release section lacks %q:\n%s", want, section)
		}
	}
	if rel.Rollback == "" {
		t.Error("the target's release says nothing of a rollback")
	}
}

// TestOverviewSaysWhyAFigureIsMissing: after a service target's first
// scrape its latency and throughput are rates without a second one, and
// the overview says so rather than showing a bare "–".
func TestOverviewSaysWhyAFigureIsMissing(t *testing.T) {
	reg := prometheus.NewRegistry()
	dur := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "http_request_duration_seconds", Help: "Latency."}, []string{"code"})
	dur.WithLabelValues("200").Observe(0.02)
	reg.MustRegister(dur)
	shop := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer shop.Close()

	cfg := perfengine.DefaultConfig()
	cfg.Store.DataDir = t.TempDir()
	cfg.MonitoringInterval = perfengine.Duration(time.Hour)
	// The first scrape comes at an offset within the interval, the second
	// a whole interval after it: time enough to look in between.
	cfg.Targets = perfengine.TargetsConfig{{Name: "shop", Type: "service", URL: shop.URL, Interval: perfengine.Duration(10 * time.Second)}}
	_, tm, srv := targetsDashboard(t, cfg)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if ts := tm.Targets(); len(ts) == 1 && ts[0].Scrapes == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no first scrape of shop in 20 s: %+v", tm.Targets())
		}
	}
	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	_, row, _ := strings.Cut(string(b), `<table id="targets">`)
	if !strings.Contains(row, `title="rates need a second scrape, due at `) {
		t.Errorf("the targets table does not say why shop's figures are missing:\n%.1500s", row)
	}
}
