package ratelimit

import (
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// KeyFunc names the bucket a request counts against. An empty key skips
// limiting for that request.
type KeyFunc func(r *http.Request) string

// ClientIP keys by the client's address. Behind proxies listed in trusted,
// it walks X-Forwarded-For from the right and takes the first address not
// in trusted; with trusted empty, X-Forwarded-For is ignored (a client can
// write anything there).
func ClientIP(trusted ...netip.Prefix) KeyFunc {
	return func(r *http.Request) string {
		host := r.RemoteAddr
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if len(trusted) == 0 {
			return host
		}
		addr, err := netip.ParseAddr(host)
		if err != nil || !isTrusted(addr, trusted) {
			return host
		}
		xff := r.Header.Values("X-Forwarded-For")
		for i := len(xff) - 1; i >= 0; i-- {
			parts := strings.Split(xff[i], ",")
			for j := len(parts) - 1; j >= 0; j-- {
				a, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
				if err != nil {
					return host // a garbled chain: trust only the peer
				}
				if !isTrusted(a, trusted) {
					return a.String()
				}
			}
		}
		return host
	}
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	a = a.Unmap()
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Header keys by a request header, for example an API key.
func Header(name string) KeyFunc {
	name = http.CanonicalHeaderKey(name)
	return func(r *http.Request) string {
		if v := r.Header[name]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
}

// Route keys by the ServeMux pattern that mux would choose, so each route
// has one shared budget.
func Route(mux *http.ServeMux) KeyFunc {
	return func(r *http.Request) string {
		_, p := mux.Handler(r)
		return p
	}
}

// Headers writes the IETF RateLimit-Policy and RateLimit fields
// (draft-ietf-httpapi-ratelimit-headers) for policy named name.
type Headers struct {
	policy []string
	name   string
}

// NewHeaders prepares the fields for a limit.
func NewHeaders(name string, l Limit) *Headers {
	window := int64(l.Period/time.Second) * int64(l.Burst) / int64(max(l.Rate, 1))
	return &Headers{
		name:   name,
		policy: []string{`"` + name + `";q=` + strconv.Itoa(l.Burst) + ";w=" + strconv.FormatInt(max(window, 1), 10)},
	}
}

// Write sets the fields for d, and Retry-After when d denies.
func (hs *Headers) Write(h http.Header, d Decision) {
	h["Ratelimit-Policy"] = hs.policy
	var buf [64]byte
	b := append(buf[:0], '"')
	b = append(b, hs.name...)
	b = append(b, `";r=`...)
	b = strconv.AppendInt(b, int64(max(d.Remaining, 0)), 10)
	b = append(b, ";t="...)
	b = strconv.AppendInt(b, ceilSeconds(d.ResetAfter), 10)
	h["Ratelimit"] = []string{string(b)}
	if !d.Allowed {
		h["Retry-After"] = []string{strconv.FormatInt(max(ceilSeconds(d.RetryAfter), 1), 10)}
	}
}

func ceilSeconds(d time.Duration) int64 {
	return int64((d + time.Second - 1) / time.Second)
}

// Deny writes the 429 answer.
func Deny(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusTooManyRequests)
	_, _ = w.Write([]byte("rate limit exceeded\n"))
}

// Middleware limits requests with lim, keyed by key, announcing policy
// name. Clock may be nil for time.Now.
func Middleware(lim Limiter, l Limit, key KeyFunc, name string, clock func() time.Time) func(http.Handler) http.Handler {
	if clock == nil {
		clock = time.Now
	}
	hs := NewHeaders(name, l)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			k := key(r)
			if k == "" {
				next.ServeHTTP(w, r)
				return
			}
			d, _ := lim.Allow(r.Context(), k, clock())
			hs.Write(w.Header(), d)
			if !d.Allowed {
				Deny(w)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// Shed is the adaptive limiter as middleware: 503 with Retry-After when
// the learned concurrency limit is reached.
func (a *Adaptive) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.Acquire() {
			ShedResponse(w)
			return
		}
		start := a.now()
		defer func() { a.Release(a.now().Sub(start)) }()
		next.ServeHTTP(w, r)
	})
}

// ShedResponse writes the 503 answer for load shedding.
func ShedResponse(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "1")
	w.Header().Set("Cache-Control", "no-store")
	http.Error(w, "overloaded, retry shortly", http.StatusServiceUnavailable)
}
