package dbopt

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/perfengine/perfengine/dbopt/querytrace"
	"github.com/perfengine/perfengine/metrics"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver for sqlite: DSNs
)

// Errors callers may check with errors.Is.
var (
	// ErrNotInitialized is returned by methods called before Initialize.
	ErrNotInitialized = errors.New("dbopt: not initialized; call Initialize first")
	// ErrNoStatStatements means pg_stat_statements is missing; the error
	// wrapping it names the fix.
	ErrNoStatStatements = errors.New("dbopt: pg_stat_statements unavailable")
	// ErrNoHypoPG means the hypopg extension is missing; the error wrapping
	// it names the fix.
	ErrNoHypoPG = errors.New("dbopt: hypopg unavailable")
	// ErrReadOnly means the database is a read-only replica, where indexes
	// cannot be created and maintenance cannot run.
	ErrReadOnly = errors.New("dbopt: database is read-only (a replica?)")
	// ErrNotOurs is returned by DropIndex for an index perfengine did not
	// create: it never drops a user's index.
	ErrNotOurs = errors.New("dbopt: index was not created by perfengine")
	// ErrUnsupported is returned for an operation the backend lacks.
	ErrUnsupported = errors.New("dbopt: not supported by this database")
)

// Optimizer watches one database and proposes indexes and maintenance.
//
// New validates and allocates; Initialize connects. The zero value is not
// usable. All methods are safe for concurrent use; advisor runs are
// serialized because they use one session's hypothetical indexes.
type Optimizer struct {
	dsn     DSN
	pool    *pgxpool.Pool // PostgreSQL
	db      *sql.DB       // SQLite
	ownConn bool          // opened by Initialize, closed by Close

	log     *slog.Logger
	now     func() time.Time
	th      Thresholds
	rec     *querytrace.Recorder
	qt      queryTimes // the last pg_stat_statements read, for db_query_p95_ms
	appPool appPool

	mu          sync.Mutex // guards the fields below
	initialized bool
	pgVersion   int // server_version_num
	readOnly    bool
	pool0       *poolSnapshot
	lastPool    *PoolAdvice

	adviseMu sync.Mutex // one advisor session at a time
}

// Option configures an Optimizer.
type Option func(*Optimizer)

// WithLogger sets the logger; by default the optimizer logs nothing.
func WithLogger(l *slog.Logger) Option {
	return func(o *Optimizer) {
		if l != nil {
			o.log = l.With("module", "database")
		}
	}
}

// WithClock injects the clock, for tests of staleness and windows.
func WithClock(now func() time.Time) Option {
	return func(o *Optimizer) {
		if now != nil {
			o.now = now
		}
	}
}

// WithThresholds replaces the health thresholds. Zero fields keep their
// defaults.
func WithThresholds(t Thresholds) Option {
	return func(o *Optimizer) { o.th = t.withDefaults() }
}

// WithRecorder attaches the application's query timings (from
// querytrace.Tracer or querytrace.Driver), used for slow queries and as the
// advisor's workload when pg_stat_statements is missing, and always on
// SQLite.
func WithRecorder(r *querytrace.Recorder) Option {
	return func(o *Optimizer) {
		o.rec = r
		// The optimizer's own statements pass through r when it shares
		// the application's handle; recording them would cost a histogram
		// each and only be filtered out again. The application's schema
		// changes and transactions are still recorded, for whoever else
		// reads r.
		if r != nil {
			r.Ignore(markedQuery)
		}
	}
}

// WithAppPool attaches the application's own pgx pool so Metrics reports
// its utilisation and PoolAdvice can size it. It may differ from the pool
// the optimizer queries with.
func WithAppPool(p *pgxpool.Pool) Option {
	return func(o *Optimizer) {
		if p != nil {
			o.appPool = pgxAppPool{p}
		}
	}
}

// WithSQLPool attaches the application's database/sql pool (of either
// database) so Metrics reports its utilisation and waits, PoolAdvice can
// size it, and ResizePool can apply the size while it runs.
func WithSQLPool(db *sql.DB) Option {
	return func(o *Optimizer) {
		if db != nil {
			o.appPool = sqlAppPool{db}
		}
	}
}

func newOptimizer(d DSN, opts []Option) *Optimizer {
	o := &Optimizer{dsn: d, log: slog.New(slog.DiscardHandler), now: time.Now, th: Thresholds{}.withDefaults()}
	for _, opt := range opts {
		opt(o)
	}
	return o
}

// New returns an optimizer for a DSN (postgres://… or sqlite:PATH). It
// checks the DSN but does not connect: Initialize does.
func New(dsn string, opts ...Option) (*Optimizer, error) {
	d, err := ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	o := newOptimizer(d, opts)
	o.ownConn = true
	return o, nil
}

// NewPostgres returns an optimizer that queries through an existing pool.
// Close does not close the pool.
func NewPostgres(pool *pgxpool.Pool, opts ...Option) *Optimizer {
	o := newOptimizer(DSN{Kind: KindPostgres}, opts)
	o.pool = pool
	return o
}

