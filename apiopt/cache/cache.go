package cache

import (
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/perfengine/perfengine/apiopt/compress"
)

// Defaults.
const (
	DefaultMaxBytes      = 64 << 20
	DefaultMaxEntryBytes = 1 << 20
	DefaultMinTTL        = time.Second
	DefaultMaxTTL        = time.Hour
	DefaultName          = "perfengine"
	// DefaultRevalidateTimeout bounds a background stale-while-revalidate
	// origin call.
	DefaultRevalidateTimeout = 30 * time.Second
	// DefaultKeep is how long an entry stays stored once it can no longer
	// be served without asking the origin.
	DefaultKeep = time.Minute
)

// Config configures a Cache. The zero value means every default.
type Config struct {
	// MaxBytes bounds the memory held by entries (bodies in every coding
	// plus headers); default 64 MiB. Eviction is otter's W-TinyLFU.
	MaxBytes int64
	// MaxEntryBytes is the largest identity body stored; larger responses
	// stream through. Default 1 MiB.
	MaxEntryBytes int
	// MinTTL and MaxTTL bound adaptive lifetimes of entries cached by a route
	// rule, and MaxTTL caps the Last-Modified heuristic. Defaults 1s and 1h.
	MinTTL, MaxTTL time.Duration
	// Adaptive grows a rule-cached entry's lifetime when it revalidates
	// unchanged and shrinks it when it changed.
	Adaptive bool
	// Compressor encodes stored bodies once per coding; nil stores and
	// serves identity only.
	Compressor *compress.Compressor
	// Name identifies this cache in Cache-Status; default "perfengine".
	Name string
	// InvalidateParent makes a successful POST, PUT, PATCH or DELETE also
	// drop every entry of the target's path and of its parent path, with any
	// query: a PUT /items/7 drops GET /items?page=2. RFC 9111 §4.4 alone
	// drops only /items/7 and the Location fields.
	InvalidateParent bool
	// Shared is an optional second level (Redis, see package rediscache)
	// behind the in-process one, shared by every instance.
	Shared Backend
	// Keep is how long an entry stays stored once it is past its lifetime
	// and its stale-while-revalidate and stale-if-error windows, so that a
	// request soon after revalidates it (a 304 from the origin, and the
	// adaptive lifetime learns it was unchanged) instead of fetching it
	// whole; default DefaultKeep. After that the entry is dropped: without
	// it, every URL ever asked for would stay until MaxBytes pushed it out,
	// and a cache that only fills looks like a leak.
	Keep time.Duration
	// PackAbove is the identity body size from which the cache holds a
	// body packed with LZ4, in process when the entry also holds a coded
	// body (so only clients that take identity pay one decompression, at
	// gigabytes per second) and always in Shared, with its codings, so
	// another instance reads them ready instead of encoding them again.
	// Default DefaultPackAbove; negative never packs.
	PackAbove int
	// LocalTTL is how long an entry read from Shared is served from process
	// memory before Shared is asked again; default DefaultLocalTTL.
	LocalTTL time.Duration
	// RouteOf names the route of a request when the handler is not a
	// ServeMux (which sets Request.Pattern). Optional.
	RouteOf func(*http.Request) string
	// TargetedFields are the response fields whose directives this cache
	// obeys instead of Cache-Control and Expires (RFC 9213 targeted cache
	// control), the first present and valid one winning. Default
	// [DefaultTargetedField, "CDN-Cache-Control"]; an empty, non-nil slice
	// obeys Cache-Control alone.
	TargetedFields []string
	// ForwardTargeted sends the targeted fields on to clients. By default
	// the cache they were meant for consumes them, so a browser or a CDN
	// further down never sees directives aimed at this cache.
	ForwardTargeted bool
	// CookieRoutes are the routes (ServeMux patterns) whose responses are
	// stored even though they carry Set-Cookie. The cookie itself is never
	// stored or replayed: a hit answers without it. Every other response
	// that sets a cookie passes through unstored (Cache-Status
	// "detail=set-cookie"), so one user's session never reaches another.
	CookieRoutes []string
	// StorePOST stores a POST response that names its own target URI in
	// Content-Location and carries explicit freshness, as the answer to a
	// later GET of that URI (RFC 9110 §9.3.3). Off by default.
	StorePOST bool
	// Clock is the time source; default time.Now.
	Clock func() time.Time
	// Logger; default discards.
	Logger *slog.Logger
}

