package cache

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// maxDirectives bounds how many directives one Cache-Control value may hold,
// so a header repeated thousands of times costs bounded work.
const maxDirectives = 64

// maxDelta caps delta-seconds as RFC 9111 §1.2.2 asks: a larger value is
// treated as this one (2^31 seconds) rather than overflowing.
const maxDelta = time.Duration(1<<31) * time.Second

// ErrCacheControl reports a Cache-Control value that could not be read
// completely. The directives read before the problem are still returned.
var ErrCacheControl = errors.New("cache: malformed Cache-Control")

// Directives is a parsed Cache-Control field, request or response. Durations
// are -1 when the directive is absent. The zero value is not meaningful: use
// ParseCacheControl.
type Directives struct {
	NoStore         bool
	NoCache         bool // response: may be qualified by field names; treated as unqualified
	Private         bool // likewise
	Public          bool
	MustRevalidate  bool
	ProxyRevalidate bool
	NoTransform     bool
	OnlyIfCached    bool
	Immutable       bool
	MustUnderstand  bool

	MaxAge               time.Duration
	SMaxAge              time.Duration
	MaxStale             time.Duration // request; MaxStaleAny when given without a value
	MinFresh             time.Duration
	StaleWhileRevalidate time.Duration
	StaleIfError         time.Duration
}

// MaxStaleAny is MaxStale for a bare "max-stale": any staleness is accepted.
const MaxStaleAny = time.Duration(1<<63 - 1)

// ParseCacheControl reads every Cache-Control field line in values. Unknown
// directives are ignored (RFC 9111 §5.2.3). A malformed directive makes the
// result conservative: for a delta-seconds that does not parse, the directive
// counts as zero (so max-age=abc means stale, as §4.2.1 asks), and the error
// wraps ErrCacheControl. It never panics.
func ParseCacheControl(values []string) (Directives, error) {
	d := noDirectives()
	var bad bool
	n := 0
	for _, v := range values {
		for len(v) > 0 {
			if n++; n > maxDirectives {
				return d, ErrCacheControl
			}
			var item string
			item, v = nextDirective(v)
			item = strings.TrimSpace(item)
			if item == "" {
				continue
			}
			name, arg, hasArg := strings.Cut(item, "=")
			name = strings.TrimSpace(name)
			arg = strings.TrimSpace(arg)
			if !d.apply(name, arg, hasArg) {
				bad = true
			}
		}
	}
	if bad {
		return d, ErrCacheControl
	}
	return d, nil
}

// nextDirective splits at the first comma that is not inside a quoted string.
func nextDirective(s string) (item, rest string) {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if quoted {
				i++
			}
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				return s[:i], s[i+1:]
			}
		}
	}
	return s, ""
}

// apply records one directive; it reports false when its argument is bad.
func (d *Directives) apply(name, arg string, hasArg bool) bool {
	delta := func(dst *time.Duration) bool {
		v, ok := parseDelta(arg)
		if !hasArg || !ok {
			*dst = 0
			return false
		}
		// The first occurrence wins, and a conflicting duplicate makes the
		// response stale, per RFC 9111 §4.2.1 ("invalid" means use zero).
		if *dst >= 0 && *dst != v {
			*dst = 0
			return false
		}
		*dst = v
		return true
	}
	switch strings.ToLower(name) {
	case "no-store":
		d.NoStore = true
	case "no-cache":
		d.NoCache = true
	case "private":
		d.Private = true
	case "public":
		d.Public = true
	case "must-revalidate":
		d.MustRevalidate = true
	case "proxy-revalidate":
		d.ProxyRevalidate = true
	case "no-transform":
		d.NoTransform = true
	case "only-if-cached":
		d.OnlyIfCached = true
	case "immutable":
		d.Immutable = true
	case "must-understand":
		d.MustUnderstand = true
	case "max-age":
		return delta(&d.MaxAge)
	case "s-maxage":
		return delta(&d.SMaxAge)
	case "min-fresh":
		return delta(&d.MinFresh)
	case "stale-while-revalidate":
		return delta(&d.StaleWhileRevalidate)
	case "stale-if-error":
		return delta(&d.StaleIfError)
	case "max-stale":
		if !hasArg {
			d.MaxStale = MaxStaleAny
			return true
		}
		return delta(&d.MaxStale)
	}
	return true
}

// parseDelta reads delta-seconds, optionally quoted (senders must not quote,
// but recipients are asked to tolerate it), saturating at maxDelta.
func parseDelta(s string) (time.Duration, bool) {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	if len(s) > 10 {
		return maxDelta, true
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, false
	}
	if d := time.Duration(n) * time.Second; d < maxDelta {
		return d, true
	}
	return maxDelta, true
}

// noDirectives is the Directives of an absent field.
func noDirectives() Directives {
	return Directives{MaxAge: -1, SMaxAge: -1, MaxStale: -1, MinFresh: -1, StaleWhileRevalidate: -1, StaleIfError: -1}
}

// DefaultTargetedField is this cache's own targeted cache-control field
// (RFC 9213), obeyed ahead of CDN-Cache-Control and Cache-Control.
const DefaultTargetedField = "Perfengine-Cache-Control"

// ParseTargeted reads a targeted cache-control field (RFC 9213 §2.1), a
// Structured Field Dictionary such as `max-age=60, stale-if-error=300`.
// ok is false when the field is absent, empty or does not parse: RFC 9213
// §2.2 then has the cache fall back to the next targeted field or to
// Cache-Control. A directive whose value has the wrong type (max-age=1.5,
// max-age="60", no-store=7) is ignored on its own, as §2.1 asks of values
// that break the directive's inferred constraints.
func ParseTargeted(values []string) (d Directives, ok bool) {
	d = noDirectives()
	if len(values) == 0 {
		return d, false
	}
	dict, err := parseSFDictionary(values)
	if err != nil || len(dict) == 0 {
		return d, false
	}
	for name, m := range dict {
		flag := m.kind == sfBoolean && m.boolean
		// no-cache and private may name fields; a list or string of them
		// is taken as the unqualified directive, the careful reading.
		listed := flag || m.kind == sfInnerList || m.kind == sfString
		delta := func(dst *time.Duration) {
			if m.kind == sfInteger && m.integer >= 0 {
				*dst = min(time.Duration(min(m.integer, int64(maxDelta/time.Second)))*time.Second, maxDelta)
			}
		}
		switch name {
		case "no-store":
			d.NoStore = flag
		case "no-cache":
			d.NoCache = listed
		case "private":
			d.Private = listed
		case "public":
			d.Public = flag
		case "must-revalidate":
			d.MustRevalidate = flag
		case "proxy-revalidate":
			d.ProxyRevalidate = flag
		case "no-transform":
			d.NoTransform = flag
		case "immutable":
			d.Immutable = flag
		case "must-understand":
			d.MustUnderstand = flag
		case "max-age":
			delta(&d.MaxAge)
		case "s-maxage":
			delta(&d.SMaxAge)
		case "stale-while-revalidate":
			delta(&d.StaleWhileRevalidate)
		case "stale-if-error":
			delta(&d.StaleIfError)
		}
	}
	return d, true
}
