package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/perfengine/perfengine"
	"github.com/perfengine/perfengine/internal/demo"
)

// defaultDemoDataDir keeps the seeded demo database between runs, under the
// user's cache directory (~/.cache/perfengine/demo on Linux), or
// .perfengine-demo in the current directory when there is none.
func defaultDemoDataDir() string {
	if dir, err := os.UserCacheDir(); err == nil {
		return filepath.Join(dir, "perfengine", "demo")
	}
	return ".perfengine-demo"
}

func newDemoCmd() *cobra.Command {
	var (
		addr, dashAddr, dataDir string
		noLoad, leak            bool
		rate                    float64
		extraLatency            time.Duration
		dbPool                  int
		visitors                int
		garbage                 bool
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the demo shop with the engine embedded, a light load and the dashboard",
		Long: `demo starts a small product catalogue (a JSON API over SQLite with 20,000
products and deliberate performance problems), embeds the engine in it with
a 2 s monitoring interval, drives a light load against it and serves the
dashboard. The first start seeds the database (about a second); later starts
reuse it. The environment (PERFENGINE_TOKEN, CPU_WARNING_THRESHOLD, ...)
applies as for serve.`,
		Example: `  perfengine demo
  perfengine demo --addr 127.0.0.1:9090 --dashboard-addr 127.0.0.1:9091 --no-load
  perfengine demo --leak    # a heap and a goroutine leak appear in the summary within minutes
  PERFENGINE_VERSION=v2 perfengine demo --extra-latency 200ms   # a slower release, judged against v1's baseline
  perfengine demo --db-pool 1 --load-rate 20   # pool waits; the database module proposes a larger pool
  curl -s 'http://127.0.0.1:8080/api/products?category=books&page=2'
  curl -s http://127.0.0.1:7070/api/v1/summary`,
		Args: cobra.NoArgs,
	}
	cmd.Flags().StringVar(&addr, "addr", demo.DefaultAddr, "`host:port` of the demo service")
	cmd.Flags().StringVar(&dashAddr, "dashboard-addr", demo.DefaultDashboardAddr, "`host:port` of the dashboard")
	cmd.Flags().StringVar(&dataDir, "data-dir", defaultDemoDataDir(), "`directory` for the demo database and the engine's store")
	cmd.Flags().BoolVar(&noLoad, "no-load", false, "do not drive load against the demo")
	cmd.Flags().BoolVar(&leak, "leak", false, "make the demo leak heap memory and goroutines per request, for the memory module to find")
	cmd.Flags().Float64Var(&rate, "load-rate", demo.DefaultLoadRate, "requests per second of the built-in load")
	cmd.Flags().DurationVar(&extraLatency, "extra-latency", 0, "`duration` added to every /api/ request the shop serves itself, as a slower release would be (restart with a new PERFENGINE_VERSION)")
	cmd.Flags().IntVar(&dbPool, "db-pool", 0, "cap the shop's database pool at `n` connections (0: unlimited), as a service configured too small would be, for the database module to resize")
	cmd.Flags().IntVar(&visitors, "load-visitors", 1, "spread the built-in load over `n` callers (the first from the default address, the others from 127.0.0.2, ...), as distinct visitors, so the API optimizer can tell an answer shared by callers")
	cmd.Flags().BoolVar(&garbage, "garbage", false, "make the demo churn short-lived garbage on a 64 MiB live heap, so the GC takes a large share of CPU, for the memory module to tune GOGC")
	asJSON := addJSONFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if dbPool < 0 {
			return fmt.Errorf("--db-pool must be 0 (unlimited) or a number of connections, got %d", dbPool)
		}
		cfg := perfengine.DefaultConfig()
		cfg.MonitoringInterval = perfengine.Duration(demo.DefaultInterval)
		if err := cfg.ApplyEnv(os.LookupEnv); err != nil {
			return err
		}
		log := newLogger(cmd, *asJSON)
		progressf(cmd, "perfengine: demo data in %s", dataDir)
		res, err := demo.Run(cmd.Context(), demo.RunOptions{
			Addr: addr, DashboardAddr: dashAddr, DataDir: dataDir,
			NoLoad: noLoad, LoadRate: rate, Config: cfg, Logger: log, Leak: leak, ExtraLatency: extraLatency, DBPool: dbPool, LoadVisitors: visitors, Garbage: garbage,
			Ready: func(demoURL, dashURL string) {
				progressf(cmd, "perfengine: demo service on %s", demoURL)
				progressf(cmd, "perfengine: dashboard on %s (Ctrl-C to stop)", dashURL)
			},
		})
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(cmd.OutOrStdout(), res)
		}
		_, err = fmt.Fprintf(cmd.OutOrStdout(), "demo stopped: %d requests sent, %d failed, %d skipped\n", res.Load.Sent, res.Load.Failed, res.Load.Skipped)
		return err
	}
	return cmd
}
