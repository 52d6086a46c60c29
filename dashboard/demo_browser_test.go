package dashboard_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/perfengine/perfengine/internal/demo"
)

// TestDemoOverviewInChromium opens the demo's overview, every optimizer
// on, in Chromium: the database panel with its figures, the network
// client's row for the shop and the releases table are there, the page's
// script refreshes them without an error, and a screenshot of the page
// goes to the test's artifact directory.
func TestDemoOverviewInChromium(t *testing.T) {
	bin := chromium(t)
	ctx, stop := context.WithCancel(context.Background())
	urls := make(chan [2]string, 1)
	done := make(chan error, 1)
	go func() {
		_, err := demo.Run(ctx, demo.RunOptions{Addr: "127.0.0.1:0", DashboardAddr: "127.0.0.1:0", DataDir: t.TempDir(), LoadRate: 20,
			Ready: func(demoURL, dashboardURL string) { urls <- [2]string{demoURL, dashboardURL} }})
		done <- err
	}()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("demo: %v", err)
		}
	}()
	var shop, dash string
	select {
	case u := <-urls:
		shop, dash = u[0], u[1]
	case err := <-done:
		t.Fatalf("demo ended before it was ready: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("demo not ready within a minute")
	}

	b := openBrowser(t, bin, 2*time.Minute)
	host := strings.TrimPrefix(shop, "http://")
	// The panels fill in as the modules report: the host row once the load
	// driver's client has called the shop, the figures after a collection.
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(time.Second) {
		if err := chromedp.Do(b.ctx, chromedp.Navigate(dash+"/")); err != nil {
			t.Fatal(err)
		}
		hosts := b.eval(`Array.from(document.querySelectorAll("#hosts td:first-child")).map(td => td.textContent).join(",")`)
		figures := b.eval(`String(document.querySelectorAll("#database [data-metric^='db_']").length)`)
		if strings.Contains(hosts, host) && figures != "0" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 90 s: hosts %q (want %s), %s database figures", hosts, host, figures)
		}
	}
	if rows := b.eval(`String(document.querySelectorAll("#releases tr").length - 1)`); rows != "1" {
		t.Errorf("releases table has %s rows, want the service's", rows)
	}
	if h := b.eval(`Array.from(document.querySelectorAll("section h2")).map(h => h.textContent).join("|")`); !strings.Contains(h, "Database") || !strings.Contains(h, "Memory") || !strings.Contains(h, "Network, per host") || !strings.Contains(h, "Releases") {
		t.Errorf("sections %q", h)
	}
	// Let the script refresh the figures at least once (every 5 s); it may
	// reload the page meanwhile, when a list grew.
	const updated = `(document.getElementById("updated") || {}).dateTime || ""`
	before := b.eval(updated)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if now := b.eval(updated); now != "" && now != before {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the overview did not refresh within 20 s")
		}
	}
	b.shot("demo-overview.png")
	b.consoleErrors()
}
