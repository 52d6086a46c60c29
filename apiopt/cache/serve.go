package cache

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/perfengine/perfengine/apiopt/compress"
)

// Outcome is what the cache did with one request.
type Outcome uint8

// Outcomes.
const (
	Bypass    Outcome = iota // not a cacheable method, a HEAD or Range miss
	Hit                      // served from storage, fresh or stale-while-revalidate
	Miss                     // went to the origin
	Refreshed                // a stale entry went to the origin and came back unchanged
	Changed                  // a stale entry went to the origin and came back different
)

// Middleware caches next's responses.
func (c *Cache) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.Serve(w, r, next)
	})
}

// TryHit serves r from a fresh stored entry and reports whether it did,
// with the route the entry came from. It does nothing otherwise, so a
// caller can try it before heavier middleware and fall back to Serve.
func (c *Cache) TryHit(w http.ResponseWriter, r *http.Request) (route string, ok bool) {
	return c.TryHitAt(w, r, c.now())
}

// TryHitAt is TryHit with the caller's clock reading, which saves a clock
// read on a path that takes well under a microsecond.
func (c *Cache) TryHitAt(w http.ResponseWriter, r *http.Request, now time.Time) (route string, ok bool) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return "", false
	}
	if len(r.Header["Cache-Control"]) != 0 || len(r.Header["Pragma"]) != 0 || len(r.Header["Range"]) != 0 || len(r.Header["Authorization"]) != 0 {
		return "", false
	}
	uri := requestURI(r)
	_, e := c.lookup(c.key(r.Host, uri), r, uri)
	if e == nil {
		return "", false
	}
	age := e.Age(now)
	if !e.Fresh(age) || (!e.localUntil.IsZero() && now.After(e.localUntil)) {
		return "", false
	}
	c.hits.Add(1)
	c.serveEntry(w, r, e, age, c.hdrHit)
	return e.Route, true
}

// Serve answers r from storage or from next, storing what it may.
// It returns what it did and the route (ServeMux pattern) of the answer.
func (c *Cache) Serve(w http.ResponseWriter, r *http.Request, next http.Handler) (Outcome, string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		c.forwardUnsafe(w, r, next)
		return Bypass, c.routeOf(r)
	}
	var req Directives
	if vs := r.Header["Cache-Control"]; len(vs) > 0 {
		req, _ = ParseCacheControl(vs) // a malformed one only makes us more careful
	} else {
		req = noDirectives()
		if p := r.Header.Get("Pragma"); strings.Contains(strings.ToLower(p), "no-cache") {
			req.NoCache = true
		}
	}
	uri := requestURI(r)
	key := c.key(r.Host, uri)
	n, e := c.lookup(key, r, uri)
	now := c.now()
	if c.cfg.Shared != nil && (n == nil || (e != nil && !e.localUntil.IsZero() && now.After(e.localUntil))) {
		n, e = c.lookupShared(r, key, uri, now)
	}
	if e != nil && !c.shareable(e, r) {
		// An authenticated request may get a different answer than the
		// anonymous one stored; only an explicitly shared one serves it.
		e = nil
	}
	if e != nil {
		age := e.Age(now)
		fresh := e.Fresh(age) && !req.NoCache
		if fresh && req.MaxAge >= 0 && age > req.MaxAge {
			fresh = false
		}
		if fresh && req.MinFresh >= 0 && e.Lifetime-age < req.MinFresh {
			fresh = false
		}
		if fresh {
			c.hits.Add(1)
			c.serveEntry(w, r, e, age, c.hdrHit)
			return Hit, e.Route
		}
		staleBy := age - e.Lifetime
		if !req.NoCache && !e.NoCache && !e.Revalidate {
			if e.SWR > 0 && staleBy < e.SWR && !c.closed.Load() {
				c.hits.Add(1)
				c.stale.Add(1)
				c.serveEntry(w, r, e, age, c.hdrStale)
				c.revalidateInBackground(r, next, key, uri, e)
				return Hit, e.Route
			}
			if req.MaxStale >= 0 && staleBy <= req.MaxStale {
				c.hits.Add(1)
				c.stale.Add(1)
				c.serveEntry(w, r, e, age, []string{c.cfg.Name + "; hit; fwd=stale; detail=max-stale"})
				return Hit, e.Route
			}
		}
	}
	if len(r.Header["Range"]) != 0 && r.Method == http.MethodGet && !req.NoCache {
		if p := c.lookupPart(n, r); p != nil && c.shareable(p, r) {
			if age := p.Age(now); p.Fresh(age) && (req.MaxAge < 0 || age <= req.MaxAge) {
				c.hits.Add(1)
				c.servePart(w, r, p, age, c.hdrHit)
				return Hit, p.Route
			}
		}
	}
	if req.OnlyIfCached {
		w.Header().Set("Cache-Status", c.cfg.Name+"; fwd=miss; detail=only-if-cached")
		http.Error(w, "not in cache", http.StatusGatewayTimeout)
		return Miss, ""
	}
	c.misses.Add(1)
	fwd := "uri-miss"
	switch {
	case e != nil && req.NoCache:
		fwd = "request"
	case e != nil:
		fwd = "stale"
	case n != nil:
		fwd = "vary-miss"
	}
	if len(r.Header["Range"]) != 0 && len(r.Header["If-Range"]) == 0 && r.Method == http.MethodGet {
		// The origin's 206 may be stored; ranges differ, so concurrent
		// range misses are not coalesced.
		return c.origin(w, r, next, key, uri, nil, fwd, req, nil)
	}
	if r.Method == http.MethodHead || len(r.Header["Range"]) != 0 {
		// A HEAD does not fill the cache, nor a conditional range request;
		// the origin answers it as if we were not here.
		w.Header().Set("Cache-Status", c.cfg.Name+"; fwd="+fwd)
		next.ServeHTTP(w, r)
		return Bypass, c.routeOf(r)
	}
	return c.fetch(w, r, next, key, uri, e, fwd, req)
}

