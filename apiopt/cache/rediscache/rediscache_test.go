package rediscache

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/perfengine/perfengine/apiopt/cache"
	"github.com/perfengine/perfengine/apiopt/compress"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func client(t *testing.T) (*redis.Client, string) {
	t.Helper()
	rc := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	if err := rc.Ping(context.Background()).Err(); err != nil {
		rc.Close()
		if os.Getenv("CI") != "" {
			t.Fatalf("redis at 127.0.0.1:6379: %v", err)
		}
		t.Skipf("redis at 127.0.0.1:6379 unreachable: %v", err)
	}
	prefix := fmt.Sprintf("perfengine-test:%s:%d:", t.Name(), time.Now().UnixNano())
	t.Cleanup(func() {
		ctx := context.Background()
		if keys, _ := rc.Keys(ctx, prefix+"*").Result(); len(keys) > 0 {
			rc.Del(ctx, keys...)
		}
		rc.Close()
	})
	return rc, prefix
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestTwoInstances runs two caches sharing one Redis: what one stores the
// other serves, and what one invalidates the other drops within LocalTTL.
func TestTwoInstances(t *testing.T) {
	rc, prefix := client(t)
	clk := &clock{t: time.Now()}
	var calls atomic.Int64
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		w.Header().Set("Cache-Control", "max-age=300")
		w.Header().Set("Surrogate-Key", "products")
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"version":%d}`, n)
	})
	mk := func() http.Handler {
		c, err := cache.New(cache.Config{Shared: New(rc, prefix), Clock: clk.Now, LocalTTL: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c.Middleware(origin)
	}
	a, b := mk(), mk()
	get := func(h http.Handler) (string, string) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/api/products", nil))
		body, _ := io.ReadAll(w.Body)
		return w.Header().Get("Cache-Status"), string(body)
	}
	if st, _ := get(a); st != "perfengine; fwd=uri-miss; stored" {
		t.Fatalf("a first: %q", st)
	}
	if st, body := get(b); st != "perfengine; hit" || body != `{"version":1}` {
		t.Errorf("b after a stored: %q %s, want a hit on version 1", st, body)
	}
	if calls.Load() != 1 {
		t.Errorf("origin calls = %d, want 1", calls.Load())
	}
	// a invalidates; b's copy is trusted at most LocalTTL.
	ca, _ := cache.New(cache.Config{Shared: New(rc, prefix)})
	defer ca.Close()
	if n := ca.Invalidate("products"); n != 1 {
		t.Errorf("Invalidate(products) = %d, want 1 shared entry", n)
	}
	clk.Add(2 * time.Second)
	if st, body := get(b); st == "perfengine; hit" || body != `{"version":2}` {
		t.Errorf("b after invalidation: %q %s, want a miss and version 2", st, body)
	}
}

// TestCodingsShared: an instance that reads a URL another stored serves
// it in every coding, and Redis holds it in fewer bytes than its identity
// body (LZ4 and the codings, raw).
func TestCodingsShared(t *testing.T) {
	rc, prefix := client(t)
	comp, err := compress.New(compress.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var body strings.Builder
	body.WriteString("[")
	for i := range 300 {
		fmt.Fprintf(&body, `{"id":%d,"name":"Product %d","price":%d.99,"tags":["sale","new"]},`, i, i, i%97)
	}
	body.WriteString(`{}]`)
	var calls atomic.Int64
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Cache-Control", "max-age=300")
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, body.String())
	})
	mk := func() http.Handler {
		c, err := cache.New(cache.Config{Shared: New(rc, prefix), Compressor: comp})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c.Middleware(origin)
	}
	a, b := mk(), mk()
	a.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/api/products", nil))
	ctx := context.Background()
	keys := rc.Keys(ctx, prefix+"e:*").Val()
	if len(keys) != 1 {
		t.Fatalf("entry keys in Redis: %v", keys)
	}
	if n := rc.StrLen(ctx, keys[0]).Val(); n == 0 || n >= int64(body.Len()) {
		t.Errorf("Redis holds %d bytes for a %d-byte body", n, body.Len())
	}
	for _, ae := range []string{"br", "zstd", "gzip", ""} {
		r := httptest.NewRequest("GET", "/api/products", nil)
		r.Header.Set("Accept-Encoding", ae)
		w := httptest.NewRecorder()
		b.ServeHTTP(w, r)
		if w.Header().Get("Cache-Status") != "perfengine; hit" || w.Header().Get("Content-Encoding") != ae {
			t.Errorf("b, Accept-Encoding %q: %q, Content-Encoding %q", ae, w.Header().Get("Cache-Status"), w.Header().Get("Content-Encoding"))
		}
		if ae == "" && w.Body.String() != body.String() {
			t.Errorf("b: identity body differs")
		}
	}
	if calls.Load() != 1 {
		t.Errorf("origin calls %d, want 1", calls.Load())
	}
}

func TestBackendDirect(t *testing.T) {
	rc, prefix := client(t)
	b := New(rc, prefix)
	ctx := context.Background()
	if _, err := b.Get(ctx, "nope"); err != cache.ErrMiss {
		t.Errorf("Get(missing) = %v, want ErrMiss", err)
	}
	for i := range 3 {
		if err := b.Set(ctx, fmt.Sprint("k", i), []byte("v"), time.Minute, []string{"all", fmt.Sprint("t", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := b.DeleteTags(ctx, "t0", "all"); err != nil || n != 3 {
		t.Errorf("DeleteTags = %d, %v, want 3", n, err)
	}
	if _, err := b.Get(ctx, "k2"); err != cache.ErrMiss {
		t.Errorf("k2 after DeleteTags: %v", err)
	}
	if ttl := rc.TTL(ctx, prefix+"t:t1").Val(); ttl <= 0 || ttl > time.Minute {
		t.Errorf("tag set TTL = %v, want its entries' TTL", ttl)
	}
}

func TestRedisDownIsAMiss(t *testing.T) {
	rc := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	defer rc.Close()
	c, err := cache.New(cache.Config{Shared: New(rc, "")})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	h := c.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "ok")
	}))
	for range 2 {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/a", nil))
		if w.Code != 200 || w.Body.String() != "ok" {
			t.Fatalf("with Redis down: %d %q", w.Code, w.Body)
		}
	}
	if c.Stats().SharedErrors == 0 {
		t.Error("SharedErrors = 0 with Redis down")
	}
}
