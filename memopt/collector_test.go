package memopt_test

import (
	"runtime"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/perfengine/perfengine/memopt"
)

func TestCollectorExportsTheHeap(t *testing.T) {
	m, err := memopt.New(memopt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(m.Collector())
	runtime.GC()
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		got[mf.GetName()] = mf.GetMetric()[0].GetGauge().GetValue()
	}
	if got["perfengine_memory_heap_live_bytes"] <= 0 || got["perfengine_memory_goroutines"] < 1 {
		t.Errorf("heap %v, goroutines %v: want the runtime's figures", got["perfengine_memory_heap_live_bytes"], got["perfengine_memory_goroutines"])
	}
	if got["perfengine_memory_scrape_error"] != 0 {
		t.Error("scrape error reported")
	}
}
