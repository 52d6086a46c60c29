package cache

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/perfengine/perfengine/apiopt/compress"
)

// productsJSON is an API answer of n products, the kind of body a cache
// in front of a JSON service holds most.
func productsJSON(n int, seed uint64) string {
	rng := rand.New(rand.NewPCG(seed, 1))
	cats := []string{"tools", "garden", "kitchen", "books", "toys", "outdoor"}
	var b strings.Builder
	b.WriteString(`{"items":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":%d,"sku":"SKU-%06d","name":"Product %d","category":%q,"price":%.2f,"stock":%d,"rating":%.1f,"tags":["%s","sale"]}`,
			i+1, rng.IntN(1e6), i+1, cats[rng.IntN(len(cats))], rng.Float64()*200, rng.IntN(500), 1+rng.Float64()*4, cats[rng.IntN(len(cats))])
	}
	fmt.Fprintf(&b, `],"total":%d}`, n)
	return b.String()
}

// memBackend is a Backend in a map, for tests of what the cache writes;
// rediscache's tests run the same against Redis.
type memBackend struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (b *memBackend) Get(_ context.Context, key string) ([]byte, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	v, ok := b.m[key]
	if !ok {
		return nil, ErrMiss
	}
	return v, nil
}

func (b *memBackend) Set(_ context.Context, key string, value []byte, _ time.Duration, _ []string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m == nil {
		b.m = map[string][]byte{}
	}
	b.m[key] = bytes.Clone(value)
	return nil
}

func (b *memBackend) Delete(_ context.Context, keys ...string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, k := range keys {
		delete(b.m, k)
	}
	return nil
}

func (b *memBackend) DeleteTags(context.Context, ...string) (int, error) { return 0, nil }

func (b *memBackend) bytes() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, v := range b.m {
		n += len(v)
	}
	return n
}

func gunzip(t *testing.T, b []byte) string {
	t.Helper()
	r, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// TestPackedBodies serves every kind of answer from packed and unpacked
// entries alike, and packed ones take less memory.
func TestPackedBodies(t *testing.T) {
	comp, err := compress.New(compress.Config{})
	if err != nil {
		t.Fatal(err)
	}
	noise := make([]byte, 20<<10)
	for i := range noise {
		noise[i] = byte(rand.Uint32())
	}
	tests := []struct {
		name, ctype, body string
		wantPacked        bool
	}{
		{"json 24 KiB", "application/json", productsJSON(150, 1), true},
		{"json under PackAbove", "application/json", productsJSON(10, 2), false},
		{"incompressible", "application/octet-stream", string(noise), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var bytesHeld [2]uint64
			for i, packAbove := range []int{-1, 0} {
				c := newCache(t, newClock(), Config{Compressor: comp, PackAbove: packAbove})
				o := &origin{header: http.Header{"Cache-Control": {"max-age=60"}, "Content-Type": {tc.ctype}}, body: func(*http.Request) string { return tc.body }}
				h := c.Middleware(o)
				do(h, "GET", "/a")
				if w := do(h, "GET", "/a"); w.Body.String() != tc.body || w.Header().Get("Content-Length") != fmt.Sprint(len(tc.body)) {
					t.Errorf("PackAbove %d: identity hit differs (%d bytes, Content-Length %s)", packAbove, w.Body.Len(), w.Header().Get("Content-Length"))
				}
				if w := do(h, "GET", "/a", "Accept-Encoding", "gzip"); w.Header().Get("Content-Encoding") == "gzip" && gunzip(t, w.Body.Bytes()) != tc.body {
					t.Errorf("PackAbove %d: gzip hit does not decode to the body", packAbove)
				}
				if w := do(h, "GET", "/a", "Range", "bytes=100-199"); w.Code != http.StatusPartialContent || w.Body.String() != tc.body[100:200] {
					t.Errorf("PackAbove %d: Range: %d, %d bytes", packAbove, w.Code, w.Body.Len())
				}
				if w := do(h, "HEAD", "/a"); w.Body.Len() != 0 || w.Header().Get("Content-Length") != fmt.Sprint(len(tc.body)) {
					t.Errorf("PackAbove %d: HEAD: %d body bytes, Content-Length %s", packAbove, w.Body.Len(), w.Header().Get("Content-Length"))
				}
				etag := do(h, "GET", "/a").Header().Get("Etag")
				if w := do(h, "GET", "/a", "If-None-Match", etag); w.Code != http.StatusNotModified {
					t.Errorf("PackAbove %d: If-None-Match: %d, want 304", packAbove, w.Code)
				}
				if o.calls.Load() != 1 {
					t.Errorf("PackAbove %d: origin calls %d, want 1", packAbove, o.calls.Load())
				}
				bytesHeld[i] = c.Stats().Bytes
			}
			packed := bytesHeld[1] < bytesHeld[0]
			if packed != tc.wantPacked {
				t.Errorf("held %d bytes packed, %d unpacked: packed = %v, want %v", bytesHeld[1], bytesHeld[0], packed, tc.wantPacked)
			}
		})
	}
}

