package store

import (
	"encoding/json"
	"fmt"
	"time"
)

// scanner is the Scan method shared by database/sql and pgx rows, so both
// backends decode records the same way.
type scanner interface{ Scan(dest ...any) error }

// Zero times are stored as 0 rather than their UnixNano, which is out of
// int64 range; 0 reads back as the zero time.
func nanosOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func timeOrZero(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return fromNanos(n)
}

// actionColumns is the column order of every action query.
const actionColumns = "id, module, kind, target, description, impact, risk, undo, params, state, result, error, created_at, updated_at"

func actionArgs(a Action) ([]any, error) {
	params, err := mapJSON(a.Params)
	if err != nil {
		return nil, fmt.Errorf("encode action params: %w", err)
	}
	return []any{a.ID, a.Module, a.Kind, a.Target, a.Description, a.Impact, a.Risk, a.Undo,
		params, a.State, a.Result, a.Error, nanosOrZero(a.CreatedAt), nanosOrZero(a.UpdatedAt)}, nil
}

func scanAction(row scanner) (Action, error) {
	var a Action
	var params string
	var created, updated int64
	if err := row.Scan(&a.ID, &a.Module, &a.Kind, &a.Target, &a.Description, &a.Impact, &a.Risk, &a.Undo,
		&params, &a.State, &a.Result, &a.Error, &created, &updated); err != nil {
		return Action{}, err
	}
	p, err := parseMap(params)
	if err != nil {
		return Action{}, fmt.Errorf("action %s params: %w", a.ID, err)
	}
	a.Params = p
	a.CreatedAt, a.UpdatedAt = timeOrZero(created), timeOrZero(updated)
	return a, nil
}

const alertColumns = "id, ts, severity, source, title, detail, labels, resolved"

func alertArgs(a Alert) ([]any, error) {
	labels, err := mapJSON(a.Labels)
	if err != nil {
		return nil, fmt.Errorf("encode alert labels: %w", err)
	}
	return []any{a.ID, nanosOrZero(a.Time), a.Severity, a.Source, a.Title, a.Detail, labels, a.Resolved}, nil
}

func scanAlert(row scanner) (Alert, error) {
	var a Alert
	var ts int64
	var labels string
	if err := row.Scan(&a.ID, &ts, &a.Severity, &a.Source, &a.Title, &a.Detail, &labels, &a.Resolved); err != nil {
		return Alert{}, err
	}
	l, err := parseMap(labels)
	if err != nil {
		return Alert{}, fmt.Errorf("alert %s labels: %w", a.ID, err)
	}
	a.Labels = l
	a.Time = timeOrZero(ts)
	return a, nil
}

func baselineArgs(b Baseline) ([]any, error) {
	vals := b.Values
	if vals == nil {
		vals = []float64{}
	}
	v, err := json.Marshal(vals)
	if err != nil {
		return nil, fmt.Errorf("encode baseline values: %w", err)
	}
	return []any{b.Version, b.Metric, string(v), nanosOrZero(b.CreatedAt)}, nil
}

func scanBaseline(row scanner) (Baseline, error) {
	var b Baseline
	var vals string
	var created int64
	if err := row.Scan(&b.Version, &b.Metric, &vals, &created); err != nil {
		return Baseline{}, err
	}
	if err := json.Unmarshal([]byte(vals), &b.Values); err != nil {
		return Baseline{}, fmt.Errorf("baseline %s/%s values: %w", b.Version, b.Metric, err)
	}
	b.CreatedAt = timeOrZero(created)
	return b, nil
}

// migration is one step of a backend's schema; versions are applied in
// order, each once, and recorded in schema_migrations.
type migration struct {
	version int
	sql     string
}

func latest(ms []migration) int { return ms[len(ms)-1].version }

// applyPending runs the steps after version have through exec, each with
// its record in schema_migrations (record is that INSERT in the backend's
// dialect), inside the caller's transaction. A store whose schema is newer
// than this program's is refused rather than written to.
func applyPending(have int, steps []migration, record string, exec func(sql string, args ...any) error) error {
	if want := latest(steps); have > want {
		return fmt.Errorf("migrate: store schema version %d is newer than this program's %d", have, want)
	}
	for _, m := range steps {
		if m.version <= have {
			continue
		}
		if err := exec(m.sql); err != nil {
			return fmt.Errorf("migrate to version %d: %w", m.version, err)
		}
		if err := exec(record, m.version, time.Now().UnixNano()); err != nil {
			return fmt.Errorf("migrate to version %d: %w", m.version, err)
		}
	}
	return nil
}