// Validate reports every field out of range.
func (c Config) Validate() error {
	var errs []error
	if c.MaxBytes < 0 {
		errs = append(errs, fmt.Errorf("cache: MaxBytes %d must not be negative", c.MaxBytes))
	}
	if c.MaxEntryBytes < 0 {
		errs = append(errs, fmt.Errorf("cache: MaxEntryBytes %d must not be negative", c.MaxEntryBytes))
	}
	if c.Keep < 0 {
		errs = append(errs, fmt.Errorf("cache: Keep %v must not be negative", c.Keep))
	}
	for _, f := range c.TargetedFields {
		if f == "" || strings.ContainsAny(f, " \t\r\n:") {
			errs = append(errs, fmt.Errorf("cache: TargetedFields entry %q is not a field name", f))
		}
	}
	if c.MinTTL < 0 || c.MaxTTL < 0 || (c.MaxTTL > 0 && c.MinTTL > c.MaxTTL) {
		errs = append(errs, fmt.Errorf("cache: MinTTL %v and MaxTTL %v must be non-negative with MinTTL <= MaxTTL", c.MinTTL, c.MaxTTL))
	}
	return errors.Join(errs...)
}

// Stats are the cache's counters since it was made.
type Stats struct {
	Hits, Misses, Stale, Revalidated, Stores, Collapsed, Invalidations uint64
	// BytesFromCache counts identity body bytes served without the origin.
	BytesFromCache uint64
	// BytesSaved counts bytes not sent thanks to stored codings (identity
	// length minus coded length) and to 304 answers.
	BytesSaved uint64
	Entries    int
	Bytes      uint64
	// SharedHits counts entries read from the shared backend, SharedErrors
	// the backend calls that failed (the cache then acts as if it missed).
	SharedHits, SharedErrors uint64
}

// HitRatio is Hits / (Hits + Misses), 0 before any lookup.
func (s Stats) HitRatio() float64 {
	if s.Hits+s.Misses == 0 {
		return 0
	}
	return float64(s.Hits) / float64(s.Hits+s.Misses)
}

// Cache is an RFC 9111 shared HTTP cache used as middleware. It is safe for
// concurrent use; Close releases its background work.
type Cache struct {
	cfg     Config
	now     func() time.Time
	log     *slog.Logger
	store   *otter.Cache[uint64, *node]
	seed    maphash.Seed
	flights flights
	wg      sync.WaitGroup // background revalidations
	closed  atomic.Bool

	rules atomic.Pointer[map[string]time.Duration]

	tagMu sync.Mutex
	tags  map[string]map[uint64]struct{}

	// nextSweep is when a store next drops expired entries (Unix ns).
	nextSweep atomic.Int64
	// shedMu keeps two Sheds from restoring the bound in between.
	shedMu sync.Mutex

	hits, misses, stale, revalidated, stores, collapsed, invalidations atomic.Uint64
	fromCache, saved, sharedHits, sharedErrors                         atomic.Uint64

	hdrHit, hdrStale []string
	// hidden are the response fields never sent downstream (the targeted
	// fields, unless forwarded).
	hidden []string
	// cookieRoutes may store responses that set cookies.
	cookieRoutes map[string]bool
}

// node holds every Vary variant of one URL.
type node struct {
	host, uri string
	variants  []*Entry
	ttlHint   time.Duration // adaptive lifetime for rule-cached entries
}

