package demo

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/perfengine/perfengine"
	"github.com/perfengine/perfengine/dashboard"
)

// Defaults of Run, the `perfengine demo` command.
const (
	DefaultAddr          = "127.0.0.1:8080"
	DefaultDashboardAddr = "127.0.0.1:7070"
	// DefaultInterval is the demo's monitoring interval: short, so figures
	// appear within seconds of the start.
	DefaultInterval = 2 * time.Second
	// ShutdownTimeout bounds the graceful shutdown of servers and engine.
	ShutdownTimeout = 10 * time.Second
)

// RunOptions configure Run. Zero fields take the defaults above.
type RunOptions struct {
	Addr          string // the demo service; default DefaultAddr
	DashboardAddr string // the dashboard; default DefaultDashboardAddr
	DataDir       string // demo database and engine store; required
	NoLoad        bool   // do not drive load
	LoadRate      float64
	// LoadVisitors spreads the load over this many loopback client
	// addresses (LoadOptions.Visitors).
	LoadVisitors int
	// Config is the engine's configuration; Run sets the store's data dir,
	// the database DSN and the dashboard address in it. The zero value uses
	// perfengine.DefaultConfig with DefaultInterval.
	Config perfengine.Config
	Logger *slog.Logger
	// Ready, when set, is called once both servers listen, with their URLs.
	Ready func(demoURL, dashboardURL string)
	// Leak makes the service leak heap and goroutines at a steady rate per
	// request (see LeakBytesPerRequest), for the memory module to find.
	Leak bool
	// TLS serves the shop over HTTPS with HTTP/2 on a self-signed
	// certificate made at start, so that a browser receives the 103 Early
	// Hints the browser optimizer sends (Chrome ignores them on HTTP/1.1).
	TLS bool
	// ExtraLatency is added to every /api/ request the service handles
	// itself (a cache hit is not delayed), as a slower release would be:
	// restart the demo with a new PERFENGINE_VERSION and this, and the
	// regression module judges the release against the previous one.
	ExtraLatency time.Duration
	// PageDelay is added before the home page is written, as a page that
	// runs its queries before it renders would take: the server time that
	// 103 Early Hints let a browser spend fetching (bench/web).
	PageDelay time.Duration
	// DBPool caps the shop's database/sql pool at this many connections
	// (0: unlimited, database/sql's default), as a service configured too
	// small for its load would be: the database module then measures the
	// waits and proposes a size (a moderate action, applied on approval or
	// in aggressive mode) and verifies that the waits went away.
	DBPool int
	// Garbage makes the service keep GarbageLiveBytes of small objects
	// alive and allocate GarbageBytesPerRequest per request, so the GC
	// takes a large share of its CPU: the memory module then proposes a
	// higher GOGC (moderate) and verifies that the GC's share fell.
	Garbage bool
}

// RunResult is what a demo run did.
type RunResult struct {
	DemoURL      string    `json:"demo_url"`
	DashboardURL string    `json:"dashboard_url"`
	Load         LoadStats `json:"load"`
}

