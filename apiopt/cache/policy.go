package cache

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// heuristicStatus lists the status codes RFC 9110 §15.1 calls heuristically
// cacheable: without explicit freshness, only these may get a TTL from us.
func heuristicStatus(code int) bool {
	switch code {
	case 200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501:
		return true
	}
	return false
}

// freshness is what a response's headers say about its lifetime.
type freshness struct {
	lifetime  time.Duration
	explicit  bool // from s-maxage, max-age or Expires
	heuristic bool // from Last-Modified
}

// lifetime computes the freshness lifetime for a shared cache, RFC 9111
// §4.2.1: s-maxage, then max-age, then Expires minus Date, then the 10 %
// Last-Modified heuristic when the status allows it.
//
// With targeted directives (RFC 9213) Expires is ignored as well as
// Cache-Control. An Expires that is not a valid HTTP-date, read strictly,
// means already expired (§5.3).
func lifetime(h http.Header, cc Directives, targeted bool, code int, date time.Time, maxHeuristic time.Duration) freshness {
	switch {
	case cc.SMaxAge >= 0:
		return freshness{lifetime: cc.SMaxAge, explicit: true}
	case cc.MaxAge >= 0:
		return freshness{lifetime: cc.MaxAge, explicit: true}
	}
	if vs := h["Expires"]; len(vs) > 0 && !targeted {
		exp, err := parseHTTPDate(vs[0])
		if err != nil || len(vs) > 1 {
			return freshness{explicit: true} // invalid Expires means already expired
		}
		d := exp.Sub(date)
		if d < 0 {
			d = 0
		}
		return freshness{lifetime: d, explicit: true}
	}
	if !heuristicStatus(code) {
		return freshness{}
	}
	if lm, err := http.ParseTime(h.Get("Last-Modified")); err == nil && lm.Before(date) {
		d := date.Sub(lm) / 10
		if d > maxHeuristic {
			d = maxHeuristic
		}
		return freshness{lifetime: d, heuristic: true}
	}
	return freshness{}
}

// directives returns what governs this cache for a response: the first
// targeted field that is present and valid (RFC 9213 §2.2), else
// Cache-Control. targeted reports which.
func (c *Cache) directives(h http.Header) (cc Directives, targeted bool) {
	for _, f := range c.cfg.TargetedFields {
		if d, ok := ParseTargeted(h[f]); ok {
			return d, true
		}
	}
	cc, _ = ParseCacheControl(h["Cache-Control"])
	return cc, false
}

// understoodStatus lists the status codes whose caching rules this cache
// implements, for must-understand (RFC 9111 §5.2.2.3).
func understoodStatus(code int) bool {
	switch code {
	case 200, 203, 204, 206, 300, 301, 302, 303, 307, 308, 404, 405, 410, 414, 501:
		return true
	}
	return false
}

// ageOf reads the Age field. A list is read by its first member and an
// invalid value is ignored (RFC 9111 §5.1), so "Age: 7200, 0" is 7200 s.
func ageOf(h http.Header) (time.Duration, bool) {
	vs := h["Age"]
	if len(vs) == 0 {
		return 0, false
	}
	v, _, _ := strings.Cut(vs[0], ",")
	d, ok := parseDelta(strings.TrimSpace(v))
	if !ok || strings.HasPrefix(strings.TrimSpace(v), `"`) {
		return 0, false
	}
	return d, true
}

// varyFields returns the request fields a response varies on, without
// Accept-Encoding: the cache stores one identity body and encodes it per
// request, so the coding never splits entries. A response the origin coded
// itself (coded) is stored as sent, and then varyCoding says it varied on
// Accept-Encoding, so only requests that accept its coding get it. ok is
// false for "Vary: *" and for fields that identify a user: such responses
// are not stored.
func varyFields(h http.Header, coded bool) (fields []string, varyCoding, ok bool) {
	for _, v := range h["Vary"] {
		for f := range strings.SplitSeq(v, ",") {
			f = strings.TrimSpace(f)
			switch {
			case f == "":
			case f == "*":
				return nil, false, false
			case strings.EqualFold(f, "Accept-Encoding"):
				varyCoding = coded
			case strings.EqualFold(f, "Cookie"), strings.EqualFold(f, "Authorization"):
				return nil, false, false
			default:
				fields = append(fields, http.CanonicalHeaderKey(f))
			}
		}
	}
	return fields, varyCoding, true
}

