package memopt_test

import (
	"context"
	"fmt"
	"testing/fstest"
	"time"

	"github.com/perfengine/perfengine/memopt"
)

// Monitor this process, then ask for leaks. A real service keeps monitoring
// for its lifetime and checks DetectLeaks (or the engine does) now and then.
func ExampleNew() {
	m, err := memopt.New(memopt.Options{})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	if err := m.StartMonitoring(ctx, time.Second); err != nil {
		panic(err)
	}
	defer m.Stop(ctx)

	leaks, err := m.DetectLeaks(ctx)
	if err != nil {
		panic(err)
	}
	for _, l := range leaks {
		fmt.Println(l) // e.g. "heap leak: live heap grows 1.0 MiB/min ...; grows in main.cachePut"
	}
	fmt.Println("leaks:", len(leaks))
	// Output: leaks: 0
}

// Components register how to shed memory; the optimizer (or the engine)
// calls them in priority order under pressure.
func ExampleRegistry_Register() {
	m, _ := memopt.New(memopt.Options{})
	cache := map[string][]byte{"a": make([]byte, 1024), "b": make([]byte, 2048)}
	m.Registry().Register("http-cache", 10, func(_ context.Context, p memopt.Pressure) (int64, error) {
		var freed int64
		for k, v := range cache {
			freed += int64(len(v))
			delete(cache, k)
		}
		return freed, nil
	})
	rep, err := m.Cleanup(context.Background(), memopt.PressureWarning)
	fmt.Println(rep.Freed, len(cache), err)
	// Output: 3072 0 <nil>
}

// The trend test on its own: a live heap rising 1 KiB a second, with noise.
func ExampleTrendTest() {
	var ts, ys []float64
	for i := range 60 {
		ts = append(ts, float64(i))
		ys = append(ys, 64<<20+float64(i)*1024+float64((i*7919)%13)*512)
	}
	tr := memopt.TrendTest(ts, ys)
	fmt.Printf("slope %.0f B/s, significant: %v\n", tr.Slope, tr.P < 0.001)
	// Output: slope 1035 B/s, significant: true
}

// Find the cgroup memory limit GOMEMLIMIT should sit under. Pass nil for
// the real file system; here a container's files are given.
func ExampleReadCgroupLimit() {
	fsys := fstest.MapFS{
		"proc/self/cgroup":         {Data: []byte("0::/\n")},
		"proc/self/mountinfo":      {Data: []byte("30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n")},
		"sys/fs/cgroup/memory.max": {Data: []byte("536870912\n")},
	}
	l, err := memopt.ReadCgroupLimit(fsys)
	fmt.Println(l.Bytes>>20, "MiB from", l.File, "cgroup v", l.Version, err)
	// Output: 512 MiB from sys/fs/cgroup/memory.max cgroup v 2 <nil>
}
