package apiopt_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/http/httputil"
	"net/textproto"
	"net/url"
	"strings"
	"testing"

	"github.com/perfengine/perfengine/apiopt"
)

// TestEarlyHintsThroughEveryLayer runs the optimizer as a reverse proxy, the
// way a conformance suite does, with the cache, compression, the rate
// limiter and adaptive concurrency on: a 103 the origin sends reaches the
// client with its Link fields, and the final response is the cached,
// compressed one.
func TestEarlyHintsThroughEveryLayer(t *testing.T) {
	page := "<html>" + strings.Repeat("<p>hello</p>", 200) + "</html>"
	originSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Link", "</app.css>; rel=preload; as=style")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, page)
	}))
	defer originSrv.Close()
	u, _ := url.Parse(originSrv.URL)
	opt, err := apiopt.New(apiopt.Config{
		RateLimit:   apiopt.RateLimitConfig{Rate: 1000},
		Concurrency: apiopt.ConcurrencyConfig{Enabled: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer opt.Close()
	front := httptest.NewServer(opt.Middleware(httputil.NewSingleHostReverseProxy(u)))
	defer front.Close()

	get := func() (hints []textproto.MIMEHeader, resp *http.Response) {
		ctx := httptrace.WithClientTrace(t.Context(), &httptrace.ClientTrace{
			Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
				if code == http.StatusEarlyHints {
					hints = append(hints, h)
				}
				return nil
			},
		})
		req, _ := http.NewRequestWithContext(ctx, "GET", front.URL+"/", nil)
		req.Header.Set("Accept-Encoding", "gzip")
		resp, err := front.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return hints, resp
	}
	hints, resp := get()
	if len(hints) != 1 || hints[0].Get("Link") != "</app.css>; rel=preload; as=style" {
		t.Fatalf("103 responses at the client = %v, want one with the origin's Link", hints)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" {
		t.Errorf("first response %d, Content-Encoding %q; want 200, gzip", resp.StatusCode, resp.Header.Get("Content-Encoding"))
	}
	// The proxy streamed the origin's chunked answer (it flushes each
	// chunk); the cache stored it all the same, and the hint was not stored.
	hints, resp = get()
	if len(hints) != 0 || resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" || !strings.HasPrefix(resp.Header.Get("Cache-Status"), "perfengine; hit") {
		t.Errorf("second response: %d 103s, status %d, Content-Encoding %q, Cache-Status %q; want 0, 200, gzip, a hit",
			len(hints), resp.StatusCode, resp.Header.Get("Content-Encoding"), resp.Header.Get("Cache-Status"))
	}
}
