package memopt_test

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/perfengine/perfengine/memopt"
)

// A service that uses memopt alone exports its figures on its own registry.
func ExampleOptimizer_Collector() {
	m, _ := memopt.New(memopt.Options{})
	reg := prometheus.NewRegistry()
	reg.MustRegister(m.Collector())
	n, _ := testutil.GatherAndCount(reg, "perfengine_memory_heap_live_bytes", "perfengine_memory_goroutines")
	fmt.Println("series:", n)
	// Output: series: 2
}
