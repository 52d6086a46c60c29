package apiopt

import (
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

func TestFastHandler(t *testing.T) {
	o := newOptimizer(t, Config{Cache: CacheConfig{Routes: map[string]time.Duration{"GET /api/products": time.Minute}}})
	svc := &service{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: o.FastHandler(svc.mux())}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ln) }()
	defer func() { srv.Shutdown(); <-done }()
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	defer client.CloseIdleConnections()
	base := "http://" + ln.Addr().String()

	tests := []struct {
		method, path, ae string
		wantStatus       string
		wantEncoding     string
	}{
		{"GET", "/api/products", "", "perfengine; fwd=uri-miss; stored", ""},
		{"GET", "/api/products", "", "perfengine; hit", ""},
		{"GET", "/api/products", "br", "perfengine; hit", "br"},
		{"GET", "/api/products", "gzip;q=0.5, zstd", "perfengine; hit", "zstd"},
		{"HEAD", "/api/products", "", "perfengine; hit", ""},
		{"GET", "/api/me", "", "perfengine; fwd=uri-miss; detail=authorization", ""},
	}
	var identity []byte
	for _, tc := range tests {
		req, _ := http.NewRequest(tc.method, base+tc.path, nil)
		if tc.ae != "" {
			req.Header.Set("Accept-Encoding", tc.ae)
		}
		if tc.path == "/api/me" {
			req.Header.Set("Authorization", "Bearer carol")
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if got := resp.Header.Get("Cache-Status"); got != tc.wantStatus {
			t.Errorf("%s %s (%s): Cache-Status %q, want %q", tc.method, tc.path, tc.ae, got, tc.wantStatus)
		}
		if got := resp.Header.Get("Content-Encoding"); got != tc.wantEncoding {
			t.Errorf("%s %s (%s): Content-Encoding %q, want %q", tc.method, tc.path, tc.ae, got, tc.wantEncoding)
		}
		if tc.method == "GET" && tc.ae == "" && tc.path == "/api/products" {
			if identity != nil && string(identity) != string(body) {
				t.Errorf("hit body differs from the stored one")
			}
			identity = body
		}
		if tc.method == "HEAD" && (len(body) != 0 || resp.ContentLength != int64(len(identity))) {
			t.Errorf("HEAD: %d body bytes, Content-Length %d, want 0 and %d", len(body), resp.ContentLength, len(identity))
		}
	}
	if svc.listHits != 1 {
		t.Errorf("origin served the list %d times, want 1", svc.listHits)
	}
	if got := o.Peek().Cache.Hits; got != 4 {
		t.Errorf("cache hits = %d, want 4", got)
	}
}
