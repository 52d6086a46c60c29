package memopt

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/fstest"
	"testing/synctest"
	"time"
)

func TestNewRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"alpha", Options{Alpha: 0.7}, "Alpha=0.7"},
		{"window below span", Options{Window: time.Minute, MinSpan: 2 * time.Minute}, "Window=1m0s"},
		{"gogc bounds", Options{GOGCMin: 300, GOGCMax: 200}, "GOGCMin/GOGCMax=300/200"},
		{"ratios", Options{WarningRatio: 0.9, CriticalRatio: 0.5}, "WarningRatio/CriticalRatio=0.9/0.5"},
		{"headroom", Options{LimitHeadroom: 0.95}, "LimitHeadroom=0.95"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.o)
			if !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New(%s) error = %v, want ErrInvalidOptions naming %q", tc.name, err, tc.want)
			}
		})
	}
}

func TestNewWithoutCgroupFiles(t *testing.T) {
	m, err := New(Options{FS: fstest.MapFS{}})
	if err != nil {
		t.Fatal(err)
	}
	met, err := m.Metrics(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if met.Cgroup.Bytes != 0 || !strings.Contains(met.CgroupNote, "no cgroup memory limit") {
		t.Errorf("Metrics() cgroup = %+v, note %q; want none, explained", met.Cgroup, met.CgroupNote)
	}
	if met.Sample.RSS != 0 || met.Sample.Goroutines == 0 || met.Sample.HeapGoal == 0 {
		t.Errorf("Metrics().Sample = %+v, want runtime figures and no RSS (no /proc)", met.Sample)
	}
}

func TestMonitoringLifecycle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, err := New(Options{ProfileInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if err := m.StartMonitoring(ctx, time.Second); err != nil {
			t.Fatal(err)
		}
		if err := m.StartMonitoring(ctx, time.Second); !errors.Is(err, ErrRunning) {
			t.Errorf("second StartMonitoring error = %v, want ErrRunning", err)
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		m.mu.Lock()
		n := len(m.det.gor)
		m.mu.Unlock()
		if n != 11 {
			t.Errorf("after 10 s at 1 s: %d samples, want 11", n)
		}
		if err := m.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		if err := m.Stop(ctx); err != nil {
			t.Errorf("second Stop: %v", err)
		}
		// A stopped optimizer may monitor again.
		if err := m.StartMonitoring(ctx, time.Second); err != nil {
			t.Fatalf("restart: %v", err)
		}
		if err := m.Stop(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

func TestMonitoringEndsWithContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, err := New(Options{ProfileInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		if err := m.StartMonitoring(ctx, time.Second); err != nil {
			t.Fatal(err)
		}
		cancel()
		synctest.Wait()
		if err := m.StartMonitoring(context.Background(), time.Second); err != nil {
			t.Fatalf("StartMonitoring after the context ended: %v", err)
		}
		_ = m.Stop(context.Background())
	})
}

// Observed samples from elsewhere (a replay) confirm a leak; without
// profiles the leak says why it names no site.
func TestObserveReplay(t *testing.T) {
	m, err := New(Options{ProfileInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	s := newSim(3, 2*mib, 0)
	for range 300 {
		m.Observe(s.next())
	}
	leaks, err := m.DetectLeaks(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(leaks) != 1 || leaks[0].Kind != LeakHeap || leaks[0].Note != "profiling disabled" {
		t.Fatalf("DetectLeaks() = %+v, want one heap leak noting profiling is off", leaks)
	}
	if g := leaks[0].GrowthPerMinute; g < 1.5*mib || g > 2.5*mib {
		t.Errorf("GrowthPerMinute = %s, want about 2 MiB", formatBytes(g))
	}
	if !strings.HasPrefix(leaks[0].String(), "heap leak: live heap grows 2.") {
		t.Errorf("String() = %q", leaks[0].String())
	}
}

func TestTimeToLimit(t *testing.T) {
	d, err := NewDetector(Options{}, 200*mib)
	if err != nil {
		t.Fatal(err)
	}
	d.last = Sample{HeapLive: 100 * mib, HeapInUse: 150 * mib, RuntimeTotal: 170 * mib, MemoryLimit: 1 << 62}
	// Footprint at the floor: 100 MiB live + 20 MiB not heap; 80 MiB left
	// at 1 MiB/s.
	lim, ttl := d.timeToLimit(mib)
	if lim != 200*mib || ttl != 80*time.Second {
		t.Errorf("timeToLimit() = %d, %v; want 200 MiB, 80s", lim, ttl)
	}
	d.last.MemoryLimit = 150 * mib
	if lim, ttl = d.timeToLimit(mib); lim != 150*mib || ttl != 30*time.Second {
		t.Errorf("with GOMEMLIMIT: timeToLimit() = %d, %v; want 150 MiB, 30s", lim, ttl)
	}
}

func TestProfileParseFailureIsReported(t *testing.T) {
	m, err := New(Options{ProfileInterval: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	m.captureHeap = func() ([]byte, error) { return []byte("garbage"), nil }
	m.captureGoroutines = func() ([]byte, error) { return []byte("goroutine x [?]:\n"), nil }
	s := newSim(4, 2*mib, 0)
	for range 300 {
		m.Observe(s.next())
	}
	m.mu.Lock()
	m.profile(context.Background(), time.Now())
	m.mu.Unlock()
	leaks, _ := m.DetectLeaks(context.Background())
	if len(leaks) == 0 || !strings.Contains(leaks[0].Note, "unparsable profile") {
		t.Fatalf("DetectLeaks() = %+v, want a leak whose note reports the bad profiles", leaks)
	}
}

func TestKeepSnap(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(v time.Time) time.Time { return v }
	var list []time.Time
	for i := range 20 {
		now := base.Add(time.Duration(i) * time.Minute)
		list = keepSnap(list, now, now.Add(-10*time.Minute), at)
		if len(list) > maxSnapshots {
			t.Fatalf("step %d: %d snapshots, want at most %d", i, len(list), maxSnapshots)
		}
		if list[len(list)-1] != now {
			t.Fatalf("step %d: newest snapshot %v, want %v", i, list[len(list)-1], now)
		}
	}
	// The oldest kept is the oldest inside the window (or the one just
	// before it, kept as the baseline), never older.
	if oldest := list[0]; oldest.Before(base.Add(9 * time.Minute)) {
		t.Errorf("oldest snapshot %v, want within the 10-minute window of %v", oldest, base.Add(19*time.Minute))
	}
}
