package dashboard_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/perfengine/perfengine"
	"github.com/perfengine/perfengine/dashboard"
)

// chromium finds Debian's browser; CI must have it (its setup installs
// it), elsewhere the test is skipped without one.
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("CHROMIUM"), "/usr/bin/chromium", "chromium"} {
		if p == "" {
			continue
		}
		if bin, err := exec.LookPath(p); err == nil {
			return bin
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("CI is set and no chromium was found")
	}
	t.Skip("skipping: no chromium")
	return ""
}

// browserLog is what the page did: every response and every console
// error or uncaught exception.
type browserLog struct {
	mu        sync.Mutex
	responses map[string]int // URL path -> last status
	errors    []string
}

func (l *browserLog) event(ev any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventResponseReceived:
		if i := strings.Index(ev.Response.URL, "/perf"); i >= 0 {
			l.responses[strings.SplitN(ev.Response.URL[i:], "?", 2)[0]] = int(ev.Response.Status)
		} else {
			l.responses[ev.Response.URL] = int(ev.Response.Status)
		}
	case *runtime.EventExceptionThrown:
		l.errors = append(l.errors, ev.ExceptionDetails.Text)
	case *runtime.EventConsoleAPICalled:
		if ev.Type == "error" {
			l.errors = append(l.errors, "console.error")
		}
	}
}

func (l *browserLog) status(path string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.responses[path]
}

// TestDashboardUnderPrefixInChromium mounts the dashboard the way the
// README shows (http.StripPrefix("/perf", ...)) and opens it in Chromium:
// the stylesheet, the script and the script's summary poll all load under
// the prefix, a wrong token is refused, the right one approves the pending
// action and lands back on the page, and nothing errors in the console.
func TestDashboardUnderPrefixInChromium(t *testing.T) {
	bin := chromium(t)
	f := newFixture(t, dashboard.Options{Token: token}, func(c *perfengine.Config) { c.Server.Token = token })
	mux := http.NewServeMux()
	mux.Handle("/perf/", http.StripPrefix("/perf", dashboard.New(f.eng, dashboard.Options{Token: token})))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	b := openBrowser(t, bin, time.Minute)
	ctx, log, js := b.ctx, b.log, b.eval
	// until waits for a page expression to be "yes" (across navigations).
	until := func(what, expr string) {
		t.Helper()
		for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
			if err == nil && v == "yes" {
				return
			}
			if time.Now().After(deadline) {
				loc, _ := chromedp.Run(ctx, chromedp.Location())
				t.Fatalf("not within 15s: %s (last: %q, %v; at %s, knob applied %d)", what, v, err, loc, f.knob.applied.Load())
			}
		}
	}
	approve := `document.querySelector('form[action$="/` + f.action + `/approve"]')`
	submit := func(tok string) {
		t.Helper()
		js(`(() => { const f = ` + approve + `; f.querySelector('input[name="token"]').value = "` + tok + `";` +
			` f.querySelector('input[name="reason"]').value = "from the browser"; f.requestSubmit(); return "ok"; })()`)
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/perf/")); err != nil {
		t.Fatal(err)
	}
	until("the approve form on the page", ``+approve+` ? "yes" : "no"`)
	for deadline := time.Now().Add(10 * time.Second); log.status("/perf/api/v1/summary") == 0 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	for _, p := range []string{"/perf/", "/perf/static/style.css", "/perf/static/app.js", "/perf/api/v1/summary"} {
		if got := log.status(p); got != http.StatusOK {
			t.Errorf("%s answered %d in the browser, want 200", p, got)
		}
	}
	if st := js(`document.getElementById("status").textContent`); st == "" {
		t.Error("the status badge is empty")
	}

	submit("wrong-token")
	until("the refusal page", `location.pathname.endsWith("/approve") && document.readyState === "complete" ? "yes" : "no"`)
	if n := f.knob.applied.Load(); n != 0 {
		t.Fatalf("a wrong token applied the action (%d times)", n)
	}
	if got := log.status("/perf/api/v1/actions/" + f.action + "/approve"); got != http.StatusUnauthorized && got != http.StatusForbidden {
		t.Errorf("a wrong token answered %d, want 401 or 403", got)
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/perf/")); err != nil {
		t.Fatal(err)
	}
	until("the approve form again", `(`+approve+` && document.readyState === "complete") ? "yes" : "no"`)
	submit(token)
	until("back on the dashboard", `location.pathname === "/perf/" && document.readyState === "complete" && !`+approve+` ? "yes" : "no"`)
	if n := f.knob.applied.Load(); n != 1 {
		t.Errorf("the right token applied the action %d times, want 1", n)
	}
	b.consoleErrors()
}