// TestSharedFormat: what one instance stores the other serves in every
// coding, stored in fewer bytes than the identity body as
// base64 JSON took, and a node stored in that older format is still read.
func TestSharedFormat(t *testing.T) {
	comp, err := compress.New(compress.Config{})
	if err != nil {
		t.Fatal(err)
	}
	body := productsJSON(200, 3)
	shared := &memBackend{}
	o := &origin{header: http.Header{"Cache-Control": {"max-age=60"}}, body: func(*http.Request) string { return body }}
	a := newCache(t, newClock(), Config{Compressor: comp, Shared: shared})
	do(a.Middleware(o), "GET", "/a")
	stored := shared.bytes()
	if legacy := len(body) * 4 / 3; stored >= legacy {
		t.Errorf("stored %d bytes, not fewer than the %d of the identity body as base64", stored, legacy)
	}
	b := newCache(t, newClock(), Config{Compressor: comp, Shared: shared})
	hb := b.Middleware(o)
	for _, ae := range []string{"br", "zstd", "gzip", ""} {
		w := do(hb, "GET", "/a", "Accept-Encoding", ae)
		if w.Header().Get("Cache-Status") != "perfengine; hit" || w.Header().Get("Content-Encoding") != ae {
			t.Errorf("b, Accept-Encoding %q: %q, Content-Encoding %q", ae, w.Header().Get("Cache-Status"), w.Header().Get("Content-Encoding"))
		}
		if ae == "" && w.Body.String() != body {
			t.Error("b: identity body differs")
		}
		if ae == "gzip" && gunzip(t, w.Body.Bytes()) != body {
			t.Error("b: gzip body does not decode to the body")
		}
	}
	if o.calls.Load() != 1 {
		t.Errorf("origin calls %d, want 1", o.calls.Load())
	}

	// The format before: JSON with the identity body inline.
	old := &memBackend{}
	key := sharedKey("example.com", "/old")
	legacy, _ := json.Marshal(wireNode{Host: "example.com", URI: "/old", Variants: []wireEntry{{
		Status: 200, Header: http.Header{"Content-Type": {"application/json"}, "Cache-Control": {"max-age=60"}},
		Body: []byte(body), StoredAt: newClock().Now(), Lifetime: time.Minute, ETag: `"x"`,
	}}})
	old.Set(context.Background(), key, legacy, time.Minute, nil)
	c := newCache(t, newClock(), Config{Compressor: comp, Shared: old})
	w := do(c.Middleware(o), "GET", "/old")
	if w.Header().Get("Cache-Status") != "perfengine; hit" || w.Body.String() != body {
		t.Errorf("old format: %q, %d bytes", w.Header().Get("Cache-Status"), w.Body.Len())
	}
}

