package netopt

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	brrr "github.com/molecule-man/go-brrr"

	"github.com/perfengine/perfengine/netopt/faults"
)

// fast retries: the tests check behaviour, not timing.
func testConfig() Config {
	return Config{
		Retry: RetryConfig{BackoffBase: time.Microsecond, BackoffMax: time.Millisecond},
		Hedge: HedgeConfig{Disabled: true},
	}
}

func newTransport(t *testing.T, cfg Config, opts ...Option) *Transport {
	t.Helper()
	tr, err := New(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// failingServer answers the first `fail` requests with status (or resets
// them when status is 0), then 200, and counts requests and bodies seen.
type failingServer struct {
	fail   int32
	status int
	n      atomic.Int32
	bodies sync.Map
}

func (s *failingServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := s.n.Add(1)
	b, _ := io.ReadAll(r.Body)
	s.bodies.Store(n, string(b))
	if n <= s.fail {
		if s.status == 0 {
			hj, _ := w.(http.Hijacker)
			c, _, _ := hj.Hijack()
			c.Close()
			return
		}
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(s.status)
		return
	}
	io.WriteString(w, "ok")
}

func TestRetryPolicy(t *testing.T) {
	tests := []struct {
		name     string
		method   string
		status   int // 0: reset the connection
		fail     int32
		body     func() io.Reader
		optIn    bool
		header   string
		want     int   // status the caller sees (0: an error)
		requests int32 // requests the server saw
	}{
		{name: "GET 503 retried", method: "GET", status: 503, fail: 2, want: 200, requests: 3},
		{name: "GET 429 retried", method: "GET", status: 429, fail: 1, want: 200, requests: 2},
		{name: "GET 502 retried", method: "GET", status: 502, fail: 1, want: 200, requests: 2},
		{name: "GET 504 retried", method: "GET", status: 504, fail: 1, want: 200, requests: 2},
		{name: "GET reset retried", method: "GET", status: 0, fail: 2, want: 200, requests: 3},
		{name: "GET 500 not retried", method: "GET", status: 500, fail: 1, want: 500, requests: 1},
		{name: "GET gives up after MaxAttempts", method: "GET", status: 503, fail: 100, want: 503, requests: 5},
		{name: "PUT with GetBody retried", method: "PUT", status: 503, fail: 1, body: func() io.Reader { return strings.NewReader("x") }, want: 200, requests: 2},
		{name: "POST not retried", method: "POST", status: 503, fail: 1, body: func() io.Reader { return strings.NewReader("x") }, want: 503, requests: 1},
		{name: "POST reset not retried", method: "POST", status: 0, fail: 1, body: func() io.Reader { return strings.NewReader("x") }, want: 0, requests: 1},
		{name: "POST opted in retried", method: "POST", status: 503, fail: 1, optIn: true, body: func() io.Reader { return strings.NewReader("x") }, want: 200, requests: 2},
		{name: "POST Idempotency-Key retried", method: "POST", status: 503, fail: 1, header: "k1", body: func() io.Reader { return strings.NewReader("x") }, want: 200, requests: 2},
		{name: "PUT body without GetBody not retried", method: "PUT", status: 503, fail: 1, body: func() io.Reader { return io.MultiReader(strings.NewReader("x")) }, want: 503, requests: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := &failingServer{fail: tc.fail, status: tc.status}
			srv := httptest.NewServer(fs)
			defer srv.Close()
			cfg := testConfig()
			cfg.Breaker.Disabled = true
			tr := newTransport(t, cfg)
			ctx := t.Context()
			if tc.optIn {
				ctx = AllowRetry(ctx)
			}
			var body io.Reader
			if tc.body != nil {
				body = tc.body()
			}
			req, _ := http.NewRequestWithContext(ctx, tc.method, srv.URL, body)
			if tc.header != "" {
				req.Header.Set("Idempotency-Key", tc.header)
			}
			resp, err := tr.Client().Do(req)
			got := 0
			if err == nil {
				got = resp.StatusCode
				resp.Body.Close()
			}
			if got != tc.want {
				t.Errorf("%s: status %d (err %v), want %d", tc.name, got, err, tc.want)
			}
			if n := fs.n.Load(); n != tc.requests {
				t.Errorf("%s: server saw %d requests, want %d", tc.name, n, tc.requests)
			}
			if tc.body != nil {
				fs.bodies.Range(func(k, v any) bool {
					if v != "x" {
						t.Errorf("request %v had body %q, want the replayed %q", k, v, "x")
					}
					return true
				})
			}
		})
	}
}

func TestRetryAfterTooLongReturnsResponse(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(503)
	}))
	defer srv.Close()
	tr := newTransport(t, testConfig())
	resp, err := tr.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Fatalf("status %d, want the 503 itself", resp.StatusCode)
	}
	if m := tr.Metrics(t.Context()).Hosts[0]; m.Attempts != 1 {
		t.Errorf("attempts %d, want 1: an hour is past MaxRetryAfter", m.Attempts)
	}
}

