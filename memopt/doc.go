// Package memopt is perfengine's memory optimizer: it watches a Go
// process's heap, goroutines and GC, finds leaks while the service runs and
// names the functions behind them, tunes GOGC and GOMEMLIMIT within bounds,
// and sheds memory under pressure.
//
// # How it decides
//
// A Sampler reads runtime/metrics every interval (a few microseconds, no
// stop-the-world): the live heap marked by the last GC, the heap goal,
// objects, goroutines by scheduler state, stacks, the GC's share of CPU,
// whether the GC CPU limiter engaged, GOGC, GOMEMLIMIT and the RSS. The
// Detector keeps one heap point per GC cycle, since the live heap after a GC
// is the floor of the heap's sawtooth and the only place a leak shows, and
// one goroutine count per sample. Over a window (30 minutes by default) it
// runs a Mann–Kendall trend test whose variance is widened by the Hamed–Rao
// correction (runtime series are strongly autocorrelated, which makes the
// plain test cry wolf) and estimates the growth with the Theil–Sen slope,
// which a burst of requests caught by one GC does not move. The first GCs
// of a process that is still loading, whose live heap grows by a quarter or
// more from one GC to the next, are left out. A leak is reported when the
// trend is significant, grows faster than a floor, stands out of the
// series' own spread, keeps growing over the last third of a long window,
// and has held for a minute. A heap leak
// comes with its growth rate and the time until GOMEMLIMIT or the cgroup
// limit is reached.
//
// While a trend is suspected, the optimizer diffs heap profiles
// (github.com/google/pprof/profile) against a baseline taken up to the
// window earlier and names the allocation sites whose in-use bytes grew,
// keeping those that still grew over the second half of that span (a site
// that only grew while the process warmed up is not the leak), and
// diffs goroutine dumps grouped by function, wait state and creator. Where
// the runtime has the goroutineleak profile (GOEXPERIMENT=goroutineleakprofile
// in Go 1.26), goroutines blocked on channels nothing else can reach are
// reported from it directly.
//
// # Browser leaks and their Go forms
//
// The seed's leak types come from JavaScript in browsers. Go has no DOM and
// a tracing GC that collects cycles, so the list maps as follows, and the
// optimizer reports what it can observe, not a guess at the type:
//
//   - Closures and event listeners become callback registries that only
//     grow: a subscriber list or handler map appended to per request and
//     never pruned. Seen as a heap leak; the profile diff names the function
//     that allocates what the callbacks keep.
//   - Timers become tickers never stopped and goroutines looping on them,
//     and goroutines blocked forever on a channel nobody will use (the
//     abandoned reply channel). Seen as a goroutine leak, grouped by the
//     function the goroutines run, where they block ("chan receive",
//     "select") and who started them.
//   - Detached DOM references become maps used as caches without bounds or
//     expiry, and slices re-sliced from huge arrays. Seen as a heap leak
//     named at the insert site. The browser's own detached nodes are
//     counted in Chromium by webopt/audit's DetachedDOM.
//   - Circular references do not leak in Go: the collector frees cycles.
//     What stays is reachability from a global, a long-lived registry or a
//     goroutine's stack, which the heap diff attributes.
//
// A finalizer or cleanup that never runs, memory outside the Go heap (cgo,
// mmap) and fragmentation are not diagnosed; RSS growth without heap growth
// hints at them.
//
// # Acting
//
// The Governor sets GOMEMLIMIT to the cgroup limit less a headroom unless
// the user set one, lowers GOGC under memory pressure, raises it when the GC
// takes much CPU while memory is plentiful, and backs off when the GC CPU
// limiter engages (the heap thrashing against the limit). It never moves a
// GOGC or GOMEMLIMIT the user chose, in the environment or in code. Every
// change is recorded and can be undone. The Registry lets components
// register shrink functions with priorities; Cleanup calls them in order and,
// under critical pressure, debug.FreeOSMemory last.
//
// # Example
//
//	m, err := memopt.New(memopt.Options{})
//	if err != nil {
//		return err
//	}
//	m.Registry().Register("sessions", 20, sessions.Shrink)
//	if err := m.StartMonitoring(ctx, 5*time.Second); err != nil {
//		return err
//	}
//	defer m.Stop(context.WithoutCancel(ctx))
//	...
//	leaks, _ := m.DetectLeaks(ctx)
//	for _, l := range leaks {
//		log.Print(l) // heap leak: live heap grows 4.7 MiB/min (now 58.3 MiB, p=1e-08); grows in main.(*hub).subscribe
//	}
//
// In perfengine the memory module (perfengine.NewMemoryModuleFromConfig)
// runs this for the engine, turns leaks into findings and tunings into
// actions, and `perfengine demo --leak` shows both kinds of leak found.
package memopt