// fetch asks the origin, coalescing identical concurrent misses.
func (c *Cache) fetch(w http.ResponseWriter, r *http.Request, next http.Handler, key uint64, uri string, stale *Entry, fwd string, req Directives) (Outcome, string) {
	f, leader := c.flights.join(key)
	if !leader {
		select {
		case <-f.done:
		case <-r.Context().Done():
			return Miss, "" // this client left; the others keep waiting
		}
		if e := f.entry; e != nil && e.matches(r.Header) && c.shareable(e, r) {
			c.collapsed.Add(1)
			c.serveEntry(w, r, e, e.Age(c.now()), []string{c.cfg.Name + "; fwd=" + fwd + "; collapsed"})
			return Miss, e.Route
		}
		return c.origin(w, r, next, key, uri, stale, fwd, req, nil)
	}
	defer c.flights.leave(key, f)
	return c.origin(w, r, next, key, uri, stale, fwd, req, f)
}

// shareable reports whether a response stored for one request may answer
// another: it must not depend on credentials the other request carries.
func (c *Cache) shareable(e *Entry, r *http.Request) bool {
	if len(r.Header["Authorization"]) == 0 {
		return true
	}
	cc, _ := c.directives(e.Header)
	return cc.Public || cc.SMaxAge >= 0 || cc.MustRevalidate
}

// origin calls next and stores what it may. f, when not nil, is released
// as soon as the response is known to be unshareable or is stored.
func (c *Cache) origin(w http.ResponseWriter, r *http.Request, next http.Handler, key uint64, uri string, stale *Entry, fwd string, req Directives, f *flight) (Outcome, string) {
	r2 := r.Clone(r.Context())
	// We store the identity body and answer preconditions ourselves, so the
	// origin gets neither the client's codings nor its validators.
	for _, h := range []string{"Accept-Encoding", "If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since", "If-Range"} {
		r2.Header.Del(h)
	}
	if stale != nil {
		if stale.originETag != "" {
			r2.Header.Set("If-None-Match", stale.originETag)
		}
		if lm := stale.Header.Get("Last-Modified"); lm != "" {
			r2.Header.Set("If-Modified-Since", lm)
		}
	}
	cw := &captureWriter{c: c, w: w, req: r2, orig: r, stale: stale, fwd: fwd, noStore: req.NoStore, flight: f}
	func() {
		defer func() {
			if !cw.decided {
				if p := recover(); p != nil {
					cw.abort = true
					panic(p)
				}
			}
		}()
		next.ServeHTTP(cw, r2)
	}()
	return cw.finish(key, uri), c.routeOf(r2)
}

