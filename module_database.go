package perfengine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/perfengine/perfengine/dbopt"
	"github.com/perfengine/perfengine/dbopt/querytrace"
	"github.com/perfengine/perfengine/metrics"
)

// Action kinds of the database module.
const (
	ActionCreateIndex   = "create_index"   // risky unless database.autoCreateIndexes
	ActionAnalyze       = "analyze"        // safe: refreshes planner statistics
	ActionVacuumAnalyze = "vacuum_analyze" // moderate: reads the whole table
	ActionVacuum        = "vacuum"         // moderate: SQLite rewrites the file
	ActionCheckpoint    = "checkpoint"     // safe: SQLite WAL checkpoint
	ActionResizeDBPool  = "resize_db_pool" // moderate: the attached database/sql pool's size
)

// minAdviceGap is the least time between two advisor runs brought forward
// by a growing workload.
const minAdviceGap = 5 * time.Second

// DatabaseModule adapts a dbopt.Optimizer: it reports the database's
// figures, turns index suggestions and maintenance needs into actions, and
// reports slow queries and failed health checks as findings. The advisor
// and the health checks run at most every AdviceInterval. It is safe for
// concurrent use.
type DatabaseModule struct {
	cfg    DatabaseConfig
	window dbopt.Window
	now    func() time.Time

	mu       sync.Mutex
	opt      *dbopt.Optimizer
	owned    bool // built from the DSN: Stop closes it
	started  bool
	lastRun  time.Time
	lastSize int // statements in the workload at lastRun
	actions  []Action
	findings []Finding
	// watched maps a proposed index's target to the statements it is
	// for; Collect reports their mean time per interval, the series its
	// action promises to lower. totals are the statements' last (calls,
	// total ms), for the deltas.
	watched map[string][]string
	totals  map[string][2]float64
	// requests, when set, finds N+1 patterns per request.
	requests *querytrace.Requests
}

// MetricIndexQueriesMs is the mean time, over one interval, of the
// statements a proposed index is for, labelled with the index's target:
// what creating the index must lower.
const MetricIndexQueriesMs = "db_index_queries_mean_ms"

// maxWatchedIndexes bounds the proposed indexes whose statements are timed.
const maxWatchedIndexes = 100

var (
	_ Module   = (*DatabaseModule)(nil)
	_ Undoer   = (*DatabaseModule)(nil)
	_ Reporter = (*DatabaseModule)(nil)
	_ Starter  = (*DatabaseModule)(nil)
)

// databaseAdvice are the health checks whose findings are advice about the
// schema and housekeeping, not signs of trouble now: slow statements and a
// saturated pool are trouble, a missing index or stale statistics advice.
var databaseAdvice = map[string]bool{
	// SQLite
	"analyze": true, "vacuum": true, "wal_checkpoint": true, "full_scans": true,
	// PostgreSQL
	"vacuum_analyze": true, "missing_indexes": true, "unused_indexes": true, "duplicate_indexes": true,
	"invalid_indexes": true, "table_bloat": true, "index_bloat": true,
}

// NewDatabaseModule wraps an optimizer the caller built and closes; opt
// may be nil and attached later with Attach (a service that opens its
// database after wiring the engine).
func NewDatabaseModule(opt *dbopt.Optimizer, cfg DatabaseConfig) (*DatabaseModule, error) {
	w, err := dbopt.ParseWindow(cfg.MaintenanceWindow)
	if err != nil {
		return nil, err
	}
	if cfg.AdviceInterval <= 0 {
		cfg.AdviceInterval = Duration(DefaultAdviceInterval)
	}
	return &DatabaseModule{cfg: cfg, window: w, now: time.Now, opt: opt}, nil
}

// NewDatabaseModuleFromConfig builds the optimizer from database.dsn; the
// module owns it: Start connects and Stop closes.
func NewDatabaseModuleFromConfig(cfg DatabaseConfig, opts ...dbopt.Option) (*DatabaseModule, error) {
	if cfg.DSN == "" {
		return nil, errors.New("database: dsn is empty")
	}
	if cfg.SlowQueryThreshold > 0 {
		opts = append([]dbopt.Option{dbopt.WithThresholds(dbopt.Thresholds{SlowQueryMs: float64(cfg.SlowQueryThreshold.D()) / float64(time.Millisecond)})}, opts...)
	}
	opt, err := dbopt.New(cfg.DSN, opts...)
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	m, err := NewDatabaseModule(opt, cfg)
	if err != nil {
		return nil, err
	}
	m.owned = true
	return m, nil
}

