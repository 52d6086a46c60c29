package demo

import (
	"database/sql"
	"fmt"
	"time"

	"github.com/perfengine/perfengine"
	"github.com/perfengine/perfengine/dbopt"
	"github.com/perfengine/perfengine/dbopt/querytrace"
	"modernc.org/sqlite"
)

// sqliteOptions are OpenSQLite's settings, repeated here because the
// database optimizer opens the file through its timing driver instead.
const sqliteOptions = "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate"

// demoAdviceInterval: the demo should find the /api/search index within a
// minute of load, not the five minutes a real service waits.
const demoAdviceInterval = 30 * time.Second

// wireDatabase opens the demo database through querytrace, so every
// statement the shop runs is timed, and adds the database module, which
// advises on those statements. The demo lets the engine create the index
// it finds by itself: showing that is the demo's point.
func wireDatabase(w *wiring) (*perfengine.DatabaseModule, error) {
	c := w.cfg.Database
	c.AutoCreateIndexes = true
	if c.AdviceInterval.D() == 0 || c.AdviceInterval.D() > demoAdviceInterval {
		c.AdviceInterval = perfengine.Duration(demoAdviceInterval)
	}
	m, err := perfengine.NewDatabaseModule(nil, c)
	if err != nil {
		return nil, fmt.Errorf("database optimizer: %w", err)
	}
	rec := querytrace.NewRecorder(0)
	th := dbopt.Thresholds{}
	if c.SlowQueryThreshold > 0 {
		th.SlowQueryMs = float64(c.SlowQueryThreshold.D()) / float64(time.Millisecond)
	}
	w.openDB = func(path string) (*sql.DB, error) {
		db := querytrace.Open(&sqlite.Driver{}, path+sqliteOptions, rec)
		if err := db.Ping(); err != nil {
			db.Close()
			return nil, err
		}
		if w.dbPool > 0 {
			db.SetMaxOpenConns(w.dbPool)
			db.SetMaxIdleConns(w.dbPool)
		}
		// The shop's own pool, so its utilisation and waits are measured
		// and a pool too small for the load is resized.
		m.Attach(dbopt.NewSQLite(db, dbopt.WithRecorder(rec), dbopt.WithLogger(w.log), dbopt.WithThresholds(th), dbopt.WithSQLPool(db)))
		return db, nil
	}
	// Each request's statements are grouped under its route, for the
	// N+1 patterns (GET /api/related/{id} has one on purpose). Innermost
	// but for the mux, whose pattern it reads.
	reqs := querytrace.NewRequests(0)
	m.WatchRequests(reqs)
	w.middleware = append(w.middleware, reqs.Middleware)
	w.modules = append(w.modules, m)
	return m, nil
}