// NewSQLite returns an optimizer for an open SQLite database (a
// modernc.org/sqlite or querytrace-wrapped handle). Close does not close db.
func NewSQLite(db *sql.DB, opts ...Option) *Optimizer {
	o := newOptimizer(DSN{Kind: KindSQLite}, opts)
	o.db = db
	return o
}

// Kind is KindPostgres or KindSQLite.
func (o *Optimizer) Kind() string { return o.dsn.Kind }

// Initialize connects (when built from a DSN) and learns what the server
// offers. It is idempotent. An unreachable server or a wrong password is an
// error naming the DSN without its password.
func (o *Optimizer) Initialize(ctx context.Context) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.initialized {
		return nil
	}
	switch o.dsn.Kind {
	case KindPostgres:
		if err := o.initPostgres(ctx); err != nil {
			return err
		}
	case KindSQLite:
		if err := o.initSQLite(ctx); err != nil {
			return err
		}
	default:
		return fmt.Errorf("dbopt: unknown kind %q", o.dsn.Kind)
	}
	o.initialized = true
	return nil
}

func (o *Optimizer) ready() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.initialized {
		return ErrNotInitialized
	}
	return nil
}

// Close releases what Initialize opened.
func (o *Optimizer) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	var err error
	if o.ownConn {
		if o.pool != nil {
			o.pool.Close()
			o.pool = nil
		}
		if o.db != nil {
			err = o.db.Close()
			o.db = nil
		}
	}
	o.initialized = false
	return err
}

// Metrics returns the database's current figures as samples: cache hit
// rates, connections, slow query count, dead tuples, pool utilisation.
func (o *Optimizer) Metrics(ctx context.Context) ([]metrics.Sample, error) {
	if err := o.ready(); err != nil {
		return nil, err
	}
	if o.dsn.Kind == KindSQLite {
		return o.sqliteMetrics(ctx)
	}
	return o.pgMetrics(ctx)
}

// Health runs every check and returns the report. A check that cannot run
// (a missing extension, a missing privilege) is reported as skipped with
// its reason, not as an error.
func (o *Optimizer) Health(ctx context.Context) (*Report, error) {
	if err := o.ready(); err != nil {
		return nil, err
	}
	var r *Report
	var err error
	if o.dsn.Kind == KindSQLite {
		r, err = o.sqliteHealth(ctx)
	} else {
		r, err = o.pgHealth(ctx)
	}
	if err != nil {
		return nil, err
	}
	r.finish()
	return r, nil
}

// SlowQueries returns statements whose mean time is at least the threshold
// and that ran at least SlowQueryCalls times, slowest total first. On
// PostgreSQL they come from pg_stat_statements, falling back to the
// attached recorder; without either, the error wraps ErrNoStatStatements
// and names the fix.
func (o *Optimizer) SlowQueries(ctx context.Context) ([]QueryStat, error) {
	if err := o.ready(); err != nil {
		return nil, err
	}
	if o.dsn.Kind == KindPostgres {
		qs, err := o.pgSlowQueries(ctx)
		if err == nil || o.rec == nil || !errors.Is(err, ErrNoStatStatements) {
			return qs, err
		}
	}
	if o.rec == nil {
		return nil, nil
	}
	return o.recordedSlow(), nil
}

func (o *Optimizer) recordedSlow() []QueryStat {
	var out []QueryStat
	for _, s := range o.rec.Snapshot() {
		if ownQuery(s.Query) {
			continue
		}
		if s.Calls >= o.th.SlowQueryCalls && s.MeanMs >= o.th.SlowQueryMs {
			out = append(out, QueryStat{Query: s.Query, Calls: s.Calls, TotalMs: s.TotalMs, MeanMs: s.MeanMs, P95Ms: s.P95Ms, Source: "application"})
		}
	}
	return out
}

// Workload returns the queries the advisor uses by default: the top
// statements of pg_stat_statements by total time, else the attached
// recorder's statements.
func (o *Optimizer) Workload(ctx context.Context) ([]Query, error) {
	if err := o.ready(); err != nil {
		return nil, err
	}
	return o.workload(ctx)
}

func (o *Optimizer) workload(ctx context.Context) ([]Query, error) {
	if o.dsn.Kind == KindPostgres {
		qs, err := o.pgWorkload(ctx)
		if err == nil {
			return qs, nil
		}
		if o.rec == nil || !errors.Is(err, ErrNoStatStatements) {
			return nil, err
		}
	}
	if o.rec == nil {
		return nil, nil
	}
	var qs []Query
	for _, s := range o.rec.Snapshot() {
		if ownQuery(s.Query) {
			continue
		}
		qs = append(qs, Query{SQL: s.Query, Calls: s.Calls, MeanMs: s.MeanMs, Prepares: s.Prepares})
	}
	return qs, nil
}