// Attach sets the optimizer of a module built without one.
func (m *DatabaseModule) Attach(opt *dbopt.Optimizer) {
	m.mu.Lock()
	m.opt = opt
	m.mu.Unlock()
}

func (m *DatabaseModule) optimizer(ctx context.Context) (*dbopt.Optimizer, error) {
	m.mu.Lock()
	o := m.opt
	m.mu.Unlock()
	if o == nil {
		return nil, errors.New("database: no database attached yet")
	}
	// Initialize is idempotent; a database that was down at Start is
	// retried here on the engine's backoff.
	if err := o.Initialize(ctx); err != nil {
		return nil, err
	}
	return o, nil
}

// Name returns "database".
func (*DatabaseModule) Name() string { return "database" }

// Start connects when the module owns the optimizer. A database that is
// down is not fatal: Collect reports it and retries.
func (m *DatabaseModule) Start(ctx context.Context) error {
	m.mu.Lock()
	m.started = true
	m.mu.Unlock()
	return nil
}

// Stop closes the optimizer the module owns.
func (m *DatabaseModule) Stop(context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.started = false
	if m.owned && m.opt != nil {
		return m.opt.Close()
	}
	return nil
}

// Collect returns the optimizer's metrics.
func (m *DatabaseModule) Collect(ctx context.Context) ([]metrics.Sample, error) {
	o, err := m.optimizer(ctx)
	if err != nil {
		return nil, err
	}
	out, err := o.Metrics(ctx)
	if err != nil {
		return out, err
	}
	return append(out, m.indexQuerySamples(ctx, o)...), nil
}

