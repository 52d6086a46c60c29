package demo

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/perfengine/perfengine"
	"github.com/perfengine/perfengine/webopt"
)

// The demo's home page, as `curl /` shows it, carries what the issue's
// done-when lists: the hero prioritised, the products lazy-loaded, every
// image sized, the font swapped, and the collector script; a beacon the
// script would send comes back as a p75 from the module.
func TestWireBrowser(t *testing.T) {
	cfg := perfengine.DefaultConfig()
	cfg.Modules = perfengine.ModuleToggles{API: true, Browser: true}
	w := wiring{cfg: cfg, log: slog.New(slog.DiscardHandler)}
	if err := wire(&w); err != nil {
		t.Fatal(err)
	}
	svc, err := New(Options{DataDir: t.TempDir(), Middleware: w.middleware})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	srv := httptest.NewServer(svc.Handler())
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	page := string(body)
	imgs := regexp.MustCompile(`<img [^>]*>`).FindAllString(page, -1)
	if len(imgs) != ImageCount+1 {
		t.Fatalf("%d images on the page, want %d", len(imgs), ImageCount+1)
	}
	if !strings.Contains(imgs[0], `fetchpriority="high"`) || strings.Contains(imgs[0], "lazy") {
		t.Errorf("hero %s: want fetchpriority=high and not lazy", imgs[0])
	}
	lazy := 0
	for _, img := range imgs {
		if !strings.Contains(img, `width="`) || !strings.Contains(img, `height="`) {
			t.Errorf("image without dimensions: %s", img)
		}
		if strings.Contains(img, `loading="lazy"`) {
			lazy++
		}
	}
	if lazy < ImageCount-webopt.DefaultAboveFold {
		t.Errorf("%d lazy images, want the %d below the fold at least", lazy, ImageCount-webopt.DefaultAboveFold)
	}
	for _, want := range []string{"font-display:swap", webopt.DefaultBeaconPath} {
		if !strings.Contains(strings.ReplaceAll(page, ": ", ":"), want) {
			t.Errorf("page lacks %q", want)
		}
	}

	req, _ := http.NewRequest("POST", srv.URL+webopt.DefaultBeaconPath, strings.NewReader(`{"r":"/","m":[{"n":"LCP","v":1900,"s":"img"}]}`))
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 Safari/537.36")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("beacon answered %d", resp.StatusCode)
	}
	var bm *perfengine.BrowserModule
	for _, m := range w.modules {
		if b, ok := m.(*perfengine.BrowserModule); ok {
			bm = b
		}
	}
	samples, err := bm.Collect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range samples {
		found = found || s.Name == webopt.SampleName("LCP") && s.Labels["route"] == "/" && s.Value == 1900
	}
	if !found {
		t.Errorf("no LCP p75 of 1900 for / in %v", samples)
	}
}
