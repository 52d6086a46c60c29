package audit

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/perfengine/perfengine/webopt"
)

// A real Chromium loading a page through the rewriter runs the injected
// RUM script, and leaving the page sends the beacon the collector turns
// into p75 vitals for the route.
func TestChromiumSendsRUMBeacons(t *testing.T) {
	needChromium(t)
	bin, _ := FindChromium("")
	col, err := webopt.NewCollector(webopt.CollectorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rw, err := webopt.New(webopt.Options{InjectScript: webopt.Script(col.Path())})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(col.Path(), col)
	mux.Handle("/", rw.Middleware(testPage()))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	dir := t.TempDir()
	actx, cancelA := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(bin), chromedp.UserDataDir(dir), chromedp.Headless, chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-networking", true), chromedp.WindowSize(viewportW, viewportH))
	defer cancelA()
	bctx, cancelB := chromedp.NewContext(actx)
	defer cancelB()
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	ctx, cancel := context.WithTimeout(bctx, time.Minute)
	defer cancel()
	// Load, let LCP settle, then leave: pagehide sends the beacon.
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/"), chromedp.Sleep(time.Second), chromedp.Navigate("about:blank")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && col.Stats().Accepted == 0 {
		time.Sleep(50 * time.Millisecond)
	}
	got := map[string]webopt.Vital{}
	for _, v := range col.Vitals() {
		if v.Route == "/" {
			got[v.Name] = v
		}
	}
	for _, name := range []string{"LCP", "FCP", "TTFB"} {
		if v, ok := got[name]; !ok || v.P75 <= 0 || v.Views != 1 {
			t.Errorf("%s for / = %+v (present %v), want a positive p75 from one view; stats %+v", name, v, ok, col.Stats())
		}
	}
	if el, _ := col.LCPElement("/"); el == "" {
		t.Errorf("no LCP element attributed for /")
	}
}