// indexQuerySamples is, for each index proposed, the mean time of its
// statements since the last collection: the calls and time they added.
func (m *DatabaseModule) indexQuerySamples(ctx context.Context, o *dbopt.Optimizer) []metrics.Sample {
	m.mu.Lock()
	watched := maps.Clone(m.watched)
	m.mu.Unlock()
	if len(watched) == 0 {
		return nil
	}
	qs, err := o.Workload(ctx)
	if err != nil {
		return nil
	}
	now := m.now()
	cur := make(map[string][2]float64, len(qs))
	for _, q := range qs {
		cur[q.SQL] = [2]float64{float64(q.Calls), float64(q.Calls) * q.MeanMs}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []metrics.Sample
	for target, queries := range watched {
		var calls, total float64
		for _, q := range queries {
			c, ok := cur[q]
			if !ok {
				continue
			}
			if prev, seen := m.totals[q]; seen && c[0] >= prev[0] {
				calls += c[0] - prev[0]
				total += c[1] - prev[1]
			}
			m.totals[q] = c
		}
		if calls > 0 {
			out = append(out, metrics.Sample{Name: MetricIndexQueriesMs, Value: total / calls, Unit: metrics.UnitMilliseconds,
				Labels: map[string]string{"index": target}, Time: now})
		}
	}
	return out
}

// Recommend runs the advisor, the maintenance plan and the health checks
// at most every AdviceInterval (sooner while the advisor has seen no
// workload yet) and returns their actions.
func (m *DatabaseModule) Recommend(ctx context.Context, snap Snapshot) ([]Action, error) {
	o, err := m.optimizer(ctx)
	if err != nil {
		return nil, err
	}
	now := m.now()
	// New statements in the workload (a route that was not called yet)
	// bring the next run forward, at most every minAdviceGap.
	size := -1
	if qs, err := o.Workload(ctx); err == nil {
		size = len(qs)
	}
	// The pool's size follows every collection, not the advisor's pace.
	var pool []Action
	if a, ok := poolAction(o); ok {
		pool = append(pool, a)
	}
	m.mu.Lock()
	since := now.Sub(m.lastRun)
	due := m.lastRun.IsZero() || since >= m.cfg.AdviceInterval.D() || (size != m.lastSize && since >= minAdviceGap)
	cached := m.actions
	m.mu.Unlock()
	if !due {
		return append(slices.Clip(cached), pool...), nil
	}
	var actions []Action
	var findings []Finding
	var errs []error
	adv, err := o.AdviseWorkload(ctx, dbopt.AdviseOptions{Budget: m.cfg.IndexBudget})
	if err != nil {
		errs = append(errs, fmt.Errorf("index advice: %w", err))
	} else {
		for _, s := range adv.Suggestions {
			actions = append(actions, m.indexAction(s))
		}
		findings = append(findings, queryIssueFindings(adv.QueryIssues, now)...)
	}
	if plan, err := o.MaintenancePlan(ctx); err != nil {
		errs = append(errs, fmt.Errorf("maintenance plan: %w", err))
	} else {
		for _, t := range plan {
			actions = append(actions, m.maintenanceAction(t))
		}
	}
	if r, err := o.Health(ctx); err != nil {
		errs = append(errs, fmt.Errorf("health: %w", err))
	} else {
		findings = append(findings, healthFindings(r, now)...)
	}
	m.mu.Lock()
	// Retry soon while there is no workload to advise on: the service may
	// not have served a request yet.
	if adv != nil && adv.Analyzed > 0 {
		m.lastRun, m.lastSize = now, size
	}
	m.actions, m.findings = actions, findings
	m.mu.Unlock()
	return append(slices.Clip(actions), pool...), errors.Join(errs...)
}

// poolAction resizes an attached database/sql pool to the Little's-law
// size of the last collection: up when acquires waited for a connection,
// down when at most half the connections were needed and none waited (each
// idle connection is a backend holding server memory). Growth is at most
// fourfold per step, so one burst does not open hundreds of connections.
func poolAction(o *dbopt.Optimizer) (Action, bool) {
	adv, ok := o.LastPoolAdvice()
	if !ok || !o.CanResizePool() {
		return Action{}, false
	}
	cur, rec := int(adv.MaxConns), adv.Recommended
	if cur <= 0 { // database/sql: 0 is unlimited, nothing to grow
		return Action{}, false
	}
	grow := rec > cur && adv.EmptyAcquires > 0
	shrink := rec*2 <= cur && cur-rec >= 2 && adv.EmptyAcquires == 0
	if !grow && !shrink {
		return Action{}, false
	}
	rec = min(rec, 4*cur)
	impact := fmt.Sprintf("%.1f connections busy on average (Little's law)", adv.InUse)
	if grow {
		impact += fmt.Sprintf("; %d acquires waited, %.1f ms on average", adv.EmptyAcquires, adv.AcquireWaitMs)
	} else {
		impact += fmt.Sprintf("; no acquire waited, %d connections more than needed", cur-rec)
	}
	return Action{
		Module:      "database",
		Kind:        ActionResizeDBPool,
		Target:      "application pool",
		Description: fmt.Sprintf("set the application's pool from %d to %d connections", cur, rec),
		Impact:      impact,
		Risk:        RiskModerate,
		Undo:        fmt.Sprintf("set the pool back to %d connections", cur),
		Params:      map[string]string{"size": strconv.Itoa(rec), "from": strconv.Itoa(cur)},
		// Growing must cut the wait; shrinking must not raise it.
		Expect: &Expectation{Series: dbopt.MetricPoolAcquireWaitMs, LowerIsBetter: true},
	}, true
}

func (m *DatabaseModule) indexAction(s dbopt.Suggestion) Action {
	target := s.Table + "(" + strings.Join(s.Columns, ", ") + ")"
	if s.Method != "" {
		target += " USING " + s.Method
	}
	if len(s.Include) > 0 {
		target += " INCLUDE (" + strings.Join(s.Include, ", ") + ")"
	}
	if s.Where != "" {
		target += " WHERE " + s.Where
	}
	queries := make([]string, 0, len(s.Queries))
	for _, q := range s.Queries {
		queries = append(queries, dbopt.Abbrev(q, 300))
	}
	m.mu.Lock()
	if _, ok := m.watched[target]; ok || len(m.watched) < maxWatchedIndexes {
		if m.watched == nil {
			m.watched, m.totals = map[string][]string{}, map[string][2]float64{}
		}
		m.watched[target] = s.Queries
	}
	m.mu.Unlock()
	return Action{
		Module:      "database",
		Kind:        ActionCreateIndex,
		Target:      target,
		Description: s.Statement,
		Impact:      fmt.Sprintf("%.1f%% lower estimated cost for %d queries (%.1f -> %.1f), %d bytes", s.SavingsPct, len(s.Queries), s.CostBefore, s.CostAfter, s.SizeBytes),
		Risk:        RiskRisky,
		PreApproved: m.cfg.AutoCreateIndexes,
		Undo:        "drop the index (DROP INDEX CONCURRENTLY on PostgreSQL)",
		Expect:      &Expectation{Series: metrics.SeriesKey(MetricIndexQueriesMs, map[string]string{"index": target}), LowerIsBetter: true},
		Params: map[string]string{
			"table":   s.Table,
			"columns": strings.Join(s.Columns, ","),
			"where":   s.Where,
			"method":  s.Method,
			"include": strings.Join(s.Include, ","),
			"name":    s.Name,
			"queries": strings.Join(queries, "\n"),
		},
	}
}

func (m *DatabaseModule) maintenanceAction(t dbopt.Task) Action {
	risk := RiskSafe
	if t.Kind == dbopt.TaskVacuumAnalyze || t.Kind == dbopt.TaskVacuum {
		risk = RiskModerate
	}
	desc := t.Statement
	if m.cfg.MaintenanceWindow != "" {
		desc += " (in the window " + m.cfg.MaintenanceWindow + " UTC)"
	}
	a := Action{
		Module:      "database",
		Kind:        t.Kind,
		Target:      t.Table,
		Description: desc,
		Impact:      t.Reason,
		Risk:        risk,
		Params:      map[string]string{"kind": t.Kind, "table": t.Table},
	}
	if t.Check != "" {
		// SQLite's whole-file tasks (vacuum, checkpoint) clear their check.
		object := t.Table
		if object == "main" {
			object = ""
		}
		a.Expect = &Expectation{Clears: &FindingRef{Module: "database", Kind: t.Check, Object: object}}
	}
	return a
}

// Apply creates an index or runs a maintenance task.
func (m *DatabaseModule) Apply(ctx context.Context, a Action) (Result, error) {
	res, err := m.apply(ctx, a)
	if err == nil && a.Kind != ActionResizeDBPool {
		// The checks and advice run again at the next cycle, so the finding
		// a fix was for clears then, or says why it persists, rather than
		// standing until the next advice interval.
		m.mu.Lock()
		m.lastRun = time.Time{}
		m.mu.Unlock()
	}
	return res, err
}

func (m *DatabaseModule) apply(ctx context.Context, a Action) (Result, error) {
	o, err := m.optimizer(ctx)
	if err != nil {
		return Result{}, err
	}
	switch a.Kind {
	case ActionCreateIndex:
		s := dbopt.Suggestion{Table: a.Params["table"], Where: a.Params["where"], Method: a.Params["method"], Name: a.Params["name"]}
		if c := a.Params["columns"]; c != "" {
			s.Columns = strings.Split(c, ",")
		}
		if c := a.Params["include"]; c != "" {
			s.Include = strings.Split(c, ",")
		}
		if q := a.Params["queries"]; q != "" {
			s.Queries = strings.Split(q, "\n")
		}
		res, err := o.AddIndex(ctx, s)
		if err != nil {
			return Result{}, err
		}
		msg := fmt.Sprintf("created %s (%d bytes) in %s", res.Name, res.SizeBytes, res.Duration.Round(time.Millisecond))
		if len(res.Used) > 0 {
			msg += fmt.Sprintf("; the planner uses it for %d of %d queries", len(res.Used), len(s.Queries))
		}
		return Result{Message: msg, Params: map[string]string{"index": res.Name}}, nil
	case ActionResizeDBPool:
		n, err := strconv.Atoi(a.Params["size"])
		if err != nil {
			return Result{}, fmt.Errorf("database: pool size %q: %w", a.Params["size"], err)
		}
		prev, err := o.ResizePool(n)
		if err != nil {
			return Result{}, err
		}
		return Result{Message: fmt.Sprintf("the pool holds up to %d connections (was %d)", n, prev), Params: map[string]string{"previous": strconv.Itoa(prev)}}, nil
	case ActionAnalyze, ActionVacuumAnalyze, ActionVacuum, ActionCheckpoint:
		res, err := o.RunMaintenance(ctx, dbopt.Task{Kind: a.Kind, Table: a.Params["table"]}, m.window)
		if err != nil {
			return Result{}, err
		}
		return Result{Message: fmt.Sprintf("%s took %s", res.Statement, res.Duration.Round(time.Millisecond))}, nil
	}
	return Result{}, fmt.Errorf("database: unknown action kind %q", a.Kind)
}

// Undo drops an index the module created or sets a resized pool back.
// Maintenance cannot be undone.
func (m *DatabaseModule) Undo(ctx context.Context, a Action) error {
	if a.Kind == ActionResizeDBPool {
		o, err := m.optimizer(ctx)
		if err != nil {
			return err
		}
		n, err := strconv.Atoi(a.Params["previous"])
		if err != nil {
			return fmt.Errorf("database: previous pool size %q: %w", a.Params["previous"], err)
		}
		_, err = o.ResizePool(n)
		return err
	}
	if a.Kind != ActionCreateIndex {
		return fmt.Errorf("%w: %s", ErrNotUndoable, a.Kind)
	}
	o, err := m.optimizer(ctx)
	if err != nil {
		return err
	}
	name := a.Params["index"]
	if name == "" {
		name = a.Params["name"]
	}
	return o.DropIndex(ctx, name)
}

// Findings are the failed health checks of the last run.
func (m *DatabaseModule) Findings() []Finding {
	m.mu.Lock()
	out := append([]Finding(nil), m.findings...)
	reqs := m.requests
	m.mu.Unlock()
	if reqs != nil {
		out = append(out, nPlusOneFindings(reqs.Patterns())...)
	}
	return out
}

// FindingNPlusOne is the kind of the findings of N+1 patterns.
const FindingNPlusOne = "n_plus_one"

// WatchRequests makes the module report the N+1 patterns q finds in the
// application's requests (querytrace.Requests.Middleware on its handler,
// the statements run through a querytrace handle with the request's
// context).
func (m *DatabaseModule) WatchRequests(q *querytrace.Requests) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests = q
}