// FuzzDecodeNode: whatever the shared backend hands back, reading it
// returns an error or a node, never a panic, and a damaged body is never
// served.
func FuzzDecodeNode(f *testing.F) {
	comp, _ := compress.New(compress.Config{})
	c, err := New(Config{Compressor: comp})
	if err != nil {
		f.Fatal(err)
	}
	defer c.Close()
	body := productsJSON(12, 4)
	e := &Entry{Status: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(body), ETag: `"a"`, Lifetime: time.Minute}
	c.build(e)
	good, _ := encodeNode(&node{host: "h", uri: "/u", variants: []*Entry{e}}, 1)
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte(`{"host":"h","uri":"/u","v":[{"s":200,"h":{},"b":"eA==","e":"\"a\""}]}`))
	f.Add([]byte(wireMagic + "\xff\xff\xff\xff\x0f"))
	f.Fuzz(func(t *testing.T, b []byte) {
		w, bodies, err := decodeNode(b)
		if err != nil {
			return
		}
		n := c.fromWire(w, bodies, time.Now())
		for _, e := range n.variants {
			if got := len(e.Identity()); got != e.bodyLen {
				t.Fatalf("identity body of %d bytes, entry says %d", got, e.bodyLen)
			}
		}
	})
}

// BenchmarkPackedHit is the hit path of a 24 KiB JSON answer held packed
// (the default) and unpacked, for a client that takes gzip and one that
// takes identity, and reports the bytes the entry holds.
func BenchmarkPackedHit(b *testing.B) {
	comp, _ := compress.New(compress.Config{})
	body := productsJSON(150, 1)
	for _, mode := range []struct {
		name      string
		packAbove int
	}{{"unpacked", -1}, {"packed", 0}} {
		for _, ae := range []string{"gzip", "identity"} {
			b.Run(mode.name+"/"+ae, func(b *testing.B) {
				c, _ := New(Config{Compressor: comp, PackAbove: mode.packAbove})
				defer c.Close()
				o := &origin{header: http.Header{"Cache-Control": {"max-age=3600"}}, body: func(*http.Request) string { return body }}
				h := c.Middleware(o)
				do(h, "GET", "/a")
				r, _ := http.NewRequest("GET", "http://example.com/a", nil)
				r.Header.Set("Accept-Encoding", ae)
				w := &discard{h: http.Header{}}
				b.ReportAllocs()
				for b.Loop() {
					clear(w.h)
					h.ServeHTTP(w, r)
				}
				b.ReportMetric(float64(c.Stats().Bytes), "held-B")
			})
		}
	}
}

// discard is a ResponseWriter that keeps nothing, so the benchmark
// measures the cache and not a recorder's buffer.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}

// BenchmarkSharedRead is what an instance does when it reads a URL from
// the shared backend: the format with the codings stored against the
// one before, which held identity only and had every reader encode br,
// zstd and gzip itself. It reports the bytes stored.
func BenchmarkSharedRead(b *testing.B) {
	comp, _ := compress.New(compress.Config{})
	c, _ := New(Config{Compressor: comp})
	defer c.Close()
	body := productsJSON(150, 1)
	e := &Entry{Status: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(body), ETag: `"a"`, Lifetime: time.Minute}
	c.build(e)
	n := &node{host: "h", uri: "/u", variants: []*Entry{e}}
	current, _ := encodeNode(n, DefaultPackAbove)
	legacy, _ := json.Marshal(wireNode{Host: "h", URI: "/u", Variants: []wireEntry{{
		Status: 200, Header: e.Header, Body: []byte(body), ETag: `"a"`, Lifetime: time.Minute,
	}}})
	for _, f := range []struct {
		name string
		b    []byte
	}{{"identity-json", legacy}, {"codings-lz4", current}} {
		b.Run(f.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				w, bodies, err := decodeNode(f.b)
				if err != nil {
					b.Fatal(err)
				}
				if got := c.fromWire(w, bodies, time.Now()); len(got.variants) != 1 {
					b.Fatal("no variant read")
				}
			}
			b.ReportMetric(float64(len(f.b)), "stored-B")
		})
	}
}
