package dashboard_test

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/perfengine/perfengine"
	"github.com/perfengine/perfengine/dashboard"
)

// targetsDashboard starts an engine watching cfg.Targets, with the extra
// modules, and serves its dashboard; both stop when the test ends.
func targetsDashboard(t *testing.T, cfg perfengine.Config, extra ...perfengine.Module) (*perfengine.Engine, *perfengine.TargetsModule, *httptest.Server) {
	t.Helper()
	tm, err := perfengine.NewTargetsModule(cfg, nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	eng, err := perfengine.New(cfg, perfengine.WithRegisterer(prometheus.NewRegistry()), perfengine.WithModules(append([]perfengine.Module{tm}, extra...)...))
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Stop(context.Background()) })
	srv := httptest.NewServer(dashboard.New(eng, dashboard.Options{Targets: tm}))
	t.Cleanup(srv.Close)
	return eng, tm, srv
}

// browser is a fresh headless Chromium tab for one test, with the page's
// responses and console errors in log.
type browser struct {
	t   *testing.T
	ctx context.Context
	log *browserLog
}

// openBrowser starts Chromium at bin; every call on the tab must end
// within timeout. It closes when the test ends.
func openBrowser(t *testing.T, bin string, timeout time.Duration) *browser {
	t.Helper()
	actx, cancelA := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(bin), chromedp.UserDataDir(t.TempDir()), chromedp.Headless, chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-networking", true), chromedp.WindowSize(1280, 900))
	t.Cleanup(cancelA)
	bctx, cancelB := chromedp.NewContext(actx)
	t.Cleanup(cancelB)
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	ctx, cancel := context.WithTimeout(bctx, timeout)
	t.Cleanup(cancel)
	b := &browser{t: t, ctx: ctx, log: &browserLog{responses: map[string]int{}}}
	if err := chromedp.Listen(ctx, b.log.event); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, runtime.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	return b
}

// eval runs a JavaScript expression that yields a string.
func (b *browser) eval(expr string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		b.t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// shot saves a full-page screenshot as a test artifact. Chromium refuses
// one while a refresh has the layout at zero width for a moment, so it
// tries a few times; an artifact it cannot take is logged, not a failure.
func (b *browser) shot(name string) {
	b.t.Helper()
	var png []byte
	var err error
	for range 5 {
		if png, err = chromedp.Run(b.ctx, chromedp.FullScreenshot(100)); err == nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(b.t.ArtifactDir(), name), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// consoleErrors fails the test if the page logged an error.
func (b *browser) consoleErrors() {
	b.t.Helper()
	b.log.mu.Lock()
	defer b.log.mu.Unlock()
	if len(b.log.errors) > 0 {
		b.t.Errorf("console errors: %q", b.log.errors)
	}
}
