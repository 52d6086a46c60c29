package webopt

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/perfengine/perfengine/apiopt"
)

// TestMain checks that no rewriter goroutine outlives its response.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testPage = `<!DOCTYPE html><html><head><title>t</title></head><body>` +
	`<img src="/img/hero.jpg"><img src="/img/thumb.png"><img src="/img/thumb.png"><img src="/img/thumb.png"></body></html>`

func newOpt(t testing.TB, opts Options) *Optimizer {
	t.Helper()
	if opts.Root == nil {
		opts.Root = site
	}
	o, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func get(t testing.TB, c *http.Client, method, url string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func TestPassThrough(t *testing.T) {
	big := strings.Repeat("x", 2048)
	cases := []struct {
		name, reason string
		method       string
		reqHdr       []string
		handler      func(w http.ResponseWriter)
	}{
		{"status", "status", "GET", nil, func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(404)
			io.WriteString(w, testPage)
		}},
		{"json", "content_type", "GET", nil, func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"html":"<img src=/img/hero.jpg>"}`)
		}},
		{"encoded", "encoded", "GET", nil, func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "text/html")
			w.Header().Set("Content-Encoding", "identity")
			io.WriteString(w, testPage)
		}},
		{"no-transform", "no_transform", "GET", nil, func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "text/html")
			w.Header().Set("Cache-Control", "public, no-transform")
			io.WriteString(w, testPage)
		}},
		{"head", "method", "HEAD", nil, func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, testPage)
		}},
		{"range", "range", "GET", []string{"Range", "bytes=0-10"}, func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, testPage)
		}},
		{"too large", "too_large", "GET", nil, func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "text/html")
			w.Header().Set("Content-Length", "2107")
			io.WriteString(w, testPage[:59]+big)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := newOpt(t, Options{MaxBytes: 1024})
			var want bytes.Buffer
			tc.handler(&recorder{h: http.Header{}, b: &want})
			srv := httptest.NewServer(o.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { tc.handler(w) })))
			defer srv.Close()
			_, got := get(t, srv.Client(), tc.method, srv.URL+"/", tc.reqHdr...)
			if tc.method == "HEAD" {
				want.Reset()
			}
			if !bytes.Equal(got, want.Bytes()) && tc.name != "range" {
				t.Errorf("body = %q, want it unchanged %q", got, want.Bytes())
			}
			if n := o.Stats().PassedThrough[tc.reason]; n != 1 {
				t.Errorf("PassedThrough[%q] = %d, want 1 (%v)", tc.reason, n, o.Stats().PassedThrough)
			}
			if o.Stats().PagesRewritten != 0 {
				t.Errorf("PagesRewritten = %d, want 0", o.Stats().PagesRewritten)
			}
		})
	}
}

// recorder captures what a handler writes, for the expected bodies.
type recorder struct {
	h http.Header
	b *bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.h }
func (r *recorder) Write(b []byte) (int, error) { return r.b.Write(b) }
func (r *recorder) WriteHeader(int)             {}

func TestRewriteHeaders(t *testing.T) {
	o := newOpt(t, Options{})
	srv := httptest.NewServer(o.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// No Content-Type: sniffed as text/html, like net/http would.
		w.Header().Set("Etag", `"v1"`)
		w.Header().Set("Content-Length", "999")
		w.Header().Set("Accept-Ranges", "bytes")
		io.WriteString(w, testPage+strings.Repeat(" ", 999-len(testPage)))
	})))
	defer srv.Close()
	resp, body := get(t, srv.Client(), "GET", srv.URL+"/")
	if !bytes.Contains(body, []byte(`fetchpriority="high"`)) {
		t.Errorf("sniffed HTML not rewritten: %s", body)
	}
	if et := resp.Header.Get("Etag"); et != `W/"v1"` {
		t.Errorf("Etag = %q, want the weak W/\"v1\"", et)
	}
	if resp.Header.Get("Accept-Ranges") != "" || resp.ContentLength == 999 {
		t.Errorf("Accept-Ranges %q, length %d: a rewritten body has neither the origin's ranges nor length", resp.Header.Get("Accept-Ranges"), resp.ContentLength)
	}
	if s := o.Stats(); s.PagesRewritten != 1 || s.BytesIn != 999 || s.BytesOut != uint64(len(body)) || s.ImagesSized != 4 || s.ImagesPrioritized != 1 {
		t.Errorf("Stats() = %+v", s)
	}
}

// TestStreaming: what the handler flushed reaches the client while the
// handler still runs.
func TestStreaming(t *testing.T) {
	o := newOpt(t, Options{})
	release := make(chan struct{})
	srv := httptest.NewServer(o.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, `<!DOCTYPE html><html><head></head><body><img src="/img/hero.jpg"><p>first`)
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("Flush through the rewriter: %v", err)
		}
		<-release
		io.WriteString(w, ` part</p></body></html>`)
	})))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	want := `<!DOCTYPE html><html><head></head><body><img src="/img/hero.jpg" width="800" height="450" fetchpriority="high"><p>`
	got := make([]byte, len(want))
	if _, err := io.ReadFull(br, got); err != nil {
		t.Fatalf("read flushed part: %v", err)
	}
	if string(got) != want {
		t.Errorf("flushed part = %q, want %q", got, want)
	}
	close(release)
	rest, _ := io.ReadAll(br)
	if string(rest) != `first part</p></body></html>` {
		t.Errorf("rest = %q", rest)
	}
}

// TestOversizeToken: a token beyond MaxTokenBytes turns the rest of the
// testPage into a pass-through, byte for byte.
func TestOversizeToken(t *testing.T) {
	o := newOpt(t, Options{MaxTokenBytes: 1024})
	long := `<img src="/img/thumb.png" alt="` + strings.Repeat("a", 5000) + `"><img src="/img/thumb.png">`
	in := `<!DOCTYPE html><html><head></head><body><img src="/img/hero.jpg">` + long + `</body></html>`
	_, got := serveOnce(t, o, []byte(in))
	want := strings.Replace(in, `<img src="/img/hero.jpg">`, `<img src="/img/hero.jpg" width="800" height="450" fetchpriority="high">`, 1)
	if string(got) != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if d := o.Stats().Degraded; d != 1 {
		t.Errorf("Degraded = %d, want 1", d)
	}
}

// TestHandlerPanic: the rewriter's goroutine ends with a panicking handler.
func TestHandlerPanic(t *testing.T) {
	o := newOpt(t, Options{})
	h := o.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<html><body><img src=/img/hero.jpg>")
		panic(http.ErrAbortHandler)
	}))
	func() {
		defer func() {
			if v := recover(); v != http.ErrAbortHandler {
				t.Errorf("recover() = %v, want the handler's panic", v)
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	}()
}

func TestCSPNonce(t *testing.T) {
	for _, tc := range []struct {
		csp, want string
		injected  bool
	}{
		{"", `<script>rum()</script>`, true},
		{"default-src 'self'; script-src 'self' 'nonce-abc123'", `<script nonce="abc123">rum()</script>`, true},
		{"script-src 'self' 'unsafe-inline'", `<script>rum()</script>`, true},
		{"default-src 'self'", "", false},
	} {
		o := newOpt(t, Options{InjectScript: "rum()"})
		h := o.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			if tc.csp != "" {
				w.Header().Set("Content-Security-Policy", tc.csp)
			}
			io.WriteString(w, "<!DOCTYPE html><html><head></head><body></body></html>")
		}))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		body := rec.Body.String()
		if got := strings.Contains(body, "rum()"); got != tc.injected || tc.injected && !strings.Contains(body, tc.want+"</head>") {
			t.Errorf("CSP %q: body %s, want injected=%v as %s", tc.csp, body, tc.injected, tc.want)
		}
	}
}

// TestWithAPIOpt runs the rewriter inside apiopt's real stack: the page
// apiopt compresses and caches is the rewritten one, and a cache hit
// serves it without the origin.
func TestWithAPIOpt(t *testing.T) {
	api, err := apiopt.New(apiopt.Config{Cache: apiopt.CacheConfig{Routes: map[string]time.Duration{"GET /{$}": time.Minute}}})
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	o := newOpt(t, Options{})
	var origin atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		origin.Add(1)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, testPage+strings.Repeat("<p>filler text to compress</p>", 100))
	})
	srv := httptest.NewServer(api.Middleware(o.Middleware(mux)))
	defer srv.Close()
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	for i := range 2 {
		resp, body := get(t, c, "GET", srv.URL+"/", "Accept-Encoding", "gzip")
		if ce := resp.Header.Get("Content-Encoding"); ce != "gzip" {
			t.Fatalf("request %d: Content-Encoding %q, want gzip", i, ce)
		}
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		plain, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(plain, []byte(`<img src="/img/hero.jpg" width="800" height="450" fetchpriority="high">`)) {
			t.Errorf("request %d (Cache-Status %q): not the rewritten testPage: %.200s", i, resp.Header.Get("Cache-Status"), plain)
		}
		if i == 1 && !strings.Contains(resp.Header.Get("Cache-Status"), "hit") {
			t.Errorf("second request Cache-Status = %q, want a hit", resp.Header.Get("Cache-Status"))
		}
	}
	if n := origin.Load(); n != 1 {
		t.Errorf("origin served %d times, want 1 (the second from cache)", n)
	}
	if n := o.Stats().PagesRewritten; n != 1 {
		t.Errorf("PagesRewritten = %d, want 1", n)
	}
}

// TestEarlyHints: over HTTP/2, the second request of a route gets a 103
// with what the first used, within the byte budget; over HTTP/1.1 none.
func TestEarlyHints(t *testing.T) {
	o := newOpt(t, Options{Hints: HintOptions{EarlyHints: true, EarlyHintsBudget: 20 << 10}})
	const html = `<!DOCTYPE html><html><head><link rel="stylesheet" href="/css/site.css"><style>` +
		`@font-face{font-family:Go;src:url(/fonts/go.ttf)}body{font-family:Go}</style></head>` +
		`<body><img src="/img/hero.jpg"><img src="https://cdn.example.com/a.png"></body></html>`
	h := o.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, html)
	}))
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	c := srv.Client()

	hints := func(c *http.Client) (n int, links []string, proto string) {
		ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
			Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
				if code == http.StatusEarlyHints {
					n++
					links = append(links, h.Values("Link")...)
				}
				return nil
			},
		})
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/", nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return n, links, resp.Proto
	}
	if n, _, proto := hints(c); n != 0 || proto != "HTTP/2.0" {
		t.Fatalf("first request: %d early hints over %s, want none over HTTP/2.0", n, proto)
	}
	n, links, _ := hints(c)
	want := []string{
		"</css/site.css>; rel=preload; as=style",
		"</img/hero.jpg>; rel=preload; as=image; fetchpriority=high",
		"<https://cdn.example.com>; rel=preconnect",
	}
	if n != 1 || strings.Join(links, "\n") != strings.Join(want, "\n") {
		t.Errorf("second request: %d early hints %q, want 1 with %q (the 148 KB font over the 20 KiB budget left out)", n, links, want)
	}
	if s := o.Stats().EarlyHints; s != 1 {
		t.Errorf("Stats().EarlyHints = %d, want 1", s)
	}

	h1 := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	defer h1.CloseIdleConnections()
	if n, _, proto := hints(h1); n != 0 || proto != "HTTP/1.1" {
		t.Errorf("HTTP/1.1 request: %d early hints over %s, want none over HTTP/1.1", n, proto)
	}
}

func TestValidate(t *testing.T) {
	bad := Options{
		MaxBytes: -1, MaxTokenBytes: 10, StaticPrefix: "static",
		Lazy:  LazyOptions{Threshold: 2, RootMargin: "50", ImageSelector: "img:hover", ComponentSelector: "[x"},
		Fonts: FontOptions{Fallback: "Comic Sans"}, Dir: "/nonexistent/dir",
	}
	err := bad.Validate()
	for _, field := range []string{"maxBytes", "maxTokenBytes", "staticPrefix", "lazy.threshold", "lazy.rootMargin", "lazy.imageSelector", "lazy.componentSelector", "fonts.fallback", "dir"} {
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("Validate() = %v, want it to name %s", err, field)
		}
	}
	if err := (Options{}).Validate(); err != nil {
		t.Errorf("zero Options: %v", err)
	}
	if err := (Options{Lazy: LazyOptions{RootMargin: "0px 0px 200px", ComponentSelector: "section.lazy, [data-w=x]"}}).Validate(); err != nil {
		t.Errorf("valid Options: %v", err)
	}
}

// TestUpdate: options change for new requests without a restart.
func TestUpdate(t *testing.T) {
	o := newOpt(t, Options{})
	_, b := serveOnce(t, o, []byte(testPage))
	if bytes.Contains(b, []byte(`loading="lazy"`)) {
		t.Fatalf("lazy loading without Lazy.Enabled: %s", b)
	}
	opts := o.Options()
	opts.Lazy.Enabled = true
	if err := o.Update(opts); err != nil {
		t.Fatal(err)
	}
	if _, b = serveOnce(t, o, []byte(testPage)); !bytes.Contains(b, []byte(`loading="lazy"`)) {
		t.Errorf("after Update: %s", b)
	}
	if err := o.Update(Options{Lazy: LazyOptions{Threshold: 5}}); err == nil {
		t.Error("Update accepted an invalid threshold")
	}
}

// TestRouteBound: a flood of distinct paths cannot grow the route memory.
func TestRouteBound(t *testing.T) {
	o := newOpt(t, Options{MaxRoutes: 4})
	h := o.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, testPage)
	}))
	for i := range 100 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/p/"+strings.Repeat("x", i), nil))
		o.SetLCPHint("/q/"+strings.Repeat("y", i), "img.hero")
	}
	if n, m := len(o.routes.res), len(o.routes.hint); n != 4 || m != 4 {
		t.Errorf("routes remembered: %d resources, %d hints, want 4 each", n, m)
	}
}