// Run is `perfengine demo`: the demo service with the engine embedded, its
// dashboard, and (unless NoLoad) the load driver, until ctx is done; then a
// graceful shutdown. Optimizers join through wire.
func Run(ctx context.Context, o RunOptions) (RunResult, error) {
	if o.DataDir == "" {
		return RunResult{}, errors.New("demo: data dir is required")
	}
	if o.Addr == "" {
		o.Addr = DefaultAddr
	}
	if o.DashboardAddr == "" {
		o.DashboardAddr = DefaultDashboardAddr
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg := o.Config
	if cfg.MonitoringInterval == 0 {
		cfg = perfengine.DefaultConfig()
		cfg.MonitoringInterval = perfengine.Duration(DefaultInterval)
	}
	cfg.Store.DataDir = o.DataDir
	cfg.Server.Addr = o.DashboardAddr
	if cfg.Database.DSN == "" {
		cfg.Database.DSN = "sqlite:" + DBPath(o.DataDir)
	}
	if err := cfg.Validate(); err != nil {
		return RunResult{}, err
	}
	if err := dashboard.CheckExposure(cfg.Server.Addr, cfg.Server.Token); err != nil {
		return RunResult{}, err
	}

	w := wiring{cfg: cfg, log: log, dbPool: o.DBPool, garbage: o.Garbage}
	if err := wire(&w); err != nil {
		return RunResult{}, fmt.Errorf("wire optimizers: %w", err)
	}
	releaseLeak, err := wireMemory(&w, o.Leak)
	if err != nil {
		return RunResult{}, fmt.Errorf("wire optimizers: %w", err)
	}
	defer releaseLeak()
	if o.ExtraLatency > 0 || o.PageDelay > 0 {
		// Innermost, so the optimizers measure it and Early Hints go out
		// before it.
		w.middleware = append(w.middleware, func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
				d := o.PageDelay
				if strings.HasPrefix(r.URL.Path, "/api/") {
					d = o.ExtraLatency
				} else if r.URL.Path != "/" {
					d = 0
				}
				if d > 0 {
					select {
					case <-time.After(d):
					case <-r.Context().Done():
						return
					}
				}
				next.ServeHTTP(rw, r)
			})
		})
	}
	svc, err := New(Options{DataDir: o.DataDir, Logger: log, Middleware: w.middleware, OpenDB: w.openDB})
	if err != nil {
		return RunResult{}, err
	}
	defer svc.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// The shop is instrumented as client_golang's users instrument theirs,
	// so the dashboard's /metrics shows what a daemon watching it as a
	// service target derives latency, throughput and errors from.
	reqDur := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "http_request_duration_seconds", Help: "Latency of the demo shop's requests.", Buckets: prometheus.DefBuckets,
	}, []string{"code", "method"})
	reqs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "http_requests_total", Help: "Requests to the demo shop."}, []string{"code", "method"})
	reg.MustRegister(reqDur, reqs)
	eng, err := perfengine.New(cfg, perfengine.WithLogger(log), perfengine.WithRegisterer(reg), perfengine.WithModules(w.modules...))
	if err != nil {
		return RunResult{}, err
	}

	demoLn, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return RunResult{}, fmt.Errorf("demo service: %w", err)
	}
	dashLn, err := net.Listen("tcp", o.DashboardAddr)
	if err != nil {
		demoLn.Close()
		return RunResult{}, fmt.Errorf("dashboard: %w", err)
	}
	res := RunResult{DemoURL: "http://" + demoLn.Addr().String(), DashboardURL: "http://" + dashLn.Addr().String()}
	var shopTLS *tls.Config
	if o.TLS {
		if shopTLS, err = selfSignedTLS(); err != nil {
			demoLn.Close()
			dashLn.Close()
			return RunResult{}, fmt.Errorf("demo service: certificate: %w", err)
		}
		res.DemoURL = "https://" + demoLn.Addr().String()
		// The load driver must trust the certificate; it goes through a
		// client of its own then, not the network optimizer's.
		pool := x509.NewCertPool()
		pool.AddCert(shopTLS.Certificates[0].Leaf)
		w.loadClient = &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	}

	if err := eng.Start(ctx); err != nil {
		demoLn.Close()
		dashLn.Close()
		return RunResult{}, fmt.Errorf("start engine: %w", err)
	}
	servers := []*http.Server{
		NewServer(promhttp.InstrumentHandlerDuration(reqDur, promhttp.InstrumentHandlerCounter(reqs, svc.Handler())), log),
		NewServer(dashboard.New(eng, dashboard.Options{Token: cfg.Server.Token, Gatherer: reg, Logger: log}), log),
	}
	servers[0].TLSConfig = shopTLS
	serveErr := make(chan error, len(servers))
	for i, ln := range []net.Listener{demoLn, dashLn} {
		go func() {
			serve := servers[i].Serve
			if servers[i].TLSConfig != nil {
				serve = func(ln net.Listener) error { return servers[i].ServeTLS(ln, "", "") }
			}
			if err := serve(ln); !errors.Is(err, http.ErrServerClosed) {
				serveErr <- err
			}
		}()
	}
	if o.Ready != nil {
		o.Ready(res.DemoURL, res.DashboardURL)
	}

	loadCtx, stopLoad := context.WithCancel(ctx)
	var (
		loadWG  sync.WaitGroup
		loadErr error
	)
	if !o.NoLoad {
		loadWG.Go(func() {
			res.Load, loadErr = Load(loadCtx, LoadOptions{BaseURL: res.DemoURL, Rate: o.LoadRate, Client: w.loadClient, Visitors: o.LoadVisitors})
		})
	}

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down; a second signal aborts")
	case runErr = <-serveErr:
		log.Error("server failed", "err", runErr)
	}
	stopLoad()
	loadWG.Wait()
	if loadErr != nil {
		runErr = errors.Join(runErr, loadErr)
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
	defer cancel()
	// The servers drain while the engine ends its cycle: neither waits for
	// the other, so a slow request and a slow module do not add up.
	var (
		stopWG  sync.WaitGroup
		stopMu  sync.Mutex
		stopErr []error
	)
	fail := func(err error) {
		stopMu.Lock()
		stopErr = append(stopErr, err)
		stopMu.Unlock()
	}
	for _, s := range servers {
		stopWG.Go(func() {
			if err := s.Shutdown(sctx); err != nil {
				fail(fmt.Errorf("shut down server: %w", err))
			}
		})
	}
	stopWG.Go(func() {
		if err := eng.Stop(sctx); err != nil {
			fail(fmt.Errorf("stop engine: %w", err))
		}
	})
	stopWG.Wait()
	return res, errors.Join(append([]error{runErr}, stopErr...)...)
}

// NewServer returns an http.Server with timeouts, so a slow or idle client
// cannot hold a connection forever. WriteTimeout leaves room for the
// longest /api/slow.
func NewServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      MaxSlow + 30*time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}