func TestBudgetBoundsRetries(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(503) }))
	defer srv.Close()
	cfg := testConfig()
	cfg.Breaker.Disabled = true
	cfg.Retry.BudgetTokens, cfg.Retry.BudgetRatio = 10, 0.1
	tr := newTransport(t, cfg)
	const n = 100
	for range n {
		resp, err := tr.Client().Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	m := tr.Metrics(t.Context()).Hosts[0]
	if extra := m.Attempts - n; extra > 5 {
		t.Errorf("%d extra attempts for %d failing requests, want at most half the 10 tokens", extra, n)
	}
	if m.Throttled == 0 {
		t.Error("no retry was throttled")
	}
}

func TestBreakerOpensAndKeepsCause(t *testing.T) {
	var healthy atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if !healthy.Load() {
			w.WriteHeader(502)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	var mu sync.Mutex
	now := time.Unix(1e9, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	cfg := testConfig()
	cfg.Retry.Disabled = true
	cfg.Breaker = BreakerConfig{MinRequests: 4, OpenFor: time.Minute}
	tr := newTransport(t, cfg, WithClock(clock))
	c := tr.Client()
	for range 4 {
		resp, err := c.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	_, err := c.Get(srv.URL)
	var open *CircuitOpenError
	if !errors.As(err, &open) || !errors.Is(err, ErrCircuitOpen) {
		t.Fatalf("err %v, want a CircuitOpenError", err)
	}
	var cause *StatusError
	if !errors.As(err, &cause) || cause.StatusCode != 502 {
		t.Fatalf("err %v does not carry the 502 that opened the circuit", err)
	}
	if got := tr.Metrics(t.Context()).Hosts[0].Breaker; got != BreakerOpen {
		t.Errorf("breaker %s, want open", got)
	}
	healthy.Store(true)
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatalf("half-open probe: %v", err)
	}
	resp.Body.Close()
	if got := tr.Metrics(t.Context()).Hosts[0].Breaker; got != BreakerClosed {
		t.Errorf("breaker %s after a good probe, want closed", got)
	}
}

func TestHedgeFirstAnswerWinsLoserCancelled(t *testing.T) {
	var n atomic.Int32
	cancelled := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			<-r.Context().Done() // the slow first attempt, until cancelled
			cancelled <- struct{}{}
			return
		}
		io.WriteString(w, "hedge")
	}))
	defer srv.Close()
	cfg := testConfig()
	cfg.Hedge = HedgeConfig{Delay: time.Millisecond}
	tr := newTransport(t, cfg)
	resp, err := tr.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "hedge" {
		t.Errorf("body %q, want the hedge's", b)
	}
	<-cancelled
	m := tr.Metrics(t.Context()).Hosts[0]
	// Either copy may reach the server first and be the slow one.
	if m.Hedges != 1 || m.HedgeWins > 1 {
		t.Errorf("hedges %d wins %d, want 1 and at most 1", m.Hedges, m.HedgeWins)
	}
}

