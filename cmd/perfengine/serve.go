package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/perfengine/perfengine"
	"github.com/perfengine/perfengine/dashboard"
)

// shutdownTimeout bounds the graceful shutdown of the server and engine.
const shutdownTimeout = 10 * time.Second

func newServeCmd() *cobra.Command {
	var sf serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the daemon: engine, dashboard, JSON API, /metrics and /healthz",
		Long: `serve runs the engine as a daemon and serves its dashboard at /, the JSON API
at /api/v1/..., Prometheus metrics at /metrics and /healthz.

The configuration is read from --config (YAML), then from the environment
(PERFENGINE_<SECTION>_<KEY> for every key, see "perfengine config defaults",
and the seed's names such as CPU_WARNING_THRESHOLD); flags override both. An invalid value stops serve with every problem named.
serve refuses to listen beyond loopback without a token (server.token or
PERFENGINE_TOKEN), which guards approve and undo.`,
		Example: `  perfengine serve
  perfengine serve --config perfengine.yaml --data-dir /var/lib/perfengine
  PERFENGINE_TOKEN=$(openssl rand -hex 16) perfengine serve --addr 0.0.0.0:7070
  curl -s http://127.0.0.1:7070/api/v1/summary`,
		Args: cobra.NoArgs,
	}
	sf.register(cmd)
	asJSON := addJSONFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		cfg, _, err := sf.load(cmd)
		if err != nil {
			return err
		}
		return serve(cmd, cfg, *asJSON)
	}
	return cmd
}

func serve(cmd *cobra.Command, cfg perfengine.Config, asJSON bool) error {
	ctx := cmd.Context()
	if err := dashboard.CheckExposure(cfg.Server.Addr, cfg.Server.Token); err != nil {
		return err
	}
	log := newLogger(cmd, asJSON)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// New builds what the configuration names: the database of
	// database.dsn, the regression detector, and the memory module (which
	// here watches the daemon itself). The API and network optimizers wrap
	// an HTTP server and client, so the daemon builds them for its own:
	// modules.api puts the API optimizer in front of the dashboard and the
	// JSON API, modules.network gives the engine's outbound requests
	// (alert and rollback webhooks) the netopt client.
	mods, err := daemonModules(cfg, log, reg)
	if err != nil {
		return err
	}
	eng, err := perfengine.New(cfg, perfengine.WithLogger(log), perfengine.WithRegisterer(reg), perfengine.WithModules(mods.list()...))
	if err != nil {
		mods.close(ctx)
		return err
	}
	var handler http.Handler = dashboard.New(eng, dashboard.Options{Token: cfg.Server.Token, Gatherer: reg, Logger: log, Targets: mods.targets})
	if mods.api != nil {
		handler = mods.api.Optimizer().Middleware(handler)
	}
	ln, err := net.Listen("tcp", cfg.Server.Addr)
	if err != nil {
		return err
	}
	if err := eng.Start(ctx); err != nil {
		ln.Close()
		return fmt.Errorf("start engine: %w", err)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			serveErr <- err
		}
	}()
	url := "http://" + ln.Addr().String()
	if asJSON {
		if err := writeJSON(cmd.OutOrStdout(), map[string]string{"dashboard_url": url}); err != nil {
			log.Warn("write address", "err", err)
		}
	}
	progressf(cmd, "perfengine: dashboard on %s (Ctrl-C to stop)", url)

	var runErr error
	select {
	case <-ctx.Done():
		progressf(cmd, "perfengine: shutting down; a second signal aborts")
	case runErr = <-serveErr:
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		runErr = errors.Join(runErr, fmt.Errorf("shut down server: %w", err))
	}
	if err := eng.Stop(sctx); err != nil {
		runErr = errors.Join(runErr, fmt.Errorf("stop engine: %w", err))
	}
	return runErr
}

// daemonOwnModules are the modules the daemon builds itself: the API and
// network optimizers for its own server and client, and the watcher of the
// targets section.
type daemonOwnModules struct {
	api     *perfengine.APIModule
	network *perfengine.NetworkModule
	targets *perfengine.TargetsModule
}

// daemonModules builds the modules the configuration turns on; the engine
// owns and stops them once it is built.
func daemonModules(cfg perfengine.Config, log *slog.Logger, reg prometheus.Registerer) (daemonOwnModules, error) {
	var d daemonOwnModules
	var err error
	if len(cfg.Targets) > 0 {
		if d.targets, err = perfengine.NewTargetsModule(cfg, log, reg); err != nil {
			return d, err
		}
	}
	if cfg.Modules.API {
		if d.api, err = perfengine.NewAPIModuleFromConfig(cfg.API); err != nil {
			return d, fmt.Errorf("api module: %w", err)
		}
	}
	if cfg.Modules.Network {
		if d.network, err = perfengine.NewNetworkModuleFromConfig(cfg.Network); err != nil {
			d.close(context.Background())
			return d, fmt.Errorf("network module: %w", err)
		}
	}
	return d, nil
}

func (d daemonOwnModules) list() []perfengine.Module {
	var ms []perfengine.Module
	if d.api != nil {
		ms = append(ms, d.api)
	}
	if d.network != nil {
		ms = append(ms, d.network)
	}
	if d.targets != nil {
		ms = append(ms, d.targets)
	}
	return ms
}

// close releases the modules when the engine that would own them was not
// built.
func (d daemonOwnModules) close(ctx context.Context) {
	for _, m := range d.list() {
		if s, ok := m.(perfengine.Starter); ok {
			_ = s.Stop(ctx)
		}
	}
}
