package demo

import (
	"fmt"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/perfengine/perfengine"
)

// Leak rates of `perfengine demo --leak`, per request the demo serves: at
// the built-in load of 5 requests a second the heap grows by about
// 4.7 MiB a minute and a goroutine is stranded every second.
const (
	LeakBytesPerRequest    = 16 << 10
	LeakGoroutineEveryNReq = 5
)

// Garbage of `perfengine demo --garbage`: a live heap of small linked
// objects, which every collection must mark, and short-lived objects
// allocated per request, which set how often it collects. At the built-in
// load the GC then takes a large share of the process's CPU, the case
// where a higher GOGC trades memory for CPU.
const (
	GarbageLiveBytes       = 64 << 20
	GarbageBytesPerRequest = 8 << 20
)

// gnode is one small object of the churn: a pointer to mark and some
// payload.
type gnode struct {
	next *gnode
	_    [56]byte
}

// churner keeps GarbageLiveBytes of gnodes alive and allocates
// GarbageBytesPerRequest of them per request, dropped when it ends.
type churner struct {
	live *gnode
}

func chain(bytes int) *gnode {
	var head *gnode
	for range bytes / 64 {
		head = &gnode{next: head}
	}
	return head
}

func newChurner() *churner { return &churner{live: chain(GarbageLiveBytes)} }

func (c *churner) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		runtime.KeepAlive(chain(GarbageBytesPerRequest))
		next.ServeHTTP(w, r)
	})
}

// leaker reproduces the two leaks Go services most often have, per request:
// a listener registered with a registry and never removed (it keeps a
// buffer alive), and a goroutine waiting for a reply nobody will send. It
// is the Go form of the browser's forgotten event listener and pending
// timer. release ends the stranded goroutines at shutdown.
type leaker struct {
	mu        sync.Mutex
	listeners []func() int
	never     chan struct{}
	requests  atomic.Uint64
	release   sync.Once
}

func newLeaker() *leaker { return &leaker{never: make(chan struct{})} }

func (l *leaker) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.subscribe()
		if l.requests.Add(1)%LeakGoroutineEveryNReq == 0 {
			go l.awaitReply()
		}
		next.ServeHTTP(w, r)
	})
}

// subscribe registers a change listener that closes over a request-sized
// buffer and is never unsubscribed: the registry only grows.
func (l *leaker) subscribe() {
	buf := make([]byte, LeakBytesPerRequest)
	for i := range buf {
		buf[i] = byte(i) // touch it, so the pages are really resident
	}
	l.mu.Lock()
	l.listeners = append(l.listeners, func() int { return len(buf) })
	l.mu.Unlock()
}

// awaitReply blocks on a reply channel nobody sends on.
func (l *leaker) awaitReply() {
	<-l.never
}

func (l *leaker) stop() { l.release.Do(func() { close(l.never) }) }

// wireMemory adds the memory module and, with leak, the leaking middleware
// in front of everything (outside the API cache, so cached responses leak
// too). The returned function releases the stranded goroutines; call it
// at shutdown.
func wireMemory(w *wiring, leak bool) (release func(), err error) {
	release = func() {}
	if !w.cfg.Modules.Memory {
		if leak {
			return release, fmt.Errorf("demo --leak needs the memory module enabled")
		}
		if w.garbage {
			return release, fmt.Errorf("demo --garbage needs the memory module enabled")
		}
		return release, nil
	}
	m, err := perfengine.NewMemoryModuleFromConfig(w.cfg.Memory, w.cfg.Thresholds)
	if err != nil {
		return release, fmt.Errorf("memory optimizer: %w", err)
	}
	w.modules = append(w.modules, m)
	if leak {
		l := newLeaker()
		w.middleware = append([]func(http.Handler) http.Handler{l.middleware}, w.middleware...)
		release = l.stop
		w.log.Warn("demo leaks on purpose", "heap_bytes_per_request", LeakBytesPerRequest, "goroutine_every_n_requests", LeakGoroutineEveryNReq)
	}
	if w.garbage {
		c := newChurner()
		w.middleware = append([]func(http.Handler) http.Handler{c.middleware}, w.middleware...)
		w.log.Warn("demo churns garbage on purpose", "live_bytes", GarbageLiveBytes, "garbage_bytes_per_request", GarbageBytesPerRequest)
	}
	return release, nil
}
