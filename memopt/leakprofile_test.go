package memopt

import (
	"context"
	"runtime/pprof"
	"strings"
	"testing"
	"time"
)

// leakForProfile strands a goroutine on a channel that nothing else can
// reach: exactly what the goroutineleak profile finds.
func leakForProfile() {
	ch := make(chan int)
	go func() { ch <- 1 }()
}

// The goroutineleak profile exists only in runtimes built with
// GOEXPERIMENT=goroutineleakprofile (Go 1.26). Run this test with:
//
//	GOEXPERIMENT=goroutineleakprofile go test -run GoroutineLeakProfile ./memopt/
func TestGoroutineLeakProfile(t *testing.T) {
	if pprof.Lookup("goroutineleak") == nil {
		t.Skip("this runtime has no goroutineleak profile (build with GOEXPERIMENT=goroutineleakprofile)")
	}
	m, err := New(Options{ProfileInterval: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	leakForProfile()
	m.mu.Lock()
	m.profile(context.Background(), time.Now())
	m.mu.Unlock()
	leaks, err := m.DetectLeaks(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range leaks {
		if l.Kind == LeakGoroutine && strings.Contains(l.Function(), "leakForProfile") {
			t.Logf("%s: %v", l.Note, l.Sites[0])
			return
		}
	}
	t.Fatalf("DetectLeaks() = %+v, want the goroutine stranded by leakForProfile", leaks)
}
