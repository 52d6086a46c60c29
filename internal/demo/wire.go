package demo

import (
	"database/sql"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/perfengine/perfengine"
	"github.com/perfengine/perfengine/apiopt"
)

// wiring is what the optimizers add to `perfengine demo`: middleware around
// the demo's handler, a database opener, and engine modules.
type wiring struct {
	cfg        perfengine.Config // read-only: the engine's configuration
	log        *slog.Logger
	middleware []func(http.Handler) http.Handler
	openDB     func(path string) (*sql.DB, error) // nil: OpenSQLite
	modules    []perfengine.Module
	loadClient *http.Client // nil: Load's own client
	dbPool     int          // MaxOpenConns of the shop's pool, 0 for unlimited
	garbage    bool         // churn garbage on a large live heap (--garbage)
}

// wire is where each optimizer joins the demo, one block per optimizer,
// guarded by its toggle in cfg.Modules, for example:
//
//	if w.cfg.Modules.API {
//		api := apiopt.New(...)
//		w.middleware = append(w.middleware, api.Middleware)
//		w.modules = append(w.modules, perfengine.NewAPIModule(api))
//	}
//
// The runtime module is always there: the engine adds it itself.
func wire(w *wiring) error {
	if w.cfg.Modules.API {
		if err := wireAPI(w); err != nil {
			return err
		}
	}
	if w.cfg.Modules.Database {
		if _, err := wireDatabase(w); err != nil {
			return err
		}
	}
	if w.cfg.Modules.Network {
		if err := wireNetwork(w); err != nil {
			return err
		}
	}
	if w.cfg.Modules.Browser {
		if err := wireBrowser(w); err != nil {
			return err
		}
	}
	if w.cfg.Modules.Regression {
		m, err := perfengine.NewRegressionModule(w.cfg.Regression)
		if err != nil {
			return fmt.Errorf("regression detector: %w", err)
		}
		w.modules = append(w.modules, m)
	}
	return nil
}

// Demo defaults of the API optimizer when the configuration names none: the
// catalogue routes are cached (a PUT drops them again), and a per-IP limit
// sits far above the built-in load so that only a deliberate burst meets 429.
const (
	demoCacheRoutes = "GET /api/products=30s, GET /api/products/{id}=30s"
	demoRateLimit   = 1200 // per minute per client IP: 20/s against the load's 5/s
	demoRateBurst   = 100
)

// wireAPI puts the API optimizer (cache, compression, rate limit, per-route
// statistics) in front of every demo route and its module in the engine.
func wireAPI(w *wiring) error {
	c := w.cfg.API
	if c.CacheRoutes == "" {
		c.CacheRoutes = demoCacheRoutes
	}
	if c.RateLimit == 0 {
		c.RateLimit, c.RateLimitBurst = demoRateLimit, demoRateBurst
	}
	m, err := perfengine.NewAPIModuleFromConfig(c, apiopt.WithLogger(w.log))
	if err != nil {
		return fmt.Errorf("api optimizer: %w", err)
	}
	w.middleware = append(w.middleware, m.Optimizer().Middleware)
	w.modules = append(w.modules, m)
	return nil
}