func TestPostNeverHedged(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	cfg := testConfig()
	cfg.Hedge = HedgeConfig{Delay: time.Nanosecond}
	tr := newTransport(t, cfg)
	resp, err := tr.Client().Post(srv.URL, "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if n.Load() != 1 {
		t.Errorf("server saw %d POSTs, want 1", n.Load())
	}
}

func TestCancelStopsEveryAttempt(t *testing.T) {
	started := make(chan struct{}, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-r.Context().Done()
	}))
	defer srv.Close()
	cfg := testConfig()
	cfg.Hedge = HedgeConfig{Delay: time.Millisecond}
	tr := newTransport(t, cfg)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
		_, err := tr.Client().Do(req)
		done <- err
	}()
	<-started
	<-started // the hedge too
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if m := tr.Metrics(t.Context()).Hosts[0]; m.Retries != 0 {
		t.Errorf("%d retries after cancellation", m.Retries)
	}
}

func TestDecompression(t *testing.T) {
	payload := strings.Repeat("perfengine compresses this line. ", 200)
	enc := map[string]func([]byte) []byte{
		"gzip": func(b []byte) []byte {
			var buf bytes.Buffer
			w := gzip.NewWriter(&buf)
			w.Write(b)
			w.Close()
			return buf.Bytes()
		},
		"zstd": func(b []byte) []byte {
			e, _ := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
			defer e.Close()
			return e.EncodeAll(b, nil)
		},
		"br": func(b []byte) []byte {
			var buf bytes.Buffer
			w, _ := brrr.NewWriter(&buf, 5)
			w.Write(b)
			w.Close()
			return buf.Bytes()
		},
	}
	for _, name := range []string{"gzip", "zstd", "br"} {
		t.Run(name, func(t *testing.T) {
			var gotAE string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				gotAE = r.Header.Get("Accept-Encoding")
				w.Header().Set("Content-Encoding", name)
				w.Write(enc[name]([]byte(payload)))
			}))
			defer srv.Close()
			tr := newTransport(t, testConfig())
			resp, err := tr.Client().Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != payload {
				t.Errorf("%s: decoded %d bytes, want the %d-byte payload", name, len(b), len(payload))
			}
			if !strings.Contains(gotAE, name) {
				t.Errorf("Accept-Encoding %q lacks %s", gotAE, name)
			}
			if resp.Header.Get("Content-Encoding") != "" || !resp.Uncompressed {
				t.Errorf("%s: Content-Encoding %q Uncompressed %v, want removed and true", name, resp.Header.Get("Content-Encoding"), resp.Uncompressed)
			}
		})
	}
	t.Run("caller's Accept-Encoding left alone", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(enc["gzip"]([]byte(payload)))
		}))
		defer srv.Close()
		tr := newTransport(t, testConfig())
		req, _ := http.NewRequest("GET", srv.URL, nil)
		req.Header.Set("Accept-Encoding", "gzip")
		resp, err := tr.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Header.Get("Content-Encoding") != "gzip" {
			t.Error("the stack decoded a body the caller asked to get encoded")
		}
	})
	t.Run("corrupt body is an error", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Encoding", "zstd")
			w.Write([]byte("not zstd at all"))
		}))
		defer srv.Close()
		tr := newTransport(t, testConfig())
		resp, err := tr.Client().Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if _, err := io.ReadAll(resp.Body); err == nil {
			t.Error("read a corrupt zstd body without error")
		}
	})
}

