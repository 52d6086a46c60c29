package dashboard_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/perfengine/perfengine"
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
	// An hour of history, a point every 30 s, with a slow stretch from
	// point 61 on, which a regression finding dates.
	now := time.Now()
	slowSince := now.Add(-time.Hour + 61*30*time.Second)
	eng, _, srv := targetsDashboard(t, cfg, regressionReport{perfengine.Finding{Module: "regression-report", Kind: "regression",
		Severity: perfengine.SeverityWarning, Title: "shop p95 <slower>", Time: now, Target: "shop", Since: slowSince}})
	ctx := context.Background()

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
	b := openBrowser(t, bin, time.Minute)
	if err := chromedp.Do(b.ctx, chromedp.Navigate(srv.URL+"/")); err != nil {
		t.Fatal(err)
	}
	rows := b.eval(`String(document.querySelectorAll("#targets tr").length - 1)`)
	if rows != "2" {
		t.Fatalf("the overview lists %s targets, want 2", rows)
	}
	if href := b.eval(`document.querySelector("#targets a[href*='home']").getAttribute("href")`); href != "targets/home-page" {
		t.Errorf("the probe's link is %q", href)
	}
	sparkPoints := b.eval(`Array.from(document.querySelectorAll("#targets svg.spark polyline")).map(p => p.dataset.points).join(",")`)
	if pts := strings.Split(sparkPoints, ","); len(pts) != 2 || atoi(pts[0]) < 50 || atoi(pts[1]) < 50 {
		t.Errorf("sparkline points %q, want an hour of data for both targets", sparkPoints)
	}
	b.shot("overview.png")

	if err := chromedp.Do(b.ctx, chromedp.Navigate(srv.URL+`/targets/shop?range=1h`)); err != nil {
		t.Fatal(err)
	}
	lines := b.eval(`Array.from(document.querySelectorAll("svg.chart polyline")).map(p => p.dataset.points).join(",")`)
	pts := strings.Split(lines, ",")
	if len(pts) < 5 || atoi(pts[1]) < 100 {
		t.Fatalf("chart lines %q, want p50, p95, p99, throughput and errors with an hour of points", lines)
	}
	if n := b.eval(`String(document.querySelectorAll("svg.chart line.rule.critical").length)`); atoi(n) < 1 {
		t.Errorf("%s critical threshold lines, want the latency one at least", n)
	}
	if marks := b.eval(`Array.from(document.querySelectorAll("svg.chart line.mark title")).map(t => t.textContent).join("|")`); !strings.Contains(marks, slowSince.Local().Format("15:04:05")+" change point: shop p95 <slower>") {
		t.Errorf("chart marks %q, want the regression's change point", marks)
	}
	b.shot("target.png")
	// The page refreshes its parts in place with its own script.
	for deadline := time.Now().Add(10 * time.Second); b.log.status(srv.URL+"/static/target.js") == 0 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	if got := b.log.status(srv.URL + "/static/target.js"); got != http.StatusOK {
		t.Errorf("target.js answered %d", got)
	}

	for _, r := range []string{"15m", "24h", "7d"} {
		if err := chromedp.Do(b.ctx, chromedp.Navigate(srv.URL+"/targets/shop?range="+r)); err != nil {
			t.Fatal(err)
		}
		if cur := b.eval(`document.querySelector('nav a[aria-current="page"]').textContent`); cur != r {
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
	b.consoleErrors()
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// regressionReport is a module that reports one finding, as a regression
// detector of the user's own would.
type regressionReport struct{ f perfengine.Finding }

func (regressionReport) Name() string { return "regression-report" }
func (regressionReport) Collect(context.Context) ([]metrics.Sample, error) {
	return nil, nil
}
func (regressionReport) Recommend(context.Context, perfengine.Snapshot) ([]perfengine.Action, error) {
	return nil, nil
}
func (regressionReport) Apply(context.Context, perfengine.Action) (perfengine.Result, error) {
	return perfengine.Result{}, nil
}
func (r regressionReport) Findings() []perfengine.Finding { return []perfengine.Finding{r.f} }
