package compress

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	brrr "github.com/molecule-man/go-brrr"
)

var all = [numEncodings]bool{true, true, true, true}

func TestNegotiate(t *testing.T) {
	tests := []struct {
		ae   []string
		want Encoding
	}{
		{nil, Identity},
		{[]string{""}, Identity},
		{[]string{"gzip"}, Gzip},
		{[]string{"gzip, deflate, br"}, Brotli},
		{[]string{"gzip, deflate, br, zstd"}, Brotli},
		{[]string{"zstd, gzip"}, Zstd},
		{[]string{"br;q=0.5, gzip;q=0.9"}, Gzip},
		{[]string{"br;q=0, gzip;q=0"}, Identity},
		{[]string{"br;q=1.0, zstd;q=1"}, Brotli},
		{[]string{"br;q=0.999, zstd"}, Zstd},
		{[]string{"*"}, Identity},
		{[]string{"BR"}, Brotli},
		{[]string{"gzip;q=abc"}, Identity},
		{[]string{"gzip;q=1.5"}, Identity},
		{[]string{"x-gzip"}, Gzip},
		{[]string{"gzip", "br;q=0.1"}, Gzip},
		{[]string{"gzip ; q=0.3 , zstd ; q=0.2"}, Gzip},
	}
	for _, tc := range tests {
		h := http.Header{}
		if tc.ae != nil {
			h["Accept-Encoding"] = tc.ae
		}
		if got := Negotiate(h, all); got != tc.want {
			t.Errorf("Negotiate(%q) = %v, want %v", tc.ae, got, tc.want)
		}
	}
	h := http.Header{"Accept-Encoding": {"br, gzip;q=0.5"}}
	if got := Negotiate(h, [numEncodings]bool{true, true, true, false}); got != Gzip {
		t.Errorf("with brotli off: %v, want gzip", got)
	}
}

func decode(t *testing.T, enc string, b []byte) string {
	t.Helper()
	var r io.Reader
	switch enc {
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	case "zstd":
		zr, err := zstd.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		r = zr
	case "br":
		r = brrr.NewReader(bytes.NewReader(b))
	default:
		return string(b)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decode %s: %v", enc, err)
	}
	return string(out)
}

func TestMiddleware(t *testing.T) {
	c, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat(`{"id":1,"name":"widget"},`, 100)
	tests := []struct {
		name     string
		ae       string
		ct       string
		body     string
		reqExtra []string
		respCE   string
		want     string
	}{
		{name: "brotli", ae: "br", ct: "application/json", body: big, want: "br"},
		{name: "zstd", ae: "zstd", ct: "application/json", body: big, want: "zstd"},
		{name: "gzip", ae: "gzip", ct: "application/json", body: big, want: "gzip"},
		{name: "q-values", ae: "br;q=0.2, gzip;q=0.8", ct: "application/json", body: big, want: "gzip"},
		{name: "small", ae: "br", ct: "application/json", body: "{}", want: ""},
		{name: "small gzip", ae: "gzip", ct: "application/json", body: "{}", want: ""},
		{name: "image", ae: "br", ct: "image/png", body: big, want: ""},
		{name: "no-compression header", ae: "br", ct: "text/plain", body: big, reqExtra: []string{NoCompressionHeader, "true"}, want: ""},
		{name: "already encoded br", ae: "br", ct: "text/plain", body: big, respCE: "identity", want: "identity"},
		{name: "already encoded gzip", ae: "gzip", ct: "text/plain", body: big, respCE: "identity", want: "identity"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := c.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tc.ct)
				if tc.respCE != "" {
					w.Header().Set("Content-Encoding", tc.respCE)
				}
				io.WriteString(w, tc.body[:len(tc.body)/2])
				io.WriteString(w, tc.body[len(tc.body)/2:])
			}))
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("Accept-Encoding", tc.ae)
			for i := 0; i+1 < len(tc.reqExtra); i += 2 {
				r.Header.Set(tc.reqExtra[i], tc.reqExtra[i+1])
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			got := w.Header().Get("Content-Encoding")
			if got != tc.want {
				t.Fatalf("Content-Encoding = %q, want %q", got, tc.want)
			}
			if body := decode(t, got, w.Body.Bytes()); body != tc.body {
				t.Errorf("decoded body differs: %d bytes, want %d", len(body), len(tc.body))
			}
			if tc.reqExtra == nil && !strings.Contains(w.Header().Get("Vary"), "Accept-Encoding") && tc.respCE == "" {
				t.Errorf("Vary = %q", w.Header().Get("Vary"))
			}
		})
	}
}

// TestStreamingBrotli checks that flushed events reach the client before
// the handler ends, as server-sent events need.
func TestStreamingBrotli(t *testing.T) {
	c, _ := New(Config{MinSize: 1})
	next := make(chan struct{})
	srv := httptest.NewServer(c.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		<-next
		io.WriteString(w, "data: second\n\n")
	})))
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("Accept-Encoding", "br")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Encoding") != "br" {
		t.Fatalf("Content-Encoding = %q", resp.Header.Get("Content-Encoding"))
	}
	br := brrr.NewReader(resp.Body)
	buf := make([]byte, len("data: first\n\n"))
	if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "data: first\n\n" {
		t.Fatalf("first event: %q, %v", buf, err)
	}
	close(next)
	rest, err := io.ReadAll(br)
	if err != nil || string(rest) != "data: second\n\n" {
		t.Errorf("second event: %q, %v", rest, err)
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	c, _ := New(Config{})
	body := []byte(strings.Repeat("hello world ", 500))
	for _, e := range Encodings {
		out, err := c.Encode(e, body)
		if err != nil {
			t.Fatalf("Encode(%v): %v", e, err)
		}
		if got := decode(t, e.String(), out); got != string(body) {
			t.Errorf("Encode(%v) round trip differs", e)
		}
		if len(out) >= len(body) {
			t.Errorf("Encode(%v): %d bytes, not smaller than %d", e, len(out), len(body))
		}
	}
}

func TestConfigValidate(t *testing.T) {
	for _, cfg := range []Config{{MinSize: -1}, {GzipLevel: 10}, {ZstdLevel: 5}, {BrotliLevel: 12}} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) = nil error", cfg)
		}
	}
}

func FuzzNegotiate(f *testing.F) {
	for _, s := range []string{"gzip, br;q=0.5", "zstd;q=0.", ";;;,,,q=1", "br;q=1.000", "gzip;q=0.5;q=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e := Negotiate(http.Header{"Accept-Encoding": {s}}, all)
		if e >= numEncodings {
			t.Fatalf("Negotiate(%q) = %d", s, e)
		}
	})
}
