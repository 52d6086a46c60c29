package demo

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/perfengine/perfengine"
)

func TestLeakerLeaksPerRequest(t *testing.T) {
	l := newLeaker()
	h := l.middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	for range 2 * LeakGoroutineEveryNReq {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	}
	l.mu.Lock()
	kept := 0
	for _, f := range l.listeners {
		kept += f()
	}
	l.mu.Unlock()
	if want := 2 * LeakGoroutineEveryNReq * LeakBytesPerRequest; kept != want {
		t.Errorf("listeners keep %d bytes, want %d", kept, want)
	}
	// Count the stranded goroutines by their stack, not by the process's
	// goroutine count, which other tests' goroutines move.
	stranded := func() int {
		var b bytes.Buffer
		pprof.Lookup("goroutine").WriteTo(&b, 2)
		return strings.Count(b.String(), "\n"+"github.com/perfengine/perfengine/internal/demo.(*leaker).awaitReply(")
	}
	for deadline := time.Now().Add(5 * time.Second); stranded() < 2 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if got := stranded(); got < 2 {
		t.Errorf("%d goroutines stranded, want 2", got)
	}
	l.stop()
	l.stop() // idempotent
}

func TestWireMemory(t *testing.T) {
	cfg := perfengine.DefaultConfig()
	w := wiring{cfg: cfg, log: slog.New(slog.DiscardHandler)}
	release, err := wireMemory(&w, true)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if len(w.modules) != 1 || w.modules[0].Name() != "memory" || len(w.middleware) != 1 {
		t.Fatalf("wireMemory added %d modules, %d middleware; want the memory module and the leak", len(w.modules), len(w.middleware))
	}
	cfg.Modules.Memory = false
	w = wiring{cfg: cfg, log: slog.New(slog.DiscardHandler)}
	if _, err := wireMemory(&w, true); err == nil || !strings.Contains(err.Error(), "memory module") {
		t.Errorf("wireMemory(--leak, memory off) error = %v, want one naming the memory module", err)
	}
	if _, err := wireMemory(&w, false); err != nil || len(w.modules) != 0 {
		t.Errorf("wireMemory(memory off) = %v with %d modules, want nothing", err, len(w.modules))
	}
}

// TestChurnerGarbage: --garbage keeps its live heap and makes every
// request allocate about GarbageBytesPerRequest; it needs the memory
// module.
func TestChurnerGarbage(t *testing.T) {
	w := wiring{cfg: perfengine.DefaultConfig(), log: slog.New(slog.DiscardHandler), garbage: true}
	release, err := wireMemory(&w, false)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if len(w.middleware) != 1 {
		t.Fatalf("wireMemory(--garbage) added %d middleware, want the churn", len(w.middleware))
	}
	h := w.middleware[0](http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 4 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/api/products", nil))
	}
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got < 4*GarbageBytesPerRequest {
		t.Errorf("4 requests allocated %d bytes, want at least %d", got, 4*GarbageBytesPerRequest)
	}
	cfg := perfengine.DefaultConfig()
	cfg.Modules.Memory = false
	w = wiring{cfg: cfg, log: slog.New(slog.DiscardHandler), garbage: true}
	if _, err := wireMemory(&w, false); err == nil || !strings.Contains(err.Error(), "memory module") {
		t.Errorf("wireMemory(--garbage, memory off) error = %v, want one naming the memory module", err)
	}
}
