package dashboard_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/perfengine/perfengine"
	"github.com/perfengine/perfengine/dashboard"
)

// TestVitalsPanel: beacons from real browsers reach the status page as a
// p75 per route and device, each graded.
func TestVitalsPanel(t *testing.T) {
	cfg := perfengine.DefaultConfig()
	cfg.Store.DataDir = t.TempDir()
	cfg.MonitoringInterval = perfengine.Duration(time.Hour)
	bm, err := perfengine.NewBrowserModuleFromConfig(cfg.Browser, nil)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := perfengine.New(cfg, perfengine.WithRegisterer(prometheus.NewRegistry()), perfengine.WithModules(bm))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := eng.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer eng.Stop(ctx)
	beacons := httptest.NewServer(bm.Collector())
	defer beacons.Close()
	for _, b := range []string{
		`{"r":"/","m":[{"n":"LCP","v":1800},{"n":"CLS","v":0.02},{"n":"TTFB","v":120}]}`,
		`{"r":"/","m":[{"n":"LCP","v":2100},{"n":"CLS","v":0.05},{"n":"TTFB","v":140}]}`,
		`{"r":"/cart","m":[{"n":"LCP","v":4600},{"n":"INP","v":320}]}`,
	} {
		resp, err := http.Post(beacons.URL, "application/json", strings.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("beacon %s: %d", b, resp.StatusCode)
		}
	}
	if err := eng.UpdateConfig(eng.Config()); err != nil { // republishes the summary
		t.Fatal(err)
	}
	vs := eng.Summary().Vitals
	if len(vs) != 5 || vs[0].Route != "/" || vs[0].Name != "LCP" {
		t.Fatalf("summary vitals %+v, want LCP, CLS, TTFB of / then LCP, INP of /cart", vs)
	}
	srv := httptest.NewServer(dashboard.New(eng, dashboard.Options{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var page strings.Builder
	if _, err := io.Copy(&page, resp.Body); err != nil {
		t.Fatal(err)
	}
	body := page.String()
	i := strings.Index(body, `<table id="vitals">`)
	if i < 0 {
		t.Fatalf("no vitals panel on the page")
	}
	panel := body[i : i+strings.Index(body[i:], "</table>")]
	for _, want := range []string{`<td>/</td><td>desktop</td>`, `<span class="badge poor">4600 ms</span>`, `<span class="badge needs-improvement">320 ms</span>`, `<span class="badge good">0.050</span>`} {
		if !strings.Contains(panel, want) {
			t.Errorf("vitals panel lacks %s:\n%s", want, panel)
		}
	}
}
