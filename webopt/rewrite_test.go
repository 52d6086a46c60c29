package webopt

import (
	"bytes"

	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"testing"
)

const goldenSep = "\n----- want -----\n"

// site is the static root of the golden pages.
var site = os.DirFS(filepath.Join("testdata", "site"))

// goldenCases name the options of each testdata/rewrite/<name>.txt; runs
// is how many times the page is served (the last response is compared, so
// hints learned from the first show).
var goldenCases = map[string]struct {
	opts Options
	runs int
	lcp  string
}{
	"basic":     {opts: Options{Root: site, Lazy: LazyOptions{Enabled: true}}},
	"native":    {opts: Options{Root: site, Lazy: LazyOptions{Enabled: true, Native: true}}},
	"scripts":   {opts: Options{Root: site, Scripts: ScriptOptions{Defer: true, Critical: []string{"/js/app.js"}}}},
	"learned":   {opts: Options{Root: site, Lazy: LazyOptions{Enabled: true}}, runs: 2},
	"lcp_hint":  {opts: Options{Root: site, Lazy: LazyOptions{Enabled: true}}, lcp: "img.banner"},
	"lcp_url":   {opts: Options{Root: site, Lazy: LazyOptions{Enabled: true}}, lcp: "/img/photo.webp"},
	"fonts":     {opts: Options{Root: site}},
	"malformed": {opts: Options{Root: site, Lazy: LazyOptions{Enabled: true}}},
	"rawtext":   {opts: Options{Root: site, Lazy: LazyOptions{Enabled: true}}},
	"fragment":  {opts: Options{Root: site, Lazy: LazyOptions{Enabled: true}, InjectScript: "rum()"}},
	"inject":    {opts: Options{Root: site, Inject: []byte(`<meta name="x-injected" content="1">`), InjectScript: `console.log("</script>")`}},
	"disabled":  {opts: Options{Root: site, Images: ImageOptions{DisableDimensions: true, DisablePriority: true}, Fonts: FontOptions{DisableSwap: true, DisableFallback: true, DisablePreload: true}, Hints: HintOptions{DisablePreconnect: true, DisablePreload: true}}},
}

func serveOnce(t testing.TB, o *Optimizer, page []byte) (http.Header, []byte) {
	h := o.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page)
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "http://example.test/shop/", nil))
	return rec.Header(), rec.Body.Bytes()
}

func TestRewriteGolden(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "rewrite", "*.txt"))
	if len(files) != len(goldenCases) {
		t.Errorf("%d golden files for %d cases", len(files), len(goldenCases))
	}
	for name, tc := range goldenCases {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join("testdata", "rewrite", name+".txt")
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			in, want, _ := bytes.Cut(data, []byte(goldenSep))
			o, err := New(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if tc.lcp != "" {
				o.SetLCPHint("/shop/", tc.lcp)
			}
			var hdr http.Header
			var got []byte
			for i := 0; i < max(1, tc.runs); i++ {
				hdr, got = serveOnce(t, o, in)
			}
			var out bytes.Buffer
			for _, l := range hdr.Values("Link") {
				out.WriteString("Link: " + l + "\n")
			}
			out.WriteString("\n")
			out.Write(got)
			if *update {
				os.WriteFile(file, append(append(in, goldenSep...), out.Bytes()...), 0o644)
				return
			}
			if !bytes.Equal(out.Bytes(), want) {
				t.Errorf("rewrite of %s:\n%s\nwant:\n%s", file, out.Bytes(), want)
			}
			if text(got) != text(in) {
				t.Errorf("text content changed:\n%q\nwant\n%q", text(got), text(in))
			}
		})
	}
}

// TestRewriteChunked feeds every golden page one byte per Write and at
// random cuts: the output must not depend on how the handler wrote.
func TestRewriteChunked(t *testing.T) {
	for name, tc := range goldenCases {
		if tc.runs > 1 {
			continue
		}
		data, _ := os.ReadFile(filepath.Join("testdata", "rewrite", name+".txt"))
		in, _, _ := bytes.Cut(data, []byte(goldenSep))
		o1, _ := New(tc.opts)
		o2, _ := New(tc.opts)
		if tc.lcp != "" {
			o1.SetLCPHint("/shop/", tc.lcp)
			o2.SetLCPHint("/shop/", tc.lcp)
		}
		_, whole := serveOnce(t, o1, in)
		h := o2.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			for i := range in {
				w.Write(in[i : i+1])
				if i%97 == 0 {
					w.(http.Flusher).Flush()
				}
			}
		}))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "http://example.test/shop/", nil))
		if !bytes.Equal(rec.Body.Bytes(), whole) {
			t.Errorf("%s: byte-by-byte writes gave\n%s\nwant\n%s", name, rec.Body.Bytes(), whole)
		}
	}
}
