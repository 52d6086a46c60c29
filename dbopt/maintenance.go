package dbopt

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Maintenance task kinds.
const (
	TaskVacuumAnalyze = "vacuum_analyze" // PostgreSQL: VACUUM (ANALYZE) t
	TaskAnalyze       = "analyze"        // PostgreSQL: ANALYZE t; SQLite: PRAGMA optimize
	TaskVacuum        = "vacuum"         // SQLite: VACUUM
	TaskCheckpoint    = "checkpoint"     // SQLite: PRAGMA wal_checkpoint(TRUNCATE)
)

// ErrOutsideWindow is returned by RunMaintenance outside the window.
var ErrOutsideWindow = errors.New("dbopt: outside the maintenance window")

// Window is a daily maintenance window in UTC, such as 02:00-04:00. It may
// wrap past midnight (22:00-02:00). The zero value means any time.
type Window struct {
	Start, End time.Duration // since midnight UTC
}

// ParseWindow reads "HH:MM-HH:MM" (UTC). The empty string is any time.
func ParseWindow(s string) (Window, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Window{}, nil
	}
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return Window{}, fmt.Errorf("maintenance window %q: want HH:MM-HH:MM", s)
	}
	start, err1 := clock(a)
	end, err2 := clock(b)
	if err1 != nil || err2 != nil || start == end {
		return Window{}, fmt.Errorf("maintenance window %q: want HH:MM-HH:MM with two different times", s)
	}
	return Window{Start: start, End: end}, nil
}

