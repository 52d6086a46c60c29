package memopt

import (
	"strings"
	"unicode"
)

// LeakType is what kind of mistake a leaking site looks like, in the
// seed's five types translated to Go. It is read from the site's stack and
// names, so it is a strong hint, not a proof.
type LeakType string

const (
	// LeakListener is a callback registry or subscriber list that only
	// grows: Subscribe, AddListener, On..., Register, Watch without the
	// matching removal.
	LeakListener LeakType = "event_listener"
	// LeakTimer is tickers and timers never stopped, or goroutines parked
	// in time.Sleep loops that multiply.
	LeakTimer LeakType = "timer"
	// LeakClosure is growth allocated inside a func literal and kept alive
	// by the func value that captured it.
	LeakClosure LeakType = "closure"
	// LeakGrowingMap is a map that only grows, a cache without eviction,
	// told by the runtime's map frames or by a cache's name.
	// It stands in for the seed's "circular references", which are not a
	// leak in Go: its tracing collector frees cycles nothing else reaches.
	LeakGrowingMap LeakType = "growing_map"
	// LeakBlocked is goroutines blocked forever on a channel, lock or
	// select that nothing will wake.
	LeakBlocked LeakType = "blocked_goroutine"
	// LeakUnclassified is growth none of the above explains.
	LeakUnclassified LeakType = "unclassified"
)

// Advice says what to do about a leak of this type.
func (t LeakType) Advice() string {
	switch t {
	case LeakListener:
		return "a registry of callbacks only grows: return an unsubscribe function and call it, or hold listeners weakly"
	case LeakTimer:
		return "tickers or timers are never stopped: defer t.Stop(), and end sleeping loops on a context"
	case LeakClosure:
		return "func values keep what they captured alive: drop the func when done, or capture only what it needs"
	case LeakGrowingMap:
		return "a map only grows: bound it (an LRU, or a TTL sweep); cycles are not the problem in Go, reachability is"
	case LeakBlocked:
		return "goroutines wait on something nothing will send or release: give them a context or a closed channel to leave by"
	}
	return "look at the named site: what keeps these objects reachable?"
}

// classify reads a site's type from its stack (innermost first), its
// function and, for goroutines, its wait state.
func classify(kind LeakKind, s Site) LeakType {
	frames := make([]string, 0, len(s.Stack)+2)
	for _, f := range s.Stack {
		fn, _, _ := strings.Cut(f, " ")
		frames = append(frames, fn)
	}
	frames = append(frames, s.Function, s.CreatedBy)
	has := func(prefixes ...string) bool {
		for _, f := range frames {
			for _, p := range prefixes {
				if strings.HasPrefix(f, p) {
					return true
				}
			}
		}
		return false
	}
	if has("time.NewTicker", "time.NewTimer", "time.AfterFunc", "time.Tick", "time.newTimer", "time.Sleep") ||
		strings.Contains(s.State, "sleep") {
		return LeakTimer
	}
	if kind == LeakGoroutine {
		return LeakBlocked
	}
	for _, f := range frames {
		if listenerName(funcName(f)) {
			return LeakListener
		}
	}
	// Heap profiles hide the runtime's map frames, so a cache is mostly
	// told by its name.
	if has("runtime.mapassign", "internal/runtime/maps.") || cacheName(s.Function) {
		return LeakGrowingMap
	}
	if isClosure(s.Function) {
		return LeakClosure
	}
	return LeakUnclassified
}

// funcName is the name a person wrote, without package, receiver or
// closure suffixes: "example.com/pkg.(*Bus).Subscribe.func1" gives
// "Subscribe".
func funcName(fn string) string {
	if i := strings.LastIndexByte(fn, '/'); i >= 0 {
		fn = fn[i+1:]
	}
	parts := strings.Split(fn, ".")
	for i := len(parts) - 1; i > 0; i-- {
		if p := parts[i]; !strings.HasPrefix(p, "func") && p != "" && !strings.HasPrefix(p, "gowrap") {
			return strings.Trim(p, "(*)")
		}
	}
	return ""
}

// listenerName reports whether a function name registers callbacks.
func listenerName(name string) bool {
	lower := strings.ToLower(name)
	for _, w := range []string{"subscribe", "addlistener", "addeventlistener", "addhandler", "addobserver", "addcallback", "register", "watch", "listen"} {
		if strings.HasPrefix(lower, w) && !strings.HasPrefix(lower, "un") {
			return true
		}
	}
	// OnChange, OnEvent: "On" and an upper-case letter.
	return len(name) > 2 && strings.HasPrefix(name, "On") && unicode.IsUpper(rune(name[2]))
}

// cacheName reports whether a function belongs to, or fills, something
// named as a cache: "pkg.(*userCache).put", "pkg.memoize", "pkg.intern".
func cacheName(fn string) bool {
	if i := strings.LastIndexByte(fn, '/'); i >= 0 {
		fn = fn[i+1:]
	}
	if _, rest, ok := strings.Cut(fn, "."); ok {
		fn = rest // the package name is not the code's
	}
	lower := strings.ToLower(fn)
	return strings.Contains(lower, "cache") || strings.Contains(lower, "memo") || strings.Contains(lower, "intern")
}

// isClosure reports whether fn is a func literal: "pkg.F.func1".
func isClosure(fn string) bool {
	if i := strings.LastIndexByte(fn, '.'); i >= 0 {
		last := fn[i+1:]
		return strings.HasPrefix(last, "func") && len(last) > 4 && last[4] >= '0' && last[4] <= '9'
	}
	return false
}