// routeOf names the route a request took: the ServeMux pattern, set once
// the mux has routed it, else Config.RouteOf.
func (c *Cache) routeOf(r *http.Request) string {
	if r.Pattern != "" {
		return r.Pattern
	}
	if c.cfg.RouteOf != nil {
		return c.cfg.RouteOf(r)
	}
	return ""
}

// serveEntry writes e for r: the coding r accepts, a 304 when r's
// preconditions match, a Range through net/http's ServeContent.
func (c *Cache) serveEntry(w http.ResponseWriter, r *http.Request, e *Entry, age time.Duration, status []string) {
	h := w.Header()
	if e.part != nil {
		c.servePart(w, r, e, age, status)
		return
	}
	if len(r.Header["Range"]) != 0 && r.Method == http.MethodGet {
		c.serveRange(w, r, e, age, status)
		return
	}
	enc := compress.Identity
	if c.cfg.Compressor != nil && !noCompression(r.Header) {
		enc = c.cfg.Compressor.Negotiate(r.Header)
	}
	v := e.variants[enc]
	if v == nil {
		v = e.variants[compress.Identity]
		enc = compress.Identity
	}
	for _, f := range v.fields {
		h[f.name] = f.values
	}
	h["Age"] = ageField(age)
	h["Cache-Status"] = status
	if notModified(r, e) {
		for _, k := range []string{"Content-Length", "Content-Type", "Content-Encoding"} {
			delete(h, k)
		}
		w.WriteHeader(http.StatusNotModified)
		if enc == compress.Identity {
			c.saved.Add(uint64(e.bodyLen))
		} else {
			c.saved.Add(uint64(len(v.body)))
		}
		return
	}
	w.WriteHeader(e.Status)
	if r.Method == http.MethodHead {
		return
	}
	body := v.body
	if enc == compress.Identity {
		body = e.Identity()
	}
	_, _ = w.Write(body)
	c.fromCache.Add(uint64(e.bodyLen))
	if enc != compress.Identity {
		c.saved.Add(uint64(e.bodyLen - len(body)))
	}
}

func (c *Cache) serveRange(w http.ResponseWriter, r *http.Request, e *Entry, age time.Duration, status []string) {
	h := w.Header()
	for _, f := range e.variants[compress.Identity].fields {
		if f.name != "Content-Length" {
			h[f.name] = f.values
		}
	}
	h["Age"] = ageField(age)
	h["Cache-Status"] = status
	http.ServeContent(w, r, "", e.lastMod, bytes.NewReader(e.Identity()))
	c.fromCache.Add(uint64(e.bodyLen))
}

// notModified evaluates If-None-Match (weak comparison, any coding of the
// entry) and, without it, If-Modified-Since, RFC 9110 §13.2.2.
func notModified(r *http.Request, e *Entry) bool {
	if inm := r.Header["If-None-Match"]; len(inm) > 0 {
		for _, line := range inm {
			for line != "" {
				var tag string
				tag, line, _ = strings.Cut(line, ",")
				tag = strings.TrimSpace(tag)
				if tag == "*" {
					return true
				}
				// Weak comparison (RFC 9110 §8.8.3.2): W/ is ignored on both sides.
				tag = strings.TrimPrefix(tag, "W/")
				if sameEntityTag(tag, strings.TrimPrefix(e.ETag, "W/")) || (e.originETag != "" && sameEntityTag(tag, strings.TrimPrefix(e.originETag, "W/"))) {
					return true
				}
			}
		}
		return false
	}
	if ims := r.Header.Get("If-Modified-Since"); ims != "" && !e.lastMod.IsZero() {
		t, err := http.ParseTime(ims)
		return err == nil && !e.lastMod.Truncate(time.Second).After(t)
	}
	return false
}

