package cache

import (
	"net/http"
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
func lifetime(h http.Header, cc Directives, code int, date time.Time, maxHeuristic time.Duration) freshness {
	switch {
	case cc.SMaxAge >= 0:
		return freshness{lifetime: cc.SMaxAge, explicit: true}
	case cc.MaxAge >= 0:
		return freshness{lifetime: cc.MaxAge, explicit: true}
	}
	if vs := h["Expires"]; len(vs) > 0 {
		exp, err := http.ParseTime(vs[0])
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

// varyFields returns the request fields a response varies on, without
// Accept-Encoding (the cache stores one identity body and encodes it per
// request, so the coding never splits entries). ok is false for "Vary: *"
// and for fields that identify a user: such responses are not stored.
func varyFields(h http.Header) (fields []string, ok bool) {
	for _, v := range h["Vary"] {
		for f := range strings.SplitSeq(v, ",") {
			f = strings.TrimSpace(f)
			switch {
			case f == "":
			case f == "*":
				return nil, false
			case strings.EqualFold(f, "Accept-Encoding"):
			case strings.EqualFold(f, "Cookie"), strings.EqualFold(f, "Authorization"):
				return nil, false
			default:
				fields = append(fields, http.CanonicalHeaderKey(f))
			}
		}
	}
	return fields, true
}

// requestValue renders a request's values for a Vary field, comparable
// between requests.
func requestValue(h http.Header, name string) string {
	vs := h[name]
	switch len(vs) {
	case 0:
		return ""
	case 1:
		return strings.TrimSpace(vs[0])
	}
	return strings.Join(vs, ",")
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