// ownQuery recognises statements that are not the application's workload:
// the optimizer's own (see markedQuery), and schema changes and transaction
// control, since the advisor's trial indexes, and index creation and undo,
// pass through an instrumented handle too, and their time would crowd out
// the queries that indexes are for.
func ownQuery(q string) bool {
	if f := strings.Fields(q); len(f) > 0 {
		switch strings.ToLower(f[0]) {
		case "create", "drop", "alter", "begin", "commit", "rollback", "savepoint", "release", "vacuum", "analyze", "reindex":
			return true
		}
	}
	return markedQuery(q)
}

// markedQuery recognises the optimizer's own statements, recorded when it
// shares the application's instrumented handle: marked with a perfengine
// comment, or about the catalog and plans.
func markedQuery(q string) bool {
	l := strings.ToLower(q)
	for _, s := range []string{"sqlite_master", "sqlite_stat1", "sqlite_schema", "pragma", "dbstat", "perfengine", "explain ", "pg_catalog", "pg_stat", "hypopg", "information_schema"} {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}

// IndexSuggestions advises on the observed workload (pg_stat_statements,
// or the recorder) with default options.
func (o *Optimizer) IndexSuggestions(ctx context.Context) (*Advice, error) {
	return o.AdviseWorkload(ctx, AdviseOptions{})
}

// AdviseWorkload advises on the observed workload with opt, such as a
// budget for the indexes' total size.
func (o *Optimizer) AdviseWorkload(ctx context.Context, opt AdviseOptions) (*Advice, error) {
	if err := o.ready(); err != nil {
		return nil, err
	}
	qs, err := o.workload(ctx)
	if err != nil {
		return nil, err
	}
	return o.Advise(ctx, qs, opt)
}

// Advise returns the indexes that most reduce the cost of queries, chosen
// across the whole workload. See AdviseOptions.
func (o *Optimizer) Advise(ctx context.Context, queries []Query, opt AdviseOptions) (*Advice, error) {
	if err := o.ready(); err != nil {
		return nil, err
	}
	o.adviseMu.Lock()
	defer o.adviseMu.Unlock()
	start := o.now()
	var a *Advice
	var err error
	if o.dsn.Kind == KindSQLite {
		a, err = o.sqliteAdvise(ctx, queries, opt.withDefaults())
	} else {
		a, err = o.pgAdvise(ctx, queries, opt.withDefaults())
	}
	if err != nil {
		return nil, err
	}
	a.Elapsed = o.now().Sub(start)
	if a.Suggestions == nil {
		a.Suggestions = []Suggestion{}
	}
	return a, nil
}

// AddIndex builds a suggested index safely. On PostgreSQL: CREATE INDEX
// CONCURRENTLY under lock and statement timeouts, a validity check (an
// invalid leftover is dropped), and an EXPLAIN of the suggestion's queries
// to show the planner uses it. It refuses a read-only database.
func (o *Optimizer) AddIndex(ctx context.Context, s Suggestion) (*Applied, error) {
	if err := o.ready(); err != nil {
		return nil, err
	}
	if o.dsn.Kind == KindSQLite {
		return o.sqliteAddIndex(ctx, s)
	}
	return o.pgAddIndex(ctx, s)
}

// DropIndex undoes AddIndex (DROP INDEX CONCURRENTLY on PostgreSQL). It
// refuses an index perfengine did not create (ErrNotOurs).
func (o *Optimizer) DropIndex(ctx context.Context, name string) error {
	if err := o.ready(); err != nil {
		return err
	}
	if o.dsn.Kind == KindSQLite {
		return o.sqliteDropIndex(ctx, name)
	}
	return o.pgDropIndex(ctx, name)
}

// OptimizeQueries pairs each slow query with the suggestions that speed it
// up, so a caller sees what to do about each.
func (o *Optimizer) OptimizeQueries(ctx context.Context) ([]QueryAdvice, error) {
	slow, err := o.SlowQueries(ctx)
	if err != nil {
		return nil, err
	}
	if len(slow) == 0 {
		return nil, nil
	}
	qs := make([]Query, 0, len(slow))
	for _, s := range slow {
		qs = append(qs, Query{SQL: s.Query, Calls: s.Calls, MeanMs: s.MeanMs})
	}
	adv, err := o.Advise(ctx, qs, AdviseOptions{})
	if err != nil {
		return nil, err
	}
	out := make([]QueryAdvice, 0, len(slow))
	for _, s := range slow {
		qa := QueryAdvice{QueryStat: s}
		for _, sg := range adv.Suggestions {
			for _, q := range sg.Queries {
				if q == s.Query {
					qa.Suggestions = append(qa.Suggestions, sg.Statement)
				}
			}
		}
		for _, sk := range adv.Skipped {
			if sk.Query == Abbrev(s.Query, 200) {
				qa.Note = sk.Reason
			}
		}
		out = append(out, qa)
	}
	return out, nil
}
