package perfengine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/perfengine/perfengine/memopt"
	"github.com/perfengine/perfengine/metrics"
)

func TestMemoryModuleReportsLeak(t *testing.T) {
	m, err := NewMemoryModuleFromConfig(MemoryConfig{DisableProfiles: true}, DefaultConfig().Thresholds)
	if err != nil {
		t.Fatal(err)
	}
	// Replay five minutes of a live heap growing 2 MiB a minute, one GC a
	// second, with a little noise.
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 300 {
		live := 64<<20 + float64(i)*(2<<20)/60 + float64((i*7919)%11)*65536
		m.Optimizer().Observe(memopt.Sample{Time: start.Add(time.Duration(i) * time.Second), GCCycles: uint64(i + 1),
			HeapLive: uint64(live), Goroutines: 40, MemoryLimit: math.MaxInt64})
	}
	samples, err := m.Collect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, s := range samples {
		got[s.Key()] = s.Value
	}
	if got[MemoryLeaks] != 1 || got[MemoryHeapGrowth] < 1.5*(1<<20) {
		t.Errorf("Collect() = %v, want 1 leak growing about 2 MiB/min", got)
	}
	fs := m.Findings()
	if len(fs) != 1 || fs[0].Kind != "heap_leak" || fs[0].Module != "memory" || !strings.Contains(fs[0].Title, "heap leak: live heap grows 2.") {
		t.Fatalf("Findings() = %+v, want one heap_leak", fs)
	}
	if !strings.Contains(fs[0].Detail, "profiling disabled") {
		t.Errorf("Finding detail = %q, want it to say why no function is named", fs[0].Detail)
	}
}

func TestMemoryModuleTuningAndCleanup(t *testing.T) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		t.Skip("GOGC or GOMEMLIMIT set in the environment: the governor rightly leaves them alone")
	}
	m, err := NewMemoryModuleFromConfig(MemoryConfig{DisableProfiles: true}, DefaultConfig().Thresholds)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	shed := 0
	m.Optimizer().Registry().Register("test-cache", 10, func(context.Context, memopt.Pressure) (int64, error) {
		shed++
		return 1 << 20, nil
	})
	if _, err := m.Collect(ctx); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	acts, err := m.Recommend(ctx, Snapshot{Config: cfg, Latest: map[string]float64{metrics.MemoryUsageRatio: 0.85}})
	if err != nil {
		t.Fatal(err)
	}
	byKind := map[string]Action{}
	for _, a := range acts {
		byKind[a.Kind] = a
	}
	gogc, ok := byKind[ActionSetGOGC]
	if !ok || gogc.Risk != RiskModerate || gogc.Params["from"] != "100" || gogc.Params["to"] != "75" {
		t.Fatalf("Recommend() = %+v, want a moderate GOGC 100 → 75", acts)
	}
	res, err := m.Apply(ctx, gogc)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Message, "GOGC set to 75") {
		t.Errorf("Apply() = %q", res.Message)
	}
	if err := m.Undo(ctx, gogc); err != nil {
		t.Fatalf("Undo(): %v", err)
	}
	if err := m.Undo(ctx, gogc); !errors.Is(err, memopt.ErrStale) {
		t.Errorf("second Undo() = %v, want memopt.ErrStale", err)
	}

	clean, ok := byKind[ActionMemoryCleanup]
	if !ok || clean.Target != "warning" || clean.Risk != RiskSafe {
		t.Fatalf("Recommend() = %+v, want a safe warning cleanup", acts)
	}
	res, err = m.Apply(ctx, clean)
	if err != nil || shed != 1 || !strings.Contains(res.Message, "freed about 1.0 MiB") {
		t.Errorf("Apply(cleanup) = %q, %v after %d shrinks", res.Message, err, shed)
	}
	if err := m.Undo(ctx, clean); !errors.Is(err, ErrNotUndoable) {
		t.Errorf("Undo(cleanup) = %v, want ErrNotUndoable", err)
	}
	if _, err := m.Apply(ctx, Action{Kind: ActionSetGOGC, Params: map[string]string{"from": "x"}}); err == nil {
		t.Error("Apply(bad params) = nil error")
	}
}

func TestMemoryConfigValidate(t *testing.T) {
	tests := []struct {
		name  string
		c     MemoryConfig
		field string
	}{
		{"ok", MemoryConfig{}, ""},
		{"interval", MemoryConfig{SampleInterval: Duration(time.Microsecond)}, "memory.sampleInterval"},
		{"window", MemoryConfig{Window: Duration(time.Minute)}, "memory.window"},
		{"alpha", MemoryConfig{Alpha: 0.9}, "memory.alpha"},
		{"gogc order", MemoryConfig{GOGCMin: 300, GOGCMax: 100}, "memory.gogcMin"},
		{"headroom", MemoryConfig{LimitHeadroom: 0.95}, "memory.limitHeadroom"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var p problems
			tc.c.validate(&p)
			err := p.err()
			if tc.field == "" {
				if err != nil {
					t.Errorf("validate(%+v) = %v, want nil", tc.c, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.field) {
				t.Errorf("validate(%+v) = %v, want a problem with %s", tc.c, err, tc.field)
			}
		})
	}
}

// The engine puts the API module's cache in the memory module's cleanup
// registry: a cleanup under pressure empties the coldest half of the cache.
func TestMemoryCleanupShedsTheAPICache(t *testing.T) {
	api, err := NewAPIModuleFromConfig(APIConfig{CacheRoutes: "GET /items/{n}=1m"})
	if err != nil {
		t.Fatal(err)
	}
	defer api.Stop(context.Background())
	mem, err := NewMemoryModuleFromConfig(MemoryConfig{DisableProfiles: true}, DefaultConfig().Thresholds)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Modules.Memory = true
	newTestEngine(t, cfg, api, mem)
	if n := mem.Optimizer().Registry().Len(); n != 1 {
		t.Fatalf("%d shrink functions registered, want the API cache's", n)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/{n}", func(w http.ResponseWriter, r *http.Request) {
		w.Write(bytes.Repeat([]byte("x"), 8<<10))
	})
	h := api.Optimizer().Middleware(mux)
	for i := range 20 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", fmt.Sprintf("/items/%d", i), nil))
	}
	held := api.Optimizer().Cache().Stats().Bytes
	rep, err := mem.Optimizer().Registry().Shrink(context.Background(), memopt.PressureWarning)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Steps) != 1 || rep.Steps[0].Name != "api" || rep.Freed < int64(held)/3 {
		t.Errorf("cleanup = %+v with %d bytes cached, want the api step freeing about half", rep, held)
	}
}