func clock(s string) (time.Duration, error) {
	t, err := time.Parse("15:04", strings.TrimSpace(s))
	if err != nil {
		return 0, err
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, nil
}

// Contains reports whether t falls in the window.
func (w Window) Contains(t time.Time) bool {
	if w.Start == w.End {
		return true
	}
	t = t.UTC()
	d := time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute + time.Duration(t.Second())*time.Second
	if w.Start < w.End {
		return d >= w.Start && d < w.End
	}
	return d >= w.Start || d < w.End
}

// Task is one maintenance step on one table (or the whole SQLite file).
type Task struct {
	Kind      string `json:"kind"`
	Table     string `json:"table"`
	Reason    string `json:"reason"`
	Statement string `json:"statement"`
	// Check is the health check (Check.Name) that reports what the task
	// fixes, with Table among its items' objects: once the task has run,
	// that item should be gone from the check.
	Check string `json:"check"`
}

// TaskResult is what running a task did.
type TaskResult struct {
	Task
	Duration time.Duration `json:"duration_ns"`
	Error    string        `json:"error,omitempty"`
}

// MaintenancePlan lists the tasks the database needs now: on PostgreSQL,
// VACUUM (ANALYZE) for tables past the dead-tuple thresholds and ANALYZE
// for tables with stale statistics; on SQLite, ANALYZE of each indexed table
// without statistics, VACUUM of a
// large freelist and a checkpoint of a large WAL.
func (o *Optimizer) MaintenancePlan(ctx context.Context) ([]Task, error) {
	if err := o.ready(); err != nil {
		return nil, err
	}
	if o.dsn.Kind == KindSQLite {
		return o.sqlitePlanTasks(ctx)
	}
	ts, err := o.tableMaintenance(ctx)
	if err != nil {
		return nil, fmt.Errorf("read table statistics: %w", err)
	}
	var out []Task
	for _, t := range ts {
		switch {
		case o.needsVacuum(t):
			out = append(out, Task{Kind: TaskVacuumAnalyze, Table: t.Name, Statement: "VACUUM (ANALYZE) " + t.Name, Check: "vacuum_analyze",
				Reason: fmt.Sprintf("%d dead of %d live rows; last vacuum %s", t.Dead, t.Live, when(t.LastVacuum))})
		case o.needsAnalyze(t):
			out = append(out, Task{Kind: TaskAnalyze, Table: t.Name, Statement: "ANALYZE " + t.Name, Check: "vacuum_analyze",
				Reason: fmt.Sprintf("%d rows changed since the last analyze (%s)", t.ModSinceAnalyze, when(t.LastAnalyze))})
		}
	}
	return out, nil
}

func (o *Optimizer) sqlitePlanTasks(ctx context.Context) ([]Task, error) {
	r, err := o.sqliteHealth(ctx)
	if err != nil {
		return nil, err
	}
	var out []Task
	for _, c := range r.Checks {
		if c.Status != StatusWarning {
			continue
		}
		switch c.Name {
		case "analyze":
			// One ANALYZE per table: PRAGMA optimize looks only at the
			// tables its own connection queried, which on a pool is seldom
			// the connection that runs it, and so it often does nothing.
			for _, it := range c.Items {
				out = append(out, Task{Kind: TaskAnalyze, Table: it.Object, Statement: it.Fix, Reason: it.Detail, Check: c.Name})
			}
		case "vacuum":
			out = append(out, Task{Kind: TaskVacuum, Table: "main", Statement: c.Items[0].Fix, Reason: c.Summary, Check: c.Name})
		case "wal_checkpoint":
			out = append(out, Task{Kind: TaskCheckpoint, Table: "main", Statement: "PRAGMA wal_checkpoint(TRUNCATE)", Reason: c.Summary, Check: c.Name})
		}
	}
	return out, nil
}

// RunMaintenance runs one task if now is inside w. The statement is rebuilt
// from the task's kind and table rather than taken from Statement.
func (o *Optimizer) RunMaintenance(ctx context.Context, t Task, w Window) (TaskResult, error) {
	res := TaskResult{Task: t}
	if err := o.ready(); err != nil {
		return res, err
	}
	if !w.Contains(o.now()) {
		return res, ErrOutsideWindow
	}
	if o.readOnly {
		return res, ErrReadOnly
	}
	var stmt string
	switch {
	case o.dsn.Kind == KindSQLite && t.Kind == TaskAnalyze && (t.Table == "" || t.Table == "main"):
		stmt = "PRAGMA optimize"
	case o.dsn.Kind == KindSQLite && t.Kind == TaskAnalyze:
		var name string
		if err := o.db.QueryRowContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?`, t.Table).Scan(&name); err != nil {
			return res, fmt.Errorf("maintenance: table %q does not exist", t.Table)
		}
		stmt = "ANALYZE " + quoteIdent(name)
	case o.dsn.Kind == KindSQLite && t.Kind == TaskVacuum:
		stmt = "VACUUM"
	case o.dsn.Kind == KindSQLite && t.Kind == TaskCheckpoint:
		stmt = "PRAGMA wal_checkpoint(TRUNCATE)"
	case o.dsn.Kind == KindPostgres && (t.Kind == TaskAnalyze || t.Kind == TaskVacuumAnalyze):
		var name string
		if err := o.pool.QueryRow(ctx, `SELECT to_regclass($1)::text`, t.Table).Scan(&name); err != nil || name == "" {
			return res, fmt.Errorf("maintenance: table %q does not exist", t.Table)
		}
		// regclass::text is the name quoted as it must be written.
		stmt = "ANALYZE " + name
		if t.Kind == TaskVacuumAnalyze {
			stmt = "VACUUM (ANALYZE) " + name
		}
	default:
		return res, fmt.Errorf("maintenance: unknown task %q for %s", t.Kind, o.dsn.Kind)
	}
	res.Statement = stmt
	start := o.now()
	var err error
	if o.dsn.Kind == KindSQLite {
		_, err = o.db.ExecContext(ctx, stmt)
	} else {
		_, err = o.pool.Exec(ctx, stmt)
	}
	res.Duration = o.now().Sub(start)
	if err != nil {
		res.Error = err.Error()
		return res, fmt.Errorf("maintenance %s: %w", stmt, err)
	}
	o.log.Info("maintenance done", "statement", stmt, "took", res.Duration)
	return res, nil
}

// Maintenance runs the plan one table at a time inside the window and
// reports each step. It stops at the first error or when the window
// closes.
func (o *Optimizer) Maintenance(ctx context.Context, w Window) ([]TaskResult, error) {
	plan, err := o.MaintenancePlan(ctx)
	if err != nil {
		return nil, err
	}
	var out []TaskResult
	for _, t := range plan {
		r, err := o.RunMaintenance(ctx, t, w)
		if errors.Is(err, ErrOutsideWindow) {
			return out, err
		}
		out = append(out, r)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}
