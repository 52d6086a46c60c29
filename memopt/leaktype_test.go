package memopt

import (
	"testing"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		kind LeakKind
		site Site
		want LeakType
	}{
		{"subscriber slice", LeakHeap, Site{Function: "example.com/bus.(*Bus).Subscribe",
			Stack: []string{"runtime.growslice /go/src/runtime/slice.go:177", "example.com/bus.(*Bus).Subscribe /src/bus.go:40"}}, LeakListener},
		{"OnChange registry", LeakHeap, Site{Function: "example.com/ui.(*Model).OnChange.func1"}, LeakListener},
		{"unsubscribe is not a registration", LeakHeap, Site{Function: "example.com/bus.(*Bus).Unsubscribe"}, LeakUnclassified},
		{"ticker never stopped", LeakHeap, Site{Function: "example.com/poll.start",
			Stack: []string{"time.newTimer /go/src/time/sleep.go:96", "time.NewTicker /go/src/time/tick.go:38", "example.com/poll.start /src/poll.go:12"}}, LeakTimer},
		{"sleeping loops", LeakGoroutine, Site{Function: "example.com/poll.loop", State: "sleep"}, LeakTimer},
		{"blocked on a channel", LeakGoroutine, Site{Function: "example.com/rpc.(*c).awaitReply", State: "chan receive"}, LeakBlocked},
		{"map cache", LeakHeap, Site{Function: "example.com/cache.(*C).Put",
			Stack: []string{"internal/runtime/maps.newarray /go/src/internal/runtime/maps/table.go:1", "runtime.mapassign_faststr", "example.com/cache.(*C).Put /src/c.go:9"}}, LeakGrowingMap},
		{"closure", LeakHeap, Site{Function: "example.com/jobs.schedule.func2", Stack: []string{"example.com/jobs.schedule.func2 /src/j.go:5"}}, LeakClosure},
		{"named cache", LeakHeap, Site{Function: "example.com/auth.(*tokenCache).put"}, LeakGrowingMap},
		{"plain slice", LeakHeap, Site{Function: "example.com/log.(*Ring).add", Stack: []string{"runtime.growslice", "example.com/log.(*Ring).add"}}, LeakUnclassified},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := classify(tc.kind, tc.site); got != tc.want {
				t.Errorf("classify(%s, %+v) = %s, want %s", tc.kind, tc.site, got, tc.want)
			}
			if tc.want.Advice() == "" {
				t.Error("no advice")
			}
		})
	}
}

var (
	leakListeners []func() int
	leakCache     = map[int64][128]byte{}
)

// Subscribe registers a callback holding a 1 MiB buffer, never removed.
func Subscribe() {
	buf := make([]byte, 1<<20)
	leakListeners = append(leakListeners, func() int { return len(buf) })
}

func fillCache(n int) {
	for i := range int64(n) {
		leakCache[int64(len(leakCache))+i] = [128]byte{}
	}
}

// TestClassifyRealProfiles: the types come out of real heap profiles of
// this process, not only of stacks written by hand.
func TestClassifyRealProfiles(t *testing.T) {
	before, err := ParseHeapProfile(heapProfile(t))
	if err != nil {
		t.Fatal(err)
	}
	for range 8 {
		Subscribe()
	}
	fillCache(1 << 15)
	defer func() { leakListeners, leakCache = nil, map[int64][128]byte{} }()
	after, err := ParseHeapProfile(heapProfile(t))
	if err != nil {
		t.Fatal(err)
	}
	sites, err := DiffHeap(before, after, 10)
	if err != nil {
		t.Fatal(err)
	}
	got := map[LeakType]string{}
	for _, s := range sites {
		got[classify(LeakHeap, s)] = s.Function
	}
	if fn := got[LeakListener]; fn == "" {
		t.Errorf("no event-listener site among %+v", sites)
	}
	if fn := got[LeakGrowingMap]; fn == "" {
		t.Errorf("no growing-map site among %+v", sites)
		for _, s := range sites {
			t.Logf("%s: %q", s.Function, s.Stack)
		}
	}
}
