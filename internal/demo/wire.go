package demo

import (
	"database/sql"
	"log/slog"
	"net/http"

	"github.com/perfengine/perfengine"
)

// wiring is what the optimizers add to `perfengine demo`: middleware around
// the demo's handler, a database opener, and engine modules.
type wiring struct {
	cfg        perfengine.Config // read-only: the engine's configuration
	log        *slog.Logger
	middleware []func(http.Handler) http.Handler
	openDB     func(path string) (*sql.DB, error) // nil: OpenSQLite
	modules    []perfengine.Module
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
	return nil
}