func TestMetricsAndPreconnect(t *testing.T) {
	srv := httptest.NewServer(faults.New(faults.Config{}, nil))
	defer srv.Close()
	cfg := testConfig()
	cfg.SlowHost = time.Nanosecond
	tr := newTransport(t, cfg)
	if err := tr.PreconnectToDomains(t.Context(), []string{srv.URL}); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		resp, err := tr.Client().Get(srv.URL + "/x")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	ms := tr.Metrics(t.Context()).Hosts
	if len(ms) != 1 {
		t.Fatalf("%d hosts, want 1", len(ms))
	}
	m := ms[0]
	if m.Host != strings.TrimPrefix(srv.URL, "http://") || m.Requests != 20 || m.Attempts != 21 {
		t.Errorf("host %q requests %d attempts %d, want the server, 20 and 21", m.Host, m.Requests, m.Attempts)
	}
	if m.ReuseRatio < 0.9 || m.TTFB <= 0 || m.P95 <= 0 || m.Connect <= 0 {
		t.Errorf("reuse %.2f ttfb %v p95 %v connect %v: preconnected keep-alive connection not seen", m.ReuseRatio, m.TTFB, m.P95, m.Connect)
	}
	recs := tr.Recommendations(t.Context())
	if len(recs) != 1 || recs[0].Kind != KindSlowHost {
		t.Errorf("recommendations %+v, want one slow_host", recs)
	}
	if err := tr.PreconnectToDomains(t.Context(), []string{"ftp://x", ""}); err == nil {
		t.Error("bad preconnect hosts accepted")
	}
}

func TestMaxHostsBoundsLabels(t *testing.T) {
	srv := httptest.NewServer(faults.New(faults.Config{}, nil))
	defer srv.Close()
	cfg := testConfig()
	cfg.MaxHosts = 1
	tr := newTransport(t, cfg)
	port := srv.URL[strings.LastIndexByte(srv.URL, ':'):]
	for _, h := range []string{"127.0.0.1", "localhost"} {
		resp, err := tr.Client().Get("http://" + h + port)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	var names []string
	for _, m := range tr.Metrics(t.Context()).Hosts {
		names = append(names, m.Host)
	}
	if len(names) != 2 || names[1] != "other" {
		t.Errorf("hosts %v, want the first and other", names)
	}
}

func TestResizePool(t *testing.T) {
	tr := newTransport(t, testConfig())
	prev, err := tr.ResizePool(32)
	if err != nil || prev != DefaultMaxIdleConnections || tr.PoolIdle() != 32 {
		t.Errorf("ResizePool(32) = %d, %v; idle %d, want %d, nil; 32", prev, err, tr.PoolIdle(), DefaultMaxIdleConnections)
	}
	if _, err := tr.ResizePool(0); err == nil {
		t.Error("ResizePool(0) accepted")
	}
	own, _ := NewTransport(http.DefaultTransport, testConfig())
	if _, err := own.ResizePool(5); !errors.Is(err, ErrNotOwnPool) {
		t.Errorf("ResizePool on a caller's transport: %v, want ErrNotOwnPool", err)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		bad  string
	}{
		{"zero is valid", Config{}, ""},
		{"idle above max", Config{Pool: PoolConfig{MaxConnections: 2, MaxIdleConnections: 3}}, "pool.maxIdleConnections"},
		{"attempts", Config{Retry: RetryConfig{MaxAttempts: 11}}, "retry.maxAttempts"},
		{"status", Config{Retry: RetryConfig{Statuses: []int{42}}}, "retry.statuses"},
		{"ratio", Config{Retry: RetryConfig{BudgetRatio: 2}}, "retry.budgetRatio"},
		{"quantile", Config{Hedge: HedgeConfig{Quantile: 1}}, "hedge.quantile"},
		{"breaker", Config{Breaker: BreakerConfig{FailureRatio: -1}}, "breaker.failureRatio"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if (err == nil) != (tc.bad == "") || (err != nil && !strings.Contains(err.Error(), tc.bad)) {
				t.Errorf("Validate() = %v, want mention of %q", err, tc.bad)
			}
		})
	}
	if c, err := NewClient(Config{MaxHosts: -1}); err == nil || c != nil {
		t.Errorf("NewClient with a bad config = %v, %v; want no client and an error", c, err)
	}
	defer func() {
		if recover() == nil {
			t.Error("MustNewClient with a bad config did not panic")
		}
	}()
	MustNewClient(Config{MaxHosts: -1})
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"0", 0, true},
		{"120", 2 * time.Minute, true},
		{" 5 ", 5 * time.Second, true},
		{"Fri, 02 Jan 2026 03:04:15 GMT", 10 * time.Second, true},
		{"Fri, 02 Jan 2026 03:00:00 GMT", 0, true},
		{"-1", 0, false},
		{"1.5", 0, false},
		{"99999999999", 0, false},
		{"soon", 0, false},
		{"", 0, false},
	}
	for _, tc := range tests {
		got, err := ParseRetryAfter(tc.in, now)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"0", "120", "Fri, 02 Jan 2026 03:04:15 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "-1", "", "1e9"} {
		f.Add(s)
	}
	now := time.Unix(1e9, 0)
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseRetryAfter(s, now)
		if err == nil && d < 0 {
			t.Errorf("ParseRetryAfter(%q) = %v, negative", s, d)
		}
	})
}

