package perfengine_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/perfengine/perfengine"
	"github.com/perfengine/perfengine/alert"
)

// An engine on its defaults, with its metrics on a registry of its own.
func ExampleNew() {
	dir, _ := os.MkdirTemp("", "perfengine-example")
	defer os.RemoveAll(dir)

	cfg := perfengine.DefaultConfig()
	cfg.Store.DataDir = dir // the embedded SQLite store lives here
	eng, err := perfengine.New(cfg, perfengine.WithRegisterer(prometheus.NewRegistry()))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	if err := eng.Start(ctx); err != nil { // runs the first cycle before it returns
		fmt.Println(err)
		return
	}
	defer eng.Stop(ctx)

	s := eng.Summary()
	fmt.Println("modules:", s.Modules[0].Name)
	fmt.Println("has goroutine count:", s.Metrics["goroutines"] > 0)
	// Output:
	// modules: runtime
	// has goroutine count: true
}

// Configuration comes from YAML, then the environment; every problem is
// reported at once, naming the field.
func ExampleLoadConfig() {
	dir, _ := os.MkdirTemp("", "perfengine-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "perfengine.yaml")
	os.WriteFile(path, []byte("thresholds:\n  cpu: {warning: 95, critical: 90}\nmonitoringInterval: 50ms\n"), 0o600)

	_, err := perfengine.LoadConfig(path)
	fmt.Println(err)
	// Output:
	// invalid configuration: monitoringInterval=50ms: must be between 100ms and 24h
	// thresholds.cpu.warning=95: must not be above the critical level 90
}

// Validate names the field, the value and the allowed range.
func ExampleConfig_Validate() {
	cfg := perfengine.DefaultConfig()
	cfg.Thresholds.ErrorRate.Critical = 5 // a fraction, not a percentage
	fmt.Println(cfg.Validate())
	// Output:
	// invalid configuration: thresholds.errorRate.critical=5: must be in (0, 1]
}

// Modules that hold memory they can give back (MemoryShedder, such as the
// API module's cache) join the memory module's cleanup registry, so a
// cleanup under memory pressure asks them first.
func ExampleMemoryShedder() {
	api, err := perfengine.NewAPIModuleFromConfig(perfengine.APIConfig{CacheRoutes: "GET /api/products=30s"})
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg := perfengine.DefaultConfig()
	mem, err := perfengine.NewMemoryModuleFromConfig(cfg.Memory, cfg.Thresholds)
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := perfengine.New(cfg, perfengine.WithModules(api, mem)); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("shrink functions:", mem.Optimizer().Registry().Len())
	// Output:
	// shrink functions: 1
}

// A person rolls a release back, with a reason. Without a rollback command
// or webhook the rollback is a dry run: recorded, not performed.
func ExampleEngine_TriggerManualRollback() {
	cfg := perfengine.DefaultConfig()
	cfg.Version = "v2.1.0"
	eng, err := perfengine.New(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	a, err := eng.TriggerManualRollback(context.Background(), "checkout errors after deploy", "", "v2.0.3")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(a.State, a.Params["from"], "->", a.Params["to"])
	fmt.Println(a.Result)
	// Output:
	// applied v2.1.0 -> v2.0.3
	// dry run: would roll back v2.1.0 to v2.0.3
}

// The autoscaler's section can be replaced at run time; a bad one is
// refused naming the field, and the engine keeps the one it had.
func ExampleEngine_ConfigureAutoScaling() {
	dir, _ := os.MkdirTemp("", "perfengine-example")
	defer os.RemoveAll(dir)
	cfg := perfengine.DefaultConfig()
	cfg.Store.DataDir = dir
	eng, err := perfengine.New(cfg, perfengine.WithRegisterer(prometheus.NewRegistry()))
	if err != nil {
		fmt.Println(err)
		return
	}
	as := eng.Config().AutoScaling
	as.MinInstances, as.MaxInstances = 3, 2
	fmt.Println(eng.ConfigureAutoScaling(as))
	as.MaxInstances = 6
	fmt.Println(eng.ConfigureAutoScaling(as), eng.Config().AutoScaling.MaxInstances)
	// Output:
	// invalid configuration: autoScaling.maxInstances=2: must be at least minInstances (3)
	// <nil> 6
}

// Silences mute alerts by their labels until they end; they are kept in
// the store across restarts.
func ExampleEngine_AddSilence() {
	dir, _ := os.MkdirTemp("", "perfengine-example")
	defer os.RemoveAll(dir)
	cfg := perfengine.DefaultConfig()
	cfg.Store.DataDir = dir
	eng, err := perfengine.New(cfg, perfengine.WithRegisterer(prometheus.NewRegistry()))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	if err := eng.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	defer eng.Stop(ctx)
	ms, _ := alert.ParseMatchers(`target="orders-db"`)
	s, err := eng.AddSilence(alert.Silence{Matchers: ms, EndsAt: time.Now().Add(2 * time.Hour), CreatedBy: "ops", Comment: "index rebuild"})
	fmt.Println(err, s.State(time.Now()), len(eng.Silences()))
	// Output: <nil> active 1
}

// The running version comes from the configuration (PERFENGINE_VERSION),
// else from the binary's build information.
func ExampleRunningVersion() {
	cfg := perfengine.DefaultConfig()
	cfg.Version = "v1.4.2"
	fmt.Println(perfengine.RunningVersion(cfg))
	// Output:
	// v1.4.2 config
}
