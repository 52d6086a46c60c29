package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// needChromium skips without a browser on a laptop, and fails under CI.
func needChromium(t *testing.T) {
	t.Helper()
	if _, err := FindChromium(""); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set and %v", err)
		}
		t.Skipf("skipping: %v", err)
	}
}

func pngOf(w, h int) []byte {
	var b bytes.Buffer
	png.Encode(&b, image.NewGray(image.Rect(0, 0, w, h)))
	return b.Bytes()
}

// testPage has every problem the audit names: a hero without size, a
// render-blocking stylesheet, a font without font-display, and images far
// below the fold loaded eagerly.
func testPage() http.Handler {
	hero, thumb := pngOf(800, 400), pngOf(200, 200)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/":
			var imgs strings.Builder
			for i := range 4 {
				fmt.Fprintf(&imgs, `<img class="thumb" src="/t%d.png" alt="">`, i)
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, `<!DOCTYPE html><html><head><meta name="viewport" content="width=device-width">
<link rel="stylesheet" href="/site.css">
<style>@font-face { font-family: "T"; src: url("/f.ttf"); }</style></head>
<body><img class="hero" src="/hero.png" style="width:100%%" alt="hero"><h1>Hello</h1>
<div style="height:3000px"></div>%s</body></html>`, imgs.String())
		case r.URL.Path == "/site.css":
			w.Header().Set("Content-Type", "text/css")
			w.Write([]byte("body{margin:0}"))
		case r.URL.Path == "/hero.png":
			w.Header().Set("Content-Type", "image/png")
			w.Write(hero)
		case strings.HasPrefix(r.URL.Path, "/t"):
			w.Header().Set("Content-Type", "image/png")
			w.Write(thumb)
		default:
			http.NotFound(w, r)
		}
	})
}

func hasFinding(fs []Finding, kind, contains string) bool {
	for _, f := range fs {
		if f.Kind == kind && (strings.Contains(f.Element, contains) || strings.Contains(f.URL, contains)) {
			return true
		}
	}
	return false
}

func TestAuditFindsThePageProblems(t *testing.T) {
	needChromium(t)
	srv := httptest.NewServer(testPage())
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := Run(ctx, srv.URL+"/", Options{Runs: 2, Throttle: ThrottleNone, Settle: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	m := rep.Median
	if m.LCP == nil || *m.LCP <= 0 || m.FCP == nil || m.TTFB == nil || m.HeroResponseEnd == nil || m.Bytes <= 0 {
		t.Fatalf("median = %+v, want LCP, FCP, TTFB, hero responseEnd and bytes", m)
	}
	if *m.FCP > *m.LCP || *m.TTFB > *m.FCP {
		t.Errorf("TTFB %v, FCP %v, LCP %v: want TTFB <= FCP <= LCP", *m.TTFB, *m.FCP, *m.LCP)
	}
	if r := rep.Runs[0]; !strings.Contains(r.LCPElement, "img.hero") || !strings.HasSuffix(r.LCPURL, "/hero.png") {
		t.Errorf("LCP element %q url %q, want img.hero /hero.png", r.LCPElement, r.LCPURL)
	}
	for _, want := range []struct{ kind, contains string }{
		{"unsized_image", "img.hero"},
		{"render_blocking", "/site.css"},
		{"font_display", "@font-face"},
		{"offscreen_image", "/t3.png"},
	} {
		if !hasFinding(rep.Findings, want.kind, want.contains) {
			t.Errorf("no %s finding naming %s in %+v", want.kind, want.contains, rep.Findings)
		}
	}
	if hasFinding(rep.Findings, "lazy_lcp", "") || rep.LCPMissing != 0 {
		t.Errorf("unexpected lazy_lcp or missing LCP: %+v", rep)
	}
}

func TestAuditLighthouseThrottlingSlowsTheLoad(t *testing.T) {
	needChromium(t)
	srv := httptest.NewServer(testPage())
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := Run(ctx, srv.URL+"/", Options{Runs: 1, Throttle: ThrottleLighthouse, Settle: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// With 150 ms of round trip emulated, the document's first byte cannot
	// come sooner than one round trip, however fast the machine.
	if tt := rep.Median.TTFB; tt == nil || *tt < float64(LighthouseRTT/time.Millisecond) {
		t.Errorf("throttled TTFB = %v ms, want at least %v", *tt, LighthouseRTT)
	}
}

func TestAuditRefusesBadInput(t *testing.T) {
	for _, tc := range []struct {
		url  string
		opts Options
	}{
		{"ftp://x/", Options{}},
		{"/relative", Options{}},
		{"http://127.0.0.1/", Options{Runs: 51}},
		{"http://127.0.0.1/", Options{Throttle: "3g"}},
	} {
		if _, err := Run(context.Background(), tc.url, tc.opts); err == nil {
			t.Errorf("Run(%q, %+v) = nil error", tc.url, tc.opts)
		}
	}
	if _, err := FindChromium("/nonexistent/chromium"); !errors.Is(err, ErrNoBrowser) {
		t.Errorf("FindChromium(missing) = %v, want ErrNoBrowser", err)
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := Median(tc.in); got != tc.want {
			t.Errorf("Median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