// nPlusOneFindings turns N+1 patterns into findings: advice about the
// code, naming the route, the statement and the evidence.
func nPlusOneFindings(ps []querytrace.Pattern) []Finding {
	out := make([]Finding, 0, len(ps))
	for _, p := range ps {
		out = append(out, Finding{
			Module: "database", Kind: FindingNPlusOne, Severity: SeverityWarning, Advice: true,
			Title: fmt.Sprintf("N+1 in %s: one statement runs %.0f times per request (up to %d, %d distinct arguments)",
				p.Route, p.MeanPerRequest, p.MaxPerRequest, p.DistinctArgs),
			Detail: fmt.Sprintf("%s\nseen in %d requests, last at %s; fix: fetch the rows in one statement (WHERE … IN (…), or a JOIN with the query before the loop)",
				dbopt.Abbrev(p.Query, 300), p.Requests, p.LastSeen.Format(time.RFC3339)),
			Time: p.LastSeen, Subject: FindingNPlusOne + " " + p.Route + " " + p.Query,
		})
	}
	return out
}

// queryIssueFindings are the statements whose shape no index fixes (deep
// OFFSET pages, unbounded reads, SELECT * on wide rows), as advice.
func queryIssueFindings(issues []dbopt.QueryIssue, now time.Time) []Finding {
	out := make([]Finding, 0, len(issues))
	for _, q := range issues {
		out = append(out, Finding{
			Module: "database", Kind: q.Kind, Severity: SeverityWarning, Advice: true,
			Title:  q.Evidence,
			Detail: q.Query + "\nfix: " + q.Fix,
			Time:   now, Subject: q.Kind + " " + q.Query,
		})
		if q.Table != "" {
			out[len(out)-1].Objects = []string{q.Table}
		}
	}
	return out
}

func healthFindings(r *dbopt.Report, now time.Time) []Finding {
	var out []Finding
	for _, c := range r.Checks {
		sev := SeverityWarning
		switch c.Status {
		case dbopt.StatusWarning:
		case dbopt.StatusCritical:
			sev = SeverityCritical
		default:
			continue
		}
		var detail, objects []string
		for _, it := range c.Items {
			objects = append(objects, it.Object)
		}
		for i, it := range c.Items {
			if i == 5 {
				detail = append(detail, fmt.Sprintf("and %d more", len(c.Items)-5))
				break
			}
			d := it.Object + ": " + it.Detail
			if it.Fix != "" {
				d += " (fix: " + it.Fix + ")"
			}
			detail = append(detail, d)
		}
		out = append(out, Finding{Module: "database", Kind: c.Name, Severity: sev, Title: c.Summary, Detail: strings.Join(detail, "\n"),
			Time: now, Subject: c.Name, Objects: objects, Advice: databaseAdvice[c.Name]})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Severity == SeverityCritical && out[j].Severity != SeverityCritical })
	return out
}
