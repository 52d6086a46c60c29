package h1

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// scriptConn is a net.Conn that answers every write with canned bytes, so
// the parser can be tested and fuzzed on exact wire input.
type scriptConn struct {
	r       io.Reader
	written bytes.Buffer
}

func (s *scriptConn) Read(p []byte) (int, error) {
	// Short reads exercise the buffer refills.
	if len(p) > 7 {
		p = p[:7]
	}
	return s.r.Read(p)
}
func (s *scriptConn) Write(p []byte) (int, error)      { return s.written.Write(p) }
func (s *scriptConn) Close() error                     { return nil }
func (s *scriptConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (s *scriptConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (s *scriptConn) SetDeadline(time.Time) error      { return nil }
func (s *scriptConn) SetReadDeadline(time.Time) error  { return nil }
func (s *scriptConn) SetWriteDeadline(time.Time) error { return nil }

func mustRequest(t testing.TB, method string) *Request {
	t.Helper()
	r, err := NewRequest(method, "http://example.test/x?y=1", http.Header{"X-A": {"b"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestParse(t *testing.T) {
	tests := []struct {
		name      string
		method    string
		wire      string
		want      Response
		wantErr   error
		reusable  bool
		responses int
	}{
		{name: "content-length", wire: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
			want: Response{Status: 200}, reusable: true},
		{name: "chunked", wire: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nX-T: 1\r\n\r\n",
			want: Response{Status: 200}, reusable: true},
		{name: "close delimited", wire: "HTTP/1.1 200 OK\r\n\r\nabc",
			want: Response{Status: 200, Close: true}},
		{name: "http/1.0 closes", wire: "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n",
			want: Response{Status: 404, Close: true}},
		{name: "connection close", wire: "HTTP/1.1 503 x\r\nConnection: keep-alive, Close\r\nContent-Length: 1\r\n\r\nz",
			want: Response{Status: 503, Close: true}},
		{name: "head ignores length", method: "HEAD", wire: "HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n",
			want: Response{Status: 200}, reusable: true},
		{name: "204 no body", wire: "HTTP/1.1 204 No Content\r\n\r\n", want: Response{Status: 204}, reusable: true},
		{name: "interim 100", wire: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
			want: Response{Status: 201}, reusable: true},
		{name: "no reason phrase", wire: "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", want: Response{Status: 200}, reusable: true},
		{name: "bad status", wire: "HTTX/1.1 200 OK\r\n\r\n", wantErr: ErrProtocol},
		{name: "bad length", wire: "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", wantErr: ErrProtocol},
		{name: "conflicting lengths", wire: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", wantErr: ErrProtocol},
		{name: "bad chunk", wire: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", wantErr: ErrProtocol},
		{name: "truncated body", wire: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", wantErr: io.EOF},
		{name: "header without colon", wire: "HTTP/1.1 200 OK\r\nnocolon\r\n\r\n", wantErr: ErrProtocol},
		{name: "huge header", wire: "HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", 2*DefaultBufferSize) + "\r\n\r\n", wantErr: ErrHeaderTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = "GET"
			}
			sc := &scriptConn{r: strings.NewReader(tc.wire)}
			c := NewConn(sc, DefaultBufferSize)
			got, err := c.Do(mustRequest(t, method))
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Do() error = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Do() error = %v", err)
			}
			tc.want.Bytes = int64(len(tc.wire)) // every success case consumes the whole wire
			if got != tc.want {
				t.Errorf("Do() = %+v, want %+v", got, tc.want)
			}
			if c.Reusable() != tc.reusable {
				t.Errorf("Reusable() = %v, want %v", c.Reusable(), tc.reusable)
			}
		})
	}
}

func TestNewRequest(t *testing.T) {
	tests := []struct {
		name, method, url string
		header            http.Header
		body              string
		want, wantErr     string
	}{
		{name: "get", method: "GET", url: "http://h:8080/a/b?c=d",
			want: "GET /a/b?c=d HTTP/1.1\r\nHost: h:8080\r\n\r\n"},
		{name: "post body", method: "POST", url: "http://h/", body: "{}",
			want: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n{}"},
		{name: "host override", method: "GET", url: "http://127.0.0.1:1/", header: http.Header{"Host": {"api"}},
			want: "GET / HTTP/1.1\r\nHost: api\r\n\r\n"},
		{name: "credentials in url", method: "GET", url: "http://u:p@[::1]/x",
			want: "GET /x HTTP/1.1\r\nHost: [::1]\r\nAuthorization: Basic dTpw\r\n\r\n"},
		{name: "https refused", method: "GET", url: "https://h/", wantErr: "scheme must be http"},
		{name: "no host", method: "GET", url: "http:///x", wantErr: "missing host"},
		{name: "bad method", method: "GE T", url: "http://h/", wantErr: "not a valid token"},
		{name: "header injection", method: "GET", url: "http://h/", header: http.Header{"X": {"a\r\nEvil: 1"}}, wantErr: "line break"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewRequest(tc.method, tc.url, tc.header, []byte(tc.body))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("NewRequest() error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(r.raw) != tc.want {
				t.Errorf("NewRequest() = %q, want %q", r.raw, tc.want)
			}
		})
	}
}

// TestKeepAliveAgainstNetHTTP checks the parser against Go's server over
// loopback: many requests on one connection, with varied body framing.
func TestKeepAliveAgainstNetHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/chunked":
			w.Write([]byte("part1"))
			w.(http.Flusher).Flush()
			w.Write([]byte(strings.Repeat("x", 40000)))
		case "/big":
			w.Header().Set("Content-Length", "100000")
			w.Write([]byte(strings.Repeat("y", 100000)))
		default:
			w.WriteHeader(http.StatusTeapot)
		}
	}))
	defer srv.Close()
	var reqs []*Request
	for _, p := range []string{"/chunked", "/big", "/other"} {
		r, err := NewRequest("GET", srv.URL+p, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		reqs = append(reqs, r)
	}
	c, err := Dial(reqs[0].Addr(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range 30 {
		resp, err := c.Do(reqs[i%3])
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		want := []int{200, 200, 418}[i%3]
		if resp.Status != want || resp.Close {
			t.Fatalf("request %d = %+v, want status %d kept alive", i, resp, want)
		}
	}
}

func FuzzResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"HTTP/1.0 200 OK\r\n\r\nabc",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	req, err := NewRequest("GET", "http://h/", nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, wire []byte) {
		c := NewConn(&scriptConn{r: bytes.NewReader(wire)}, 512)
		for range 4 {
			resp, err := c.Do(req)
			if err != nil || resp.Close {
				return
			}
			if resp.Bytes < 0 || resp.Bytes > int64(len(wire)) {
				t.Fatalf("Bytes = %d, input %d bytes", resp.Bytes, len(wire))
			}
		}
	})
}

// Run with: go test -run '^$' -bench . -benchtime 2s ./loadtest/h1/
func BenchmarkDoLoopback(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("0123456789abcdef"))
	}))
	defer srv.Close()
	req, err := NewRequest("GET", srv.URL+"/", nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	c, err := Dial(req.Addr(), time.Second)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Do(req); err != nil {
			b.Fatal(err)
		}
	}
}