// New checks cfg and builds a Cache.
func New(cfg Config) (*Cache, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.MaxEntryBytes == 0 {
		cfg.MaxEntryBytes = DefaultMaxEntryBytes
	}
	if cfg.MinTTL == 0 {
		cfg.MinTTL = DefaultMinTTL
	}
	if cfg.MaxTTL == 0 {
		cfg.MaxTTL = DefaultMaxTTL
	}
	if cfg.Name == "" {
		cfg.Name = DefaultName
	}
	if cfg.PackAbove == 0 {
		cfg.PackAbove = DefaultPackAbove
	}
	if cfg.LocalTTL == 0 {
		cfg.LocalTTL = DefaultLocalTTL
	}
	if cfg.Keep == 0 {
		cfg.Keep = DefaultKeep
	}
	targeted := cfg.TargetedFields
	if targeted == nil {
		targeted = []string{DefaultTargetedField, "CDN-Cache-Control"}
	}
	cfg.TargetedFields = make([]string, len(targeted))
	for i, f := range targeted {
		cfg.TargetedFields[i] = http.CanonicalHeaderKey(f)
	}
	c := &Cache{cfg: cfg, now: cfg.Clock, log: cfg.Logger, seed: maphash.MakeSeed(), tags: map[string]map[uint64]struct{}{}}
	if c.now == nil {
		c.now = time.Now
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.hdrHit = []string{cfg.Name + "; hit"}
	c.hdrStale = []string{cfg.Name + "; hit; fwd=stale; detail=stale-while-revalidate"}
	if !cfg.ForwardTargeted {
		c.hidden = cfg.TargetedFields
	}
	c.cookieRoutes = make(map[string]bool, len(cfg.CookieRoutes))
	for _, r := range cfg.CookieRoutes {
		c.cookieRoutes[r] = true
	}
	empty := map[string]time.Duration{}
	c.rules.Store(&empty)
	store, err := otter.New(&otter.Options[uint64, *node]{
		MaximumWeight: uint64(cfg.MaxBytes),
		Weigher: func(_ uint64, n *node) uint32 {
			w := 0
			for _, e := range n.variants {
				w += e.Size()
			}
			return uint32(min(w, 1<<31))
		},
		// Maintenance runs on the calling goroutine: the cache then owns
		// no goroutine that could outlive it.
		Executor:   func(fn func()) { fn() },
		OnDeletion: c.onDeletion,
		Logger:     &otter.NoopLogger{},
	})
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	c.store = store
	return c, nil
}

// Close waits for background revalidations; later requests bypass
// background work. It is idempotent.
func (c *Cache) Close() error {
	c.closed.Store(true)
	c.wg.Wait()
	c.store.StopAllGoroutines()
	return nil
}

// SetRouteTTL caches responses of a route (a ServeMux pattern) that carry
// no explicit freshness for ttl; 0 removes the rule. Responses that are
// private, set cookies, answer Authorization or say no-store are still not
// stored.
func (c *Cache) SetRouteTTL(route string, ttl time.Duration) {
	for {
		old := c.rules.Load()
		next := make(map[string]time.Duration, len(*old)+1)
		for k, v := range *old {
			next[k] = v
		}
		if ttl <= 0 {
			delete(next, route)
		} else {
			next[route] = ttl
		}
		if c.rules.CompareAndSwap(old, &next) {
			return
		}
	}
}

// RouteTTLs returns a copy of the route rules.
func (c *Cache) RouteTTLs() map[string]time.Duration {
	old := c.rules.Load()
	out := make(map[string]time.Duration, len(*old))
	for k, v := range *old {
		out[k] = v
	}
	return out
}

// Stats returns the counters.
func (c *Cache) Stats() Stats {
	return Stats{
		Hits: c.hits.Load(), Misses: c.misses.Load(), Stale: c.stale.Load(),
		Revalidated: c.revalidated.Load(), Stores: c.stores.Load(), Collapsed: c.collapsed.Load(),
		Invalidations: c.invalidations.Load(), BytesFromCache: c.fromCache.Load(), BytesSaved: c.saved.Load(),
		Entries: c.store.EstimatedSize(), Bytes: c.store.WeightedSize(),
		SharedHits: c.sharedHits.Load(), SharedErrors: c.sharedErrors.Load(),
	}
}

func (c *Cache) key(host, uri string) uint64 {
	var h maphash.Hash
	h.SetSeed(c.seed)
	h.WriteString(host)
	h.WriteByte(0)
	h.WriteString(uri)
	return h.Sum64()
}

// requestURI is the path and query a request names, without allocating for
// requests that came off the wire.
func requestURI(r *http.Request) string {
	if r.RequestURI != "" && r.RequestURI[0] == '/' {
		return r.RequestURI
	}
	return r.URL.RequestURI()
}

// lookup finds the variant for r, if any.
func (c *Cache) lookup(key uint64, r *http.Request, uri string) (*node, *Entry) {
	n, ok := c.store.GetIfPresent(key)
	if !ok || n.host != r.Host || n.uri != uri {
		return nil, nil
	}
	for _, e := range n.variants {
		if e.part == nil && e.matches(r.Header) {
			return n, e
		}
	}
	return n, nil
}

// put stores e as the variant of its Vary values, replacing an older one.
func (c *Cache) put(key uint64, host, uri string, e *Entry, ttlHint time.Duration) {
	n, _ := c.store.Compute(key, func(old *node, found bool) (*node, otter.ComputeOp) {
		n := &node{host: host, uri: uri, ttlHint: ttlHint}
		if found && old.host == host && old.uri == uri {
			for _, v := range old.variants {
				if !sameVary(v, e) && len(n.variants) < 16 {
					n.variants = append(n.variants, v)
				}
			}
			if ttlHint == 0 {
				n.ttlHint = old.ttlHint
			}
		}
		n.variants = append(n.variants, e)
		if e.part != nil {
			n.variants = c.assemble(n.variants, e)
		}
		return n, otter.WriteOp
	})
	c.stores.Add(1)
	c.sweep()
	if len(e.Tags) > 0 {
		c.tagMu.Lock()
		for _, t := range e.Tags {
			s := c.tags[t]
			if s == nil {
				s = map[uint64]struct{}{}
				c.tags[t] = s
			}
			s[key] = struct{}{}
		}
		c.tagMu.Unlock()
	}
	if c.cfg.Shared != nil && n != nil {
		c.putShared(n)
	}
}

// sweep drops the entries past their keep deadline, in the background so
// the request that stores pays nothing for a walk over every entry. Stores
// call it, at most every Keep/4: a hit never does, and a cache that stores
// nothing cannot grow, so it needs no goroutine of its own between sweeps.
func (c *Cache) sweep() {
	now := c.now()
	next := c.nextSweep.Load()
	if now.UnixNano() < next || c.closed.Load() ||
		!c.nextSweep.CompareAndSwap(next, now.Add(max(c.cfg.Keep/4, time.Second)).UnixNano()) {
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for k, n := range c.store.All() {
			if n.keepUntil(c.cfg.Keep).After(now) {
				continue
			}
			// Only this node: a request may have stored a fresh one since.
			c.store.Compute(k, func(old *node, found bool) (*node, otter.ComputeOp) {
				if found && old == n {
					return nil, otter.InvalidateOp
				}
				return old, otter.CancelOp
			})
		}
	}()
}

// keepUntil is when the last of n's variants stops being worth storing:
// past its lifetime and stale windows, plus keep for revalidation.
func (n *node) keepUntil(keep time.Duration) time.Time {
	var until time.Time
	for _, e := range n.variants {
		d := e.Lifetime - e.InitialAge + max(e.SWR, e.SIE)
		if d > maxKeep {
			d = maxKeep
		}
		if t := e.StoredAt.Add(max(d, 0) + keep); t.After(until) {
			until = t
		}
	}
	return until
}

// maxKeep bounds keepUntil's arithmetic against overflow.
const maxKeep = 100 * 365 * 24 * time.Hour

// sameVary reports whether b stored after a replaces it: the same request
// selects both, in the same coding and, for 206s, the same range.
func sameVary(a, b *Entry) bool {
	if a.coded != b.coded || (a.part == nil) != (b.part == nil) || (a.part != nil && *a.part != *b.part) {
		return false
	}
	return sameVaryValues(a, b)
}

func sameVaryValues(a, b *Entry) bool {
	if len(a.VaryNames) != len(b.VaryNames) {
		return false
	}
	for i := range a.VaryNames {
		if a.VaryNames[i] != b.VaryNames[i] || a.VaryValues[i] != b.VaryValues[i] {
			return false
		}
	}
	return true
}

func (c *Cache) onDeletion(ev otter.DeletionEvent[uint64, *node]) {
	if ev.Cause == otter.CauseReplacement {
		return
	}
	c.tagMu.Lock()
	for _, e := range ev.Value.variants {
		for _, t := range e.Tags {
			if s := c.tags[t]; s != nil {
				delete(s, ev.Key)
				if len(s) == 0 {
					delete(c.tags, t)
				}
			}
		}
	}
	c.tagMu.Unlock()
}

// Invalidate drops every entry tagged with one of tags (Surrogate-Key) and
// returns how many it dropped. With a shared backend the tags are dropped
// there too, so other instances miss as well.
func (c *Cache) Invalidate(tags ...string) int {
	var keys []uint64
	c.tagMu.Lock()
	for _, t := range tags {
		for k := range c.tags[t] {
			keys = append(keys, k)
		}
		delete(c.tags, t)
	}
	c.tagMu.Unlock()
	n := 0
	for _, k := range keys {
		if _, ok := c.store.Invalidate(k); ok {
			n++
		}
	}
	if c.cfg.Shared != nil {
		n = max(n, c.invalidateSharedTags(tags))
	}
	c.invalidations.Add(uint64(n))
	return n
}

// InvalidateURL drops the entries for a URL ("/path?query" with the host
// of the request it came with, or an absolute URL).
func (c *Cache) InvalidateURL(host, ref string) bool {
	u, err := url.Parse(ref)
	if err != nil {
		return false
	}
	if u.Host != "" {
		if u.Host != host {
			return false // RFC 9111 §4.4: only the same origin
		}
	}
	uri := u.RequestURI()
	k := c.key(host, uri)
	_, ok := c.store.Invalidate(k)
	if c.cfg.Shared != nil {
		c.invalidateShared(host, uri)
	}
	if ok {
		c.invalidations.Add(1)
	}
	return ok
}

// Shed lets go of a fraction (0 to 1) of the bytes the cache holds, the
// entries least likely to be asked for again first (otter's W-TinyLFU), and
// returns the bytes freed. The bound stays as configured, so the cache
// refills on demand: it is the shrink function a memory optimizer calls
// under pressure.
func (c *Cache) Shed(fraction float64) (freed int64) {
	before := c.store.WeightedSize()
	switch {
	case fraction >= 1:
		c.Purge()
	case fraction > 0:
		c.shedMu.Lock()
		c.store.SetMaximum(uint64(float64(before) * (1 - fraction)))
		c.store.SetMaximum(uint64(c.cfg.MaxBytes))
		c.shedMu.Unlock()
	}
	return max(int64(before)-int64(c.store.WeightedSize()), 0)
}

// Purge drops every entry.
func (c *Cache) Purge() {
	c.store.InvalidateAll()
	c.tagMu.Lock()
	clear(c.tags)
	c.tagMu.Unlock()
}
