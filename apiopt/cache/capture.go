package cache

import (
	"bufio"
	"bytes"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// captureWriter sits between the origin and the client on a miss. At
// WriteHeader it decides: a storable response is buffered (up to
// MaxEntryBytes) to be stored and then served like a hit; anything else
// streams straight through, and waiting requests are let go at once.
type captureWriter struct {
	c       *Cache
	w       http.ResponseWriter
	req     *http.Request // what the origin saw
	orig    *http.Request // what the client sent
	stale   *Entry
	fwd     string
	noStore bool
	flight  *flight

	hdr     http.Header
	code    int
	decided bool
	buffer  bool // storing: the body goes to buf
	tee     bool // storing a response already streaming to the client
	discard bool // a 304 or an error replaced by the stale entry
	abort   bool
	buf     bytes.Buffer
	entry   *Entry // built at WriteHeader when storable
	detail  string // why the response was not stored, for Cache-Status
}

func (cw *captureWriter) Header() http.Header {
	if cw.hdr == nil {
		cw.hdr = http.Header{}
	}
	return cw.hdr
}

func (cw *captureWriter) WriteHeader(code int) {
	if cw.decided {
		return
	}
	if code >= 100 && code < 200 {
		if code != http.StatusSwitchingProtocols {
			cw.interim(code)
		}
		return
	}
	cw.decided = true
	cw.code = code
	now := cw.c.now()
	h := cw.Header()
	if cw.stale != nil {
		switch {
		case code == http.StatusNotModified:
			cw.discard = true
			return
		case code >= 500 && cw.staleIfError(now):
			cw.discard = true
			return
		}
	}
	e, why := cw.c.storable(cw.req, h, code, now)
	if e != nil && cw.noStore {
		e, why = nil, "request-no-store"
	}
	if e != nil {
		cw.entry = e
		cw.buffer = true
		return
	}
	cw.detail = why
	cw.passThrough()
}

// interim sends a 1xx response (103 Early Hints and its Link fields) to the
// client at once. The handler wrote those fields into our header map, which
// the client's writer never sees, so they are lent to it for the interim
// response and taken back: the final response is built from the entry, and
// an interim response is never stored.
func (cw *captureWriter) interim(code int) {
	dst := cw.w.Header()
	prev := dst.Clone()
	for k, v := range cw.Header() {
		dst[k] = v
	}
	for _, k := range cw.c.hidden {
		delete(dst, k)
	}
	cw.w.WriteHeader(code)
	clear(dst)
	for k, v := range prev {
		dst[k] = v
	}
}

// passThrough sends the header to the client and lets waiters go.
func (cw *captureWriter) passThrough() {
	if cw.flight != nil {
		cw.flight.release(nil)
	}
	cw.buffer = false
	cw.sendHeader()
	if cw.buf.Len() > 0 {
		_, _ = cw.w.Write(cw.buf.Bytes())
		cw.buf = bytes.Buffer{}
	}
}

// sendHeader writes the origin's header to the client as it came, less
// what the cache keeps to itself.
func (cw *captureWriter) sendHeader() {
	dst := cw.w.Header()
	for k, v := range cw.hdr {
		dst[k] = v
	}
	delete(dst, SurrogateKeyHeader)
	for _, k := range cw.c.hidden {
		delete(dst, k)
	}
	status := cw.c.cfg.Name + "; fwd=" + cw.fwd
	if cw.detail != "" {
		status += "; detail=" + cw.detail
	}
	dst.Set("Cache-Status", status)
	cw.w.WriteHeader(cw.code)
}

func (cw *captureWriter) staleIfError(now time.Time) bool {
	e := cw.stale
	if e.Revalidate || e.SIE <= 0 {
		return false
	}
	return e.Age(now)-e.Lifetime < e.SIE
}

func (cw *captureWriter) Write(b []byte) (int, error) {
	if !cw.decided {
		cw.WriteHeader(http.StatusOK)
	}
	switch {
	case cw.discard:
		return len(b), nil
	case cw.buffer:
		if cw.buf.Len()+len(b) > cw.c.cfg.MaxEntryBytes {
			cw.entry = nil
			cw.detail = "too-large"
			if cw.tee {
				cw.buffer, cw.buf = false, bytes.Buffer{}
				if cw.flight != nil {
					cw.flight.release(nil)
				}
			} else {
				cw.passThrough()
			}
			return cw.w.Write(b)
		}
		cw.buf.Write(b)
		if cw.tee {
			return cw.w.Write(b)
		}
		return len(b), nil
	}
	return cw.w.Write(b)
}

// Flush delivers what the handler wrote so far: a handler that flushes
// wants its bytes on the wire now. A storable response keeps being
// captured as it streams (a reverse proxy flushes every chunk of a chunked
// origin response) and is stored once whole.
func (cw *captureWriter) Flush() { _ = cw.FlushError() }

func (cw *captureWriter) FlushError() error {
	if !cw.decided {
		cw.WriteHeader(http.StatusOK)
	}
	if cw.discard {
		return nil
	}
	if cw.buffer && !cw.tee {
		cw.tee = true
		cw.sendHeader()
		if cw.buf.Len() > 0 {
			if _, err := cw.w.Write(cw.buf.Bytes()); err != nil {
				return err
			}
		}
	}
	return http.NewResponseController(cw.w).Flush()
}

func (cw *captureWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	cw.entry = nil
	cw.abort = true
	return http.NewResponseController(cw.w).Hijack()
}

func (cw *captureWriter) Unwrap() http.ResponseWriter { return cw.w }

// finish runs after the origin returned: it stores and serves a buffered
// response, or the refreshed or stale entry.
func (cw *captureWriter) finish(key uint64, uri string) Outcome {
	c := cw.c
	if !cw.decided {
		cw.WriteHeader(http.StatusOK)
	}
	now := c.now()
	// A client that left mid-response may have made the handler stop
	// early: what it wrote is not a whole response and is not stored.
	cancelled := cw.req.Context().Err() != nil
	switch {
	case cw.abort:
		return Miss
	case cw.discard && cw.code == http.StatusNotModified:
		e := c.refresh(cw.stale, cw.hdr, now)
		if e.ByRule && c.cfg.Adaptive {
			e.Lifetime = c.adapt(key, e, true, false)
		}
		c.put(key, cw.orig.Host, uri, e, e.Lifetime)
		if cw.flight != nil {
			cw.flight.release(e)
		}
		c.revalidated.Add(1)
		c.serveEntry(cw.w, cw.orig, e, e.Age(now), []string{c.cfg.Name + "; fwd=stale; fwd-status=304"})
		return Refreshed
	case cw.discard:
		e := cw.stale
		c.serveEntry(cw.w, cw.orig, e, e.Age(now), []string{c.cfg.Name + "; fwd=stale; fwd-status=" + strconv.Itoa(cw.code) + "; detail=stale-if-error"})
		return Miss
	case !cw.buffer || cw.entry == nil:
		return Miss
	case cancelled:
		if !cw.tee {
			cw.passThrough()
		}
		return Miss
	}
	e := cw.entry
	// The buffer grew by doubling: a stored body keeps only its own bytes,
	// not up to as many again of spare capacity, for as long as it lives.
	e.Body = cw.buf.Bytes()
	if cap(e.Body)-len(e.Body) > len(e.Body)/8 {
		e.Body = bytes.Clone(e.Body)
	}
	e.Body = slices.Clip(e.Body)
	if e.ETag == "" {
		e.ETag = bodyETag(e.Body)
	}
	unchanged := cw.stale != nil && cw.stale.ETag == e.ETag
	if e.ByRule && c.cfg.Adaptive {
		e.Lifetime = c.adapt(key, e, unchanged, cw.stale != nil && !unchanged)
	}
	c.build(e)
	c.put(key, cw.orig.Host, uri, e, e.Lifetime)
	if cw.flight != nil {
		cw.flight.release(e)
	}
	if !cw.tee { // a teed response has been sent already
		status := c.cfg.Name + "; fwd=" + cw.fwd + "; stored"
		c.serveEntry(cw.w, cw.orig, e, e.Age(now), []string{status})
	}
	switch {
	case unchanged:
		c.revalidated.Add(1)
		return Refreshed
	case cw.stale != nil:
		return Changed
	}
	return Miss
}

// storable builds the entry for a response a shared cache may store, or
// returns nil and why not, in a word for Cache-Status. RFC 9111 §3 plus our
// own rules: nothing that sets a cookie (unless its route opts in), nothing
// that varies on credentials.
func (c *Cache) storable(req *http.Request, h http.Header, code int, now time.Time) (*Entry, string) {
	if req.Method != http.MethodGet || code == http.StatusNotModified {
		return nil, "method"
	}
	cc, targeted := c.directives(h)
	if cc.MustUnderstand {
		// must-understand overrides no-store for the codes whose caching
		// rules we implement, and forbids storing the others (§5.2.2.3).
		if !understoodStatus(code) {
			return nil, "must-understand"
		}
		cc.NoStore = false
	}
	switch {
	case cc.NoStore:
		return nil, "no-store"
	case cc.Private:
		return nil, "private"
	}
	route := req.Pattern
	if route == "" && c.cfg.RouteOf != nil {
		route = c.cfg.RouteOf(req)
	}
	if len(h["Set-Cookie"]) != 0 && !c.cookieRoutes[route] {
		return nil, "set-cookie"
	}
	var part *span
	if code == http.StatusPartialContent {
		var ok bool
		if part, ok = parseContentRange(h.Get("Content-Range")); !ok || len(h["Content-Range"]) != 1 {
			return nil, "content-range"
		}
	} else if len(h["Content-Range"]) != 0 {
		return nil, "content-range"
	}
	coded := ""
	if ce := strings.ToLower(strings.TrimSpace(h.Get("Content-Encoding"))); ce != "" && ce != "identity" {
		coded = ce // the origin's own coding: stored and served as sent
	}
	if ct := h.Get("Content-Type"); len(ct) >= 17 && ct[:17] == "text/event-stream" {
		return nil, "event-stream"
	}
	auth := len(req.Header["Authorization"]) != 0
	if auth && !cc.Public && cc.SMaxAge < 0 && !cc.MustRevalidate {
		return nil, "authorization"
	}
	fields, varyCoding, ok := varyFields(h, coded != "")
	if !ok {
		return nil, "vary"
	}
	date := now
	if d, err := http.ParseTime(h.Get("Date")); err == nil {
		date = d
	}
	fr := lifetime(h, cc, targeted, code, date, c.cfg.MaxTTL)
	byRule := false
	if !fr.explicit && !cc.NoCache {
		if ttl, ok := (*c.rules.Load())[route]; ok && !auth && (heuristicStatus(code) || code == http.StatusPartialContent) {
			fr = freshness{lifetime: ttl}
			byRule = true
		}
	}
	validator := h.Get("ETag") != "" || h.Get("Last-Modified") != ""
	if fr.lifetime <= 0 && !(cc.NoCache || fr.explicit) {
		// Nothing tells us how long it stays fresh: not worth storing.
		return nil, "no-freshness"
	}
	if fr.lifetime <= 0 && !validator && cc.SMaxAge < 0 && cc.MaxAge < 0 {
		return nil, "no-freshness"
	}
	stored := http.Header{}
	for k, v := range h {
		stored[k] = slices.Clone(v)
	}
	for _, k := range unstoredFields {
		delete(stored, k)
	}
	if len(stored["Date"]) == 0 {
		stored["Date"] = []string{now.UTC().Format(http.TimeFormat)}
	}
	apparent := now.Sub(date)
	if apparent < 0 {
		apparent = 0
	}
	if a, ok := ageOf(h); ok && a > apparent {
		apparent = a
	}
	e := &Entry{
		Status: code, Header: stored, Route: route, Tags: append(tagsOf(h), pathTag(req.URL.Path)),
		StoredAt: now, InitialAge: apparent, Lifetime: fr.lifetime, ByRule: byRule,
		Revalidate: cc.MustRevalidate || cc.ProxyRevalidate || cc.SMaxAge >= 0,
		NoCache:    cc.NoCache,
		SWR:        max(cc.StaleWhileRevalidate, 0), SIE: max(cc.StaleIfError, 0),
		VaryNames:  fields,
		originETag: h.Get("ETag"),
		coded:      coded,
		varyCoding: varyCoding,
		part:       part,
	}
	if lm, err := http.ParseTime(h.Get("Last-Modified")); err == nil {
		e.lastMod = lm
	}
	// The origin's validator, weak or strong, stays the identity
	// representation's: clients revalidate with what the origin gave them.
	if validETag(e.originETag) {
		e.ETag = e.originETag
	}
	e.VaryValues = make([]string, len(fields))
	for i, f := range fields {
		e.VaryValues[i] = requestValue(req.Header, f)
	}
	e.language = strings.ToLower(strings.TrimSpace(h.Get("Content-Language")))
	return e, ""
}

// validETag reports an entity-tag of RFC 9110 §8.8.3 form, W/ optional.
func validETag(t string) bool {
	t = strings.TrimPrefix(t, "W/")
	if len(t) < 2 || t[0] != '"' || t[len(t)-1] != '"' {
		return false
	}
	for i := 1; i < len(t)-1; i++ {
		if c := t[i]; c == '"' || c < 0x21 && c != 0x09 || c == 0x7f {
			return false
		}
	}
	return true
}

// pathTag is the implicit surrogate key of every entry for a path, so a
// write to /items/7 can drop /items?page=2 (Config.InvalidateParent).
func pathTag(p string) string { return "path:" + p }

// refresh applies a 304's header to a stale entry (RFC 9111 §4.3.4).
func (c *Cache) refresh(old *Entry, h http.Header, now time.Time) *Entry {
	e := *old
	e.Header = old.Header.Clone()
	for k, v := range h {
		switch k {
		case "Content-Length", "Content-Type", "Content-Encoding", "Set-Cookie", SurrogateKeyHeader:
			continue
		}
		e.Header[k] = slices.Clone(v)
	}
	e.Header["Date"] = []string{now.UTC().Format(http.TimeFormat)}
	e.StoredAt, e.InitialAge = now, 0
	cc, targeted := c.directives(e.Header)
	if !e.ByRule {
		e.Lifetime = lifetime(e.Header, cc, targeted, e.Status, now, c.cfg.MaxTTL).lifetime
	}
	// The body did not change: build keeps its codings and remakes only
	// the header lines.
	c.build(&e)
	return &e
}

// adapt returns the next lifetime of a rule-cached key: grown by half when
// the content came back unchanged, halved when it changed, within bounds.
func (c *Cache) adapt(key uint64, e *Entry, unchanged, changed bool) time.Duration {
	if !e.ByRule || !c.cfg.Adaptive {
		return e.Lifetime
	}
	cur := e.Lifetime
	if n, ok := c.store.GetIfPresent(key); ok && n.ttlHint > 0 {
		cur = n.ttlHint
	}
	if unchanged {
		cur += cur / 2
	} else if changed {
		cur /= 2
	}
	return min(max(cur, c.cfg.MinTTL), c.cfg.MaxTTL)
}
