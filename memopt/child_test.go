package memopt

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// childEnv makes the test binary run as a leaking child (see TestMain).
const childEnv = "MEMOPT_TEST_LEAKING_CHILD"

// childOptions are sped up so a leak shows in seconds: a real service is
// watched over minutes, but the arithmetic is the same.
func childOptions() Options {
	return Options{Interval: 50 * time.Millisecond, Window: time.Minute, MinSpan: 3 * time.Second,
		ConfirmFor: 2 * time.Second, ProfileInterval: time.Second, MinRelativeGrowth: 0.01}
}

type childLine struct {
	Sample *Sample `json:"sample,omitempty"`
	Leaks  []Leak  `json:"leaks,omitempty"`
}

var (
	childKept [][]byte
	childMu   sync.Mutex
)

// childLeakHeap keeps what it allocates: the heap leak the parent must find.
func childLeakHeap() {
	b := make([]byte, 64<<10)
	for i := range b {
		b[i] = byte(i)
	}
	childMu.Lock()
	childKept = append(childKept, b)
	childMu.Unlock()
}

// childBlockForever waits on a channel nobody sends on: the goroutine leak.
func childBlockForever(ch chan struct{}) { <-ch }

var childSink []byte

// runLeakingChild leaks heap and goroutines at a steady rate, samples itself
// and prints every sample and its own leak reports as JSON lines, until the
// parent has what it needs or time runs out.
func runLeakingChild() int {
	m, err := New(childOptions())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	enc := json.NewEncoder(os.Stdout)
	never := make(chan struct{})
	deadline := time.Now().Add(45 * time.Second)
	tick := time.NewTicker(childOptions().Interval)
	defer tick.Stop()
	for i := 0; time.Now().Before(deadline); i++ {
		<-tick.C
		childLeakHeap()
		if i%2 == 0 {
			go childBlockForever(never)
		}
		for range 16 { // garbage, so the GC runs and the live heap is measured
			childSink = make([]byte, 128<<10)
		}
		s := m.Poll(context.Background())
		leaks, _ := m.DetectLeaks(context.Background())
		if err := enc.Encode(childLine{Sample: &s, Leaks: leaks}); err != nil {
			return 1 // the parent went away
		}
	}
	return 0
}

func TestChildProcessLeak(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cancel()
		_ = cmd.Wait()
	}()

	det, err := NewDetector(childOptions(), 0)
	if err != nil {
		t.Fatal(err)
	}
	var first time.Time
	found := map[LeakKind]time.Duration{}
	named := map[LeakKind]string{}
	sc := bufio.NewScanner(out)
	sc.Buffer(nil, 4<<20)
	for sc.Scan() && (len(found) < 2 || len(named) < 2) {
		var l childLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("child wrote %q: %v", sc.Text(), err)
		}
		if l.Sample == nil {
			continue
		}
		if first.IsZero() {
			first = l.Sample.Time
		}
		det.Add(*l.Sample)
		for _, k := range det.Leaks() {
			if _, ok := found[k.Kind]; !ok {
				found[k.Kind] = l.Sample.Time.Sub(first)
			}
		}
		for _, k := range l.Leaks {
			if f := k.Function(); f != "" {
				named[k.Kind] = f
			}
		}
	}
	for _, kind := range []LeakKind{LeakHeap, LeakGoroutine} {
		if _, ok := found[kind]; !ok {
			t.Errorf("parent's detector found no %s leak in the child's samples", kind)
		}
	}
	if f := named[LeakHeap]; !strings.HasSuffix(f, ".childLeakHeap") {
		t.Errorf("child's heap leak names %q, want childLeakHeap", f)
	}
	if f := named[LeakGoroutine]; !strings.HasSuffix(f, ".childBlockForever") {
		t.Errorf("child's goroutine leak names %q, want childBlockForever", f)
	}
	t.Logf("child samples: heap leak found after %v, goroutine leak after %v; named %q and %q",
		found[LeakHeap], found[LeakGoroutine], named[LeakHeap], named[LeakGoroutine])
}