// requestValue renders a request's values for a Vary field so that values
// meaning the same compare equal (RFC 9111 §4.1 allows normalising them):
// list members are trimmed, lower-cased, their parameters written without
// spaces, and sorted, so "en-US, fr;q=0.5" and "fr; q=0.5,EN-us" match.
func requestValue(h http.Header, name string) string {
	vs := h[name]
	switch {
	case len(vs) == 0:
		return ""
	case len(vs) == 1 && plainValue(vs[0]):
		return vs[0] // the common case: nothing to normalise, nothing allocated
	}
	var members []string
	for _, v := range vs {
		for m := range strings.SplitSeq(v, ",") {
			if m = normalizeMember(m); m != "" {
				members = append(members, m)
			}
		}
	}
	slices.Sort(members)
	return strings.Join(members, ",")
}

// plainValue reports a value that normalising would leave unchanged: one
// member of lower-case token characters.
func plainValue(v string) bool {
	if v == "" {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == ',' || c == ' ' || c == '\t' || c == ';' || (c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

func normalizeMember(m string) string {
	m = strings.ToLower(strings.TrimSpace(m))
	if !strings.ContainsAny(m, "; \t=") {
		return m
	}
	parts := strings.Split(m, ";")
	for i, p := range parts {
		k, v, ok := strings.Cut(p, "=")
		p = strings.TrimSpace(k)
		if ok {
			p += "=" + strings.TrimSpace(v)
		}
		parts[i] = p
	}
	return strings.Join(parts, ";")
}

// preferredLanguage is the language range an Accept-Language value ranks
// first (highest q, earliest on a tie), lower-cased; "" when none or "*".
func preferredLanguage(v string) string {
	best, bestQ := "", 0.0
	for m := range strings.SplitSeq(v, ",") {
		lang, q := weighted(m)
		if q > bestQ {
			best, bestQ = lang, q
		}
	}
	if best == "*" {
		return ""
	}
	return best
}

// accepts reports whether an Accept-Encoding value takes coding with a
// non-zero weight, "*" included.
func accepts(v, coding string) bool {
	star := -1.0
	for m := range strings.SplitSeq(v, ",") {
		c, q := weighted(m)
		switch {
		case c == coding || (coding == "gzip" && c == "x-gzip"):
			return q > 0
		case c == "*":
			star = q
		}
	}
	return star > 0
}

// weighted splits a list member into its value, lower-cased, and its q.
func weighted(m string) (string, float64) {
	v, params, _ := strings.Cut(m, ";")
	v = strings.ToLower(strings.TrimSpace(v))
	q := 1.0
	for p := range strings.SplitSeq(params, ";") {
		k, val, ok := strings.Cut(p, "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
			f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
			if err != nil || f < 0 || f > 1 {
				return v, 0
			}
			q = f
		}
	}
	if v == "" {
		return v, 0
	}
	return v, q
}

// languageMatches is RFC 4647 basic filtering: a range matches a tag equal
// to it or starting with it followed by "-".
func languageMatches(rng, tag string) bool {
	return rng != "" && tag != "" && (tag == rng || strings.HasPrefix(tag, rng+"-"))
}

// hopByHop and cache-private fields never stored or replayed.
var unstoredFields = []string{
	"Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
	"Proxy-Authenticate", "Set-Cookie", "Age", "Cache-Status", "Content-Length", SurrogateKeyHeader,
}

// SurrogateKeyHeader names the response field that tags an entry with
// space-separated keys for Invalidate. The cache strips it from responses.
const SurrogateKeyHeader = "Surrogate-Key"

// tagsOf reads Surrogate-Key fields.
func tagsOf(h http.Header) []string {
	var tags []string
	for _, v := range h[SurrogateKeyHeader] {
		for _, t := range strings.Fields(v) {
			if len(tags) >= 64 {
				return tags
			}
			tags = append(tags, t)
		}
	}
	return tags
}