// sameEntityTag compares a client's tag with ours, accepting our coding
// suffixes ("-br", "-gzip", "-zstd") since they name the same content.
func sameEntityTag(client, ours string) bool {
	if client == ours {
		return true
	}
	if len(ours) < 2 || len(client) <= len(ours) || client[:len(ours)-1] != ours[:len(ours)-1] {
		return false
	}
	switch client[len(ours)-1:] {
	case `-br"`, `-gzip"`, `-zstd"`:
		return true
	}
	return false
}

// forwardUnsafe passes a POST, PUT, DELETE or PATCH through and, when it
// succeeds, invalidates the target URI, Location and Content-Location (RFC
// 9111 §4.4) and the surrogate keys the response names.
func (c *Cache) forwardUnsafe(w http.ResponseWriter, r *http.Request, next http.Handler) {
	if r.Method == http.MethodOptions || r.Method == http.MethodTrace || r.Method == http.MethodConnect {
		next.ServeHTTP(w, r)
		return
	}
	uw := &unsafeWriter{ResponseWriter: w, c: c, r: r}
	next.ServeHTTP(uw, r)
	if !uw.wrote {
		uw.WriteHeader(http.StatusOK)
	}
	uw.storePOST()
}

type unsafeWriter struct {
	http.ResponseWriter
	c     *Cache
	r     *http.Request
	wrote bool
	// post is a POST response kept for later GETs (Config.StorePOST),
	// with its body copied as it streams to the client.
	post *Entry
	buf  bytes.Buffer
}

// keepPOST decides, at WriteHeader, whether a POST response may answer a
// later GET of its target: it names that target in Content-Location and
// gives explicit freshness (RFC 9110 §9.3.3).
func (u *unsafeWriter) keepPOST(code int) {
	c, r, h := u.c, u.r, u.ResponseWriter.Header()
	if !c.cfg.StorePOST || r.Method != http.MethodPost || code != http.StatusOK {
		return
	}
	loc, err := r.URL.Parse(h.Get("Content-Location"))
	if err != nil || h.Get("Content-Location") == "" || (loc.Host != "" && loc.Host != r.Host) || loc.RequestURI() != requestURI(r) {
		return
	}
	cc, targeted := c.directives(h)
	if cc.MaxAge < 0 && cc.SMaxAge < 0 && (targeted || len(h["Expires"]) == 0) {
		return
	}
	get := r.Clone(r.Context())
	get.Method = http.MethodGet
	if e, _ := c.storable(get, h, code, c.now()); e != nil {
		u.post = e
	}
}

// storePOST stores the POST response kept by keepPOST, whole.
func (u *unsafeWriter) storePOST() {
	e := u.post
	if e == nil || u.r.Context().Err() != nil {
		return
	}
	e.Body = bytes.Clone(u.buf.Bytes())
	if e.ETag == "" {
		e.ETag = bodyETag(e.Body)
	}
	u.c.build(e)
	uri := requestURI(u.r)
	u.c.put(u.c.key(u.r.Host, uri), u.r.Host, uri, e, e.Lifetime)
}

func (u *unsafeWriter) Unwrap() http.ResponseWriter { return u.ResponseWriter }

