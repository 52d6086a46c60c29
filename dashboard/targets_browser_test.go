package dashboard_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/perfengine/perfengine"
	"github.com/perfengine/perfengine/dashboard"
	"github.com/perfengine/perfengine/metrics"
	"github.com/perfengine/perfengine/target"
)

// TestTargetsInChromium runs the daemon's dashboard over two targets (a
// service it scrapes and one it probes) with an hour of history in the
// store, and opens it in Chromium: the overview lists both with a
// sparkline of data, a target page draws its charts with the threshold
// lines, and nothing errors in the console. Screenshots of both pages go
// to the test's artifact directory (go test -artifacts keeps them).
func TestTargetsInChromium(t *testing.T) {
	bin := chromium(t)
	reg := prometheus.NewRegistry()
	dur := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "http_request_duration_seconds", Help: "Latency.", Buckets: prometheus.DefBuckets}, []string{"code"})
	reg.MustRegister(dur)
	for range 50 {
		dur.WithLabelValues("200").Observe(0.03)
	}
	shop := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer shop.Close()
	home := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer home.Close()

	cfg := perfengine.DefaultConfig()
	cfg.Store.DataDir = t.TempDir()
	cfg.MonitoringInterval = perfengine.Duration(time.Hour)
	cfg.Targets = perfengine.TargetsConfig{
		{Name: "shop", Type: "service", URL: shop.URL, Interval: perfengine.Duration(time.Second)},
		{Name: "home-page", Type: "http", URL: home.URL, Interval: perfengine.Duration(time.Second)},
	}
	tm, err := perfengine.NewTargetsModule(cfg, nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	eng, err := perfengine.New(cfg, perfengine.WithRegisterer(prometheus.NewRegistry()), perfengine.WithModules(tm))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := eng.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer eng.Stop(ctx)

	// An hour of history, a point every 30 s, with a slow stretch.
	now := time.Now()
	var samples []metrics.Sample
	for i := range 120 {
		at := now.Add(-time.Hour + time.Duration(i)*30*time.Second)
		p95 := 80.0 + float64(i%7)*5
		if i > 60 && i < 75 {
			p95 = 1400
		}
		shopLabels := map[string]string{"target": "shop"}
		samples = append(samples,
			metrics.Sample{Name: metrics.ResponseTimeMs, Value: p95, Time: at, Labels: shopLabels},
			metrics.Sample{Name: target.LatencyP50Ms, Value: p95 / 3, Time: at, Labels: shopLabels},
			metrics.Sample{Name: target.LatencyP99Ms, Value: p95 * 1.5, Time: at, Labels: shopLabels},
			metrics.Sample{Name: metrics.ThroughputRPS, Value: 200 + float64(i%11), Time: at, Labels: shopLabels},
			metrics.Sample{Name: metrics.ErrorRate, Value: 0.002, Time: at, Labels: shopLabels},
			metrics.Sample{Name: target.ProbeTTFBMs, Value: 12, Time: at, Labels: map[string]string{"target": "home-page"}},
			metrics.Sample{Name: metrics.ResponseTimeMs, Value: 15, Time: at, Labels: map[string]string{"target": "home-page"}},
		)
	}
	if err := eng.Store().WriteSamples(ctx, samples); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(dashboard.New(eng, dashboard.Options{Targets: tm}))
	defer srv.Close()

	actx, cancelA := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(bin), chromedp.UserDataDir(t.TempDir()), chromedp.Headless, chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-networking", true), chromedp.WindowSize(1280, 900))
	defer cancelA()
	bctx, cancelB := chromedp.NewContext(actx)
	defer cancelB()
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	cctx, cancel := context.WithTimeout(bctx, time.Minute)
	defer cancel()
	log := &browserLog{responses: map[string]int{}}
	if err := chromedp.Listen(cctx, log.event); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(cctx, runtime.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(cctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	eval := func(expr string) string {
		t.Helper()
		v, err := chromedp.Run(cctx, chromedp.Evaluate[string](expr))
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		return v
	}
	shot := func(name string) {
		t.Helper()
		b, err := chromedp.Run(cctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(t.ArtifactDir(), name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	if err := chromedp.Do(cctx, chromedp.Navigate(srv.URL+"/")); err != nil {
		t.Fatal(err)
	}
	rows := eval(`String(document.querySelectorAll("#targets tr").length - 1)`)
	if rows != "2" {
		t.Fatalf("the overview lists %s targets, want 2", rows)
	}
	if href := eval(`document.querySelector("#targets a[href*='home']").getAttribute("href")`); href != "targets/home-page" {
		t.Errorf("the probe's link is %q", href)
	}
	sparkPoints := eval(`Array.from(document.querySelectorAll("#targets svg.spark polyline")).map(p => p.dataset.points).join(",")`)
	if pts := strings.Split(sparkPoints, ","); len(pts) != 2 || atoi(pts[0]) < 50 || atoi(pts[1]) < 50 {
		t.Errorf("sparkline points %q, want an hour of data for both targets", sparkPoints)
	}
	shot("overview.png")

	if err := chromedp.Do(cctx, chromedp.Navigate(srv.URL+`/targets/shop?range=1h`)); err != nil {
		t.Fatal(err)
	}
	lines := eval(`Array.from(document.querySelectorAll("svg.chart polyline")).map(p => p.dataset.points).join(",")`)
	pts := strings.Split(lines, ",")
	if len(pts) < 5 || atoi(pts[1]) < 100 {
		t.Fatalf("chart lines %q, want p50, p95, p99, throughput and errors with an hour of points", lines)
	}
	if n := eval(`String(document.querySelectorAll("svg.chart line.rule.critical").length)`); atoi(n) < 1 {
		t.Errorf("%s critical threshold lines, want the latency one at least", n)
	}
	shot("target.png")
	// The page refreshes its parts in place with its own script.
	for deadline := time.Now().Add(10 * time.Second); log.status(srv.URL+"/static/target.js") == 0 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	if got := log.status(srv.URL + "/static/target.js"); got != http.StatusOK {
		t.Errorf("target.js answered %d", got)
	}

	for _, r := range []string{"15m", "24h", "7d"} {
		if err := chromedp.Do(cctx, chromedp.Navigate(srv.URL+"/targets/shop?range="+r)); err != nil {
			t.Fatal(err)
		}
		if cur := eval(`document.querySelector('nav a[aria-current="page"]').textContent`); cur != r {
			t.Errorf("range %s: the page says %q", r, cur)
		}
	}
	resp, err := http.Get(srv.URL + "/targets/nobody")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("an unknown target's page: %d", resp.StatusCode)
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	if len(log.errors) > 0 {
		t.Errorf("console errors: %q", log.errors)
	}
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