// Run with: go test -run '^$' -bench Parse -benchtime 2s ./loadtest/h1/
func BenchmarkParse(b *testing.B) {
	wire := []byte("HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Fri, 27 Nov 2026 04:00:00 GMT\r\nContent-Type: text/plain\r\nContent-Length: 128\r\nConnection: keep-alive\r\n\r\n" + strings.Repeat("a", 128))
	rd := bytes.NewReader(wire)
	c := NewConn(&fullConn{r: rd}, DefaultBufferSize)
	req, _ := NewRequest("GET", "http://h/", nil, nil)
	b.ReportAllocs()
	for b.Loop() {
		rd.Reset(wire)
		if _, err := c.Do(req); err != nil {
			b.Fatal(err)
		}
	}
}

type fullConn struct {
	scriptConn
	r io.Reader
}

func (f *fullConn) Read(p []byte) (int, error)  { return f.r.Read(p) }
func (f *fullConn) Write(p []byte) (int, error) { return len(p), nil }

// TestParserAnySplit feeds responses to a Parser split at every offset, as
// an event loop sees them arrive: the result never depends on the split.
func TestParserAnySplit(t *testing.T) {
	req := mustRequest(t, "GET")
	for _, wire := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nX-T: 1\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 503 x\r\nConnection: close\r\nContent-Length: 1\r\n\r\nz",
	} {
		want := Response{Status: 200, Bytes: int64(len(wire))}
		switch {
		case strings.Contains(wire, "201"):
			want.Status = 201
		case strings.Contains(wire, "503"):
			want.Status, want.Close = 503, true
		}
		for split := 1; split < len(wire); split++ {
			var p Parser
			p.Reset(req)
			n1, done, err := p.Feed([]byte(wire[:split]))
			if err != nil || done {
				t.Fatalf("split %d: first part: done %v, err %v", split, done, err)
			}
			// The unconsumed rest of the first part comes again with the second.
			n2, done, err := p.Feed([]byte(wire[n1:]))
			if err != nil || !done || n1+n2 != len(wire) || p.Response() != want {
				t.Fatalf("split %d of %q: consumed %d+%d, done %v, err %v, %+v; want %+v", split, wire, n1, n2, done, err, p.Response(), want)
			}
		}
	}
	var p Parser
	p.Reset(req)
	if _, done, _ := p.Feed([]byte("HTTP/1.1 200 OK\r\n\r\nabc")); done {
		t.Fatal("a close-delimited body was done before the close")
	}
	if done, err := p.EOF(); !done || err != nil || p.Response().Bytes != 22 {
		t.Errorf("EOF() = %v, %v, %+v; want the response complete at the close", done, err, p.Response())
	}
}