func (u *unsafeWriter) WriteHeader(code int) {
	if u.wrote || (code >= 100 && code < 200) {
		if !u.wrote {
			u.ResponseWriter.WriteHeader(code)
		}
		return
	}
	u.wrote = true
	h := u.ResponseWriter.Header()
	tags := tagsOf(h)
	delete(h, SurrogateKeyHeader)
	if code < 400 {
		u.c.InvalidateURL(u.r.Host, requestURI(u.r))
		for _, f := range []string{"Location", "Content-Location"} {
			if v := h.Get(f); v != "" {
				if ref, err := u.r.URL.Parse(v); err == nil {
					target := ref.RequestURI()
					if ref.Host != "" && ref.Host != u.r.Host {
						continue
					}
					u.c.InvalidateURL(u.r.Host, target)
				}
			}
		}
		if u.c.cfg.InvalidateParent {
			p := u.r.URL.Path
			tags = append(tags, pathTag(p))
			if i := strings.LastIndexByte(strings.TrimSuffix(p, "/"), '/'); i > 0 {
				tags = append(tags, pathTag(p[:i]))
			}
		}
		if len(tags) > 0 {
			u.c.Invalidate(tags...)
		}
	}
	u.keepPOST(code)
	status := u.c.cfg.Name + "; fwd=method"
	if u.post != nil {
		status += "; stored"
	}
	h.Set("Cache-Status", status)
	for _, k := range u.c.hidden {
		delete(h, k)
	}
	u.ResponseWriter.WriteHeader(code)
}

func (u *unsafeWriter) Write(b []byte) (int, error) {
	if !u.wrote {
		u.WriteHeader(http.StatusOK)
	}
	if u.post != nil {
		if u.buf.Len()+len(b) > u.c.cfg.MaxEntryBytes {
			u.post, u.buf = nil, bytes.Buffer{}
		} else {
			u.buf.Write(b)
		}
	}
	return u.ResponseWriter.Write(b)
}

func (u *unsafeWriter) Flush() {
	if !u.wrote {
		u.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(u.ResponseWriter).Flush()
}

// revalidateInBackground refreshes a stale entry once, detached from the
// client that triggered it but bounded in time.
func (c *Cache) revalidateInBackground(r *http.Request, next http.Handler, key uint64, uri string, stale *Entry) {
	f, leader := c.flights.join(key)
	if !leader {
		return
	}
	c.wg.Add(1)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), DefaultRevalidateTimeout)
	r2 := r.Clone(ctx)
	go func() {
		defer c.wg.Done()
		defer cancel()
		defer c.flights.leave(key, f)
		req := noDirectives()
		c.origin(discardWriter{h: http.Header{}}, r2, next, key, uri, stale, "stale", req, f)
	}()
}

type discardWriter struct{ h http.Header }

func (d discardWriter) Header() http.Header         { return d.h }
func (d discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d discardWriter) WriteHeader(int)             {}

func noCompression(h http.Header) bool {
	v := h[compress.NoCompressionHeader]
	return len(v) > 0 && strings.EqualFold(v[0], "true")
}

// Fresh finds a stored response for a GET of host and uri that is fresh at
// now and whose Vary fields match what get returns for the request, for
// servers other than net/http. The caller sends it (VisitHeader, Age,
// HitStatus) and calls CountHit. Requests with Cache-Control, Pragma, Range
// or preconditions belong to Serve.
func (c *Cache) Fresh(host, uri string, get func(name string) string, now time.Time) (*Entry, time.Duration, bool) {
	n, ok := c.store.GetIfPresent(c.key(host, uri))
	if !ok || n.host != host || n.uri != uri {
		return nil, 0, false
	}
	for _, e := range n.variants {
		if e.part == nil && e.matchesFunc(get) {
			age := e.Age(now)
			if !e.Fresh(age) || (!e.localUntil.IsZero() && now.After(e.localUntil)) {
				return nil, 0, false
			}
			return e, age, true
		}
	}
	return nil, 0, false
}

// HitStatus is the Cache-Status value of a fresh hit.
func (c *Cache) HitStatus() string { return c.hdrHit[0] }

// AgeValue formats an age for the Age field without allocating for ages
// under about an hour.
func AgeValue(age time.Duration) string { return ageField(age)[0] }

// CountHit records a hit served outside Serve: body is what was sent in
// coding enc.
func (c *Cache) CountHit(e *Entry, enc compress.Encoding, body []byte) {
	c.hits.Add(1)
	c.fromCache.Add(uint64(e.bodyLen))
	if enc != compress.Identity {
		c.saved.Add(uint64(e.bodyLen - len(body)))
	}
}