// FuzzDecode feeds arbitrary bytes as a compressed body of each encoding:
// the stack must return an error or data, never panic.
func FuzzDecode(f *testing.F) {
	f.Add(byte(0), []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add(byte(1), []byte{0x28, 0xb5, 0x2f, 0xfd, 0, 0x58, 0x11, 0, 0})
	f.Add(byte(2), []byte{0x6b, 0, 3})
	f.Add(byte(2), []byte("garbage"))
	encs := []string{"gzip", "zstd", "br"}
	f.Fuzz(func(t *testing.T, which byte, body []byte) {
		resp := &http.Response{Header: http.Header{"Content-Encoding": {encs[int(which)%3]}}, Body: io.NopCloser(bytes.NewReader(body))}
		if !decode(resp) {
			t.Fatal("not decoded")
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		_ = resp.Body.Close()
	})
}

func TestDialPhasesTimed(t *testing.T) {
	srv := httptest.NewServer(faults.New(faults.Config{}, nil))
	defer srv.Close()
	tr := newTransport(t, testConfig())
	u := "http://localhost" + srv.URL[strings.LastIndexByte(srv.URL, ':'):]
	resp, err := tr.Client().Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	m := tr.Metrics(t.Context()).Hosts
	if len(m) != 1 || m[0].Host != strings.TrimPrefix(u, "http://") || m[0].DNS <= 0 || m[0].Connect <= 0 || m[0].Conns != 1 {
		t.Errorf("hosts %+v, want one with DNS and connect timed", m)
	}
}

// Eight requests at a time against a pool keeping one idle connection:
// most requests open a connection, and the stack proposes keeping eight.
func TestRecommendResizePool(t *testing.T) {
	const conc = 8
	var mu sync.Mutex
	arrived := 0
	gate := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		arrived++
		g := gate
		if arrived == conc { // the round is complete: let it through
			arrived = 0
			gate = make(chan struct{})
			close(g)
		}
		mu.Unlock()
		<-g
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	cfg := testConfig()
	cfg.Pool = PoolConfig{MaxIdleConnections: 1}
	tr := newTransport(t, cfg)
	for range 15 {
		var wg sync.WaitGroup
		for range conc {
			wg.Go(func() {
				resp, err := tr.Client().Get(srv.URL)
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			})
		}
		wg.Wait()
	}
	var got *Recommendation
	for _, r := range tr.Recommendations(t.Context()) {
		if r.Kind == KindResizePool {
			got = &r
		}
	}
	if got == nil || got.Idle != conc || !got.Actionable {
		m := tr.Metrics(t.Context()).Hosts[0]
		t.Fatalf("recommendation %+v (reuse %.2f, peak %d, conns %d), want resize_pool to %d", got, m.ReuseRatio, m.PeakInFlight, m.Conns, conc)
	}
}
