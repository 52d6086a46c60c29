package ratelimit

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestGCRA(t *testing.T) {
	type step struct {
		at        time.Duration
		allowed   bool
		remaining int
		retry     time.Duration
	}
	tests := []struct {
		name  string
		limit Limit
		steps []step
	}{
		{"burst then deny", Limit{Rate: 10, Period: time.Second, Burst: 3}, []step{
			{0, true, 2, 0}, {0, true, 1, 0}, {0, true, 0, 0}, {0, false, 0, 100 * time.Millisecond},
			{100 * time.Millisecond, true, 0, 0}, {100 * time.Millisecond, false, 0, 100 * time.Millisecond},
		}},
		{"refills", Limit{Rate: 1, Period: time.Second, Burst: 2}, []step{
			{0, true, 1, 0}, {0, true, 0, 0}, {0, false, 0, time.Second},
			{10 * time.Second, true, 1, 0},
		}},
		{"burst one", Limit{Rate: 2, Period: time.Second, Burst: 1}, []step{
			{0, true, 0, 0}, {250 * time.Millisecond, false, 0, 250 * time.Millisecond}, {500 * time.Millisecond, true, 0, 0},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := NewMemory(tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range tc.steps {
				d := m.AllowAt("k", t0.Add(s.at))
				if d.Allowed != s.allowed || d.Remaining != s.remaining || d.RetryAfter != s.retry {
					t.Errorf("step %d at %v: %+v, want allowed=%v remaining=%d retry=%v", i, s.at, d, s.allowed, s.remaining, s.retry)
				}
			}
		})
	}
}

func TestGCRAConcurrentExact(t *testing.T) {
	m, _ := NewMemory(Limit{Rate: 1, Period: time.Hour, Burst: 100})
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				if m.AllowAt("shared", t0).Allowed {
					allowed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if got := allowed.Load(); got != 100 {
		t.Errorf("allowed %d of 800 at one instant, want exactly the burst 100", got)
	}
}

func TestPressureHalvesRate(t *testing.T) {
	m, _ := NewMemory(Limit{Rate: 10, Period: time.Second, Burst: 1})
	m.SetPressure(0.5)
	m.AllowAt("k", t0)
	if d := m.AllowAt("k", t0.Add(150*time.Millisecond)); d.Allowed {
		t.Errorf("under pressure 0.5 a request after 150ms passed (interval should be 200ms)")
	}
	m.SetPressure(1)
	if d := m.AllowAt("k", t0.Add(200*time.Millisecond)); !d.Allowed {
		t.Errorf("after restoring, a request after 200ms was denied: %+v", d)
	}
}

func TestSweepDropsIdleKeys(t *testing.T) {
	m, _ := NewMemory(Limit{Rate: 1, Period: time.Second, Burst: 1})
	m.sweepEvery = 10
	for i := range 10 {
		m.AllowAt(fmt.Sprint("k", i), t0)
	}
	// The 20th new key sweeps: the first ten have refilled by then, the
	// ten just seen have not.
	for i := range 10 {
		m.AllowAt(fmt.Sprint("x", i), t0.Add(time.Hour))
	}
	n := 0
	m.keys.Range(func(any, any) bool { n++; return true })
	if n != 10 {
		t.Errorf("%d keys kept, want the 10 active ones", n)
	}
}

func TestLimitValidate(t *testing.T) {
	for _, l := range []Limit{{}, {Rate: 1, Period: time.Second}, {Rate: -1, Period: time.Second, Burst: 1}} {
		if _, err := NewMemory(l); err == nil {
			t.Errorf("NewMemory(%+v) = nil error", l)
		}
	}
}

func TestClientIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	tests := []struct {
		name    string
		remote  string
		xff     []string
		trusted []netip.Prefix
		want    string
	}{
		{"direct", "192.0.2.1:1234", nil, nil, "192.0.2.1"},
		{"xff ignored without trust", "192.0.2.1:1234", []string{"203.0.113.9"}, nil, "192.0.2.1"},
		{"xff from trusted proxy", "10.1.1.1:80", []string{"203.0.113.9, 10.2.2.2"}, trusted, "203.0.113.9"},
		{"spoofed left part", "10.1.1.1:80", []string{"1.1.1.1, 203.0.113.9"}, trusted, "203.0.113.9"},
		{"xff from untrusted peer", "192.0.2.1:1", []string{"203.0.113.9"}, trusted, "192.0.2.1"},
		{"garbage xff", "10.1.1.1:80", []string{"not-an-ip"}, trusted, "10.1.1.1"},
		{"all trusted", "10.1.1.1:80", []string{"10.3.3.3"}, trusted, "10.1.1.1"},
		{"multiple lines", "10.1.1.1:80", []string{"198.51.100.1", "10.9.9.9"}, trusted, "198.51.100.1"},
	}
	for _, tc := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.remote
		r.Header["X-Forwarded-For"] = tc.xff
		if got := ClientIP(tc.trusted...)(r); got != tc.want {
			t.Errorf("%s: ClientIP = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestMiddleware429(t *testing.T) {
	l := Limit{Rate: 60, Period: time.Minute, Burst: 2}
	m, _ := NewMemory(l)
	now := t0
	h := Middleware(m, l, Header("X-Api-Key"), "default", func() time.Time { return now })(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	codes := []int{}
	var last *httptest.ResponseRecorder
	for range 3 {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("X-Api-Key", "k1")
		last = httptest.NewRecorder()
		h.ServeHTTP(last, r)
		codes = append(codes, last.Code)
	}
	if fmt.Sprint(codes) != "[200 200 429]" {
		t.Errorf("codes = %v", codes)
	}
	want := map[string]string{"Retry-After": "1", "Ratelimit-Policy": `"default";q=2;w=2`, "Ratelimit": `"default";r=0;t=2`}
	for k, v := range want {
		if got := last.Header().Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	// No key: not limited.
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if w.Code != 200 {
		t.Errorf("request without key: %d", w.Code)
	}
}

func TestAdaptive(t *testing.T) {
	now := t0
	clock := func() time.Time { return now }
	a, err := NewAdaptive(AdaptiveConfig{InitialLimit: 20, MinLimit: 2, MaxLimit: 100, Window: time.Second, MinSamples: 5}, WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	// run drives one window with the limit fully used at latency rtt.
	run := func(rtt time.Duration) {
		n := a.Limit()
		for range n {
			if !a.Acquire() {
				t.Fatal("Acquire refused below the limit")
			}
		}
		now = now.Add(time.Second)
		for range n {
			a.Release(rtt)
		}
	}
	for range 30 {
		run(10 * time.Millisecond)
	}
	grown := a.Limit()
	if grown <= 20 {
		t.Errorf("steady latency with full use: limit %d, want growth above 20", grown)
	}
	for range 10 {
		run(80 * time.Millisecond)
	}
	if got := a.Limit(); got >= grown {
		t.Errorf("latency x8: limit %d, want below %d", got, grown)
	}
	// Shedding: with the limit taken, the next request is refused.
	l := a.Limit()
	for range l {
		a.Acquire()
	}
	if a.Acquire() {
		t.Error("Acquire above the limit succeeded")
	}
	if a.Shed() == 0 {
		t.Error("Shed() = 0")
	}
	a.SetPressure(0.5)
	if got := a.Limit(); got > l/2+1 {
		t.Errorf("pressure 0.5: limit %d, want about %d", got, l/2)
	}
}

func TestAdaptiveMiddleware503(t *testing.T) {
	a, _ := NewAdaptive(AdaptiveConfig{InitialLimit: 1, MinLimit: 1, MaxLimit: 1})
	block := make(chan struct{})
	entered := make(chan struct{})
	h := a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-block
	}))
	done := make(chan struct{})
	go func() { h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil)); close(done) }()
	<-entered
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	close(block)
	<-done
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Errorf("over the limit: %d Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}
}

// redisClient connects to the local Redis or skips (fails under CI).
func redisClient(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", PoolSize: 64})
	if err := c.Ping(context.Background()).Err(); err != nil {
		c.Close()
		if os.Getenv("CI") != "" {
			t.Fatalf("redis at 127.0.0.1:6379: %v", err)
		}
		t.Skipf("redis at 127.0.0.1:6379 unreachable: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func cleanPrefix(t testing.TB, c *redis.Client, prefix string) {
	t.Cleanup(func() {
		ctx := context.Background()
		keys, _ := c.Keys(ctx, prefix+"*").Result()
		if len(keys) > 0 {
			c.Del(ctx, keys...)
		}
	})
}

func TestRedisGCRA(t *testing.T) {
	c := redisClient(t)
	prefix := fmt.Sprintf("perfengine-test:%s:%d:", t.Name(), time.Now().UnixNano())
	cleanPrefix(t, c, prefix)
	lim, err := NewRedis(c, Limit{Rate: 1, Period: time.Hour, Burst: 3}, RedisOptions{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var got []bool
	for range 4 {
		d, err := lim.Allow(ctx, "k", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, d.Allowed)
	}
	if fmt.Sprint(got) != "[true true true false]" {
		t.Errorf("decisions = %v", got)
	}
	d, _ := lim.Allow(ctx, "k", time.Now())
	if d.RetryAfter < 59*time.Minute || d.RetryAfter > time.Hour {
		t.Errorf("RetryAfter = %v, want about 1h", d.RetryAfter)
	}
	if ttl := c.PTTL(ctx, prefix+"k").Val(); ttl <= 0 || ttl > 3*time.Hour+time.Second {
		t.Errorf("key TTL = %v, want the time until the bucket refills", ttl)
	}
	if lim.Fallbacks() != 0 {
		t.Errorf("Fallbacks = %d with Redis up", lim.Fallbacks())
	}
}

func TestRedisDownFallsBack(t *testing.T) {
	// Port 1 on loopback: nothing listens, so the dial fails at once.
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	defer c.Close()
	lim, _ := NewRedis(c, Limit{Rate: 1, Period: time.Hour, Burst: 2}, RedisOptions{Backoff: time.Minute})
	var got []bool
	for range 3 {
		d, err := lim.Allow(context.Background(), "k", t0)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, d.Allowed)
	}
	if fmt.Sprint(got) != "[true true false]" {
		t.Errorf("fallback decisions = %v, want the local limit applied", got)
	}
	if lim.Fallbacks() != 3 {
		t.Errorf("Fallbacks = %d, want 3", lim.Fallbacks())
	}
}
