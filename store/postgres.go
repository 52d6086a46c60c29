package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/perfengine/perfengine/metrics"
)

var _ Store = (*Postgres)(nil)

// Postgres is the store a fleet shares: the same records as SQLite, in the
// schema "perfengine" of any PostgreSQL database, so it can live beside an
// application's own tables. It is safe for concurrent use by goroutines and
// by several processes. The zero value is not usable; use OpenPostgres.
type Postgres struct {
	pool *pgxpool.Pool
	ret  Retention
	now  func() time.Time

	life sync.RWMutex
	done bool

	cacheMu sync.Mutex
	cache   map[seriesKey]seriesEntry
}

// OpenPostgres connects to dsn (a postgres:// URL or keyword=value string)
// and brings the schema up to date.
func OpenPostgres(ctx context.Context, dsn string, r Retention) (*Postgres, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's message repeats the DSN, password included.
		return nil, fmt.Errorf("%w: cannot parse PostgreSQL DSN", ErrInvalid)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	if err := migratePostgres(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	return &Postgres{pool: pool, ret: r.WithDefaults(), now: time.Now, cache: map[seriesKey]seriesEntry{}}, nil
}

func (s *Postgres) enter() error {
	s.life.RLock()
	if s.done {
		s.life.RUnlock()
		return ErrClosed
	}
	return nil
}

func (s *Postgres) leave() { s.life.RUnlock() }

// Close waits for running operations, then closes the pool. Later calls
// return nil; other methods return ErrClosed.
func (s *Postgres) Close() error {
	s.life.Lock()
	defer s.life.Unlock()
	if !s.done {
		s.done = true
		s.pool.Close()
	}
	return nil
}

var sampleColumns = []string{"series_id", "ts", "value"}

func (s *Postgres) WriteSamples(ctx context.Context, samples []metrics.Sample) error {
	if len(samples) == 0 {
		return nil
	}
	for i, sm := range samples {
		if err := checkSample(i, sm); err != nil {
			return err
		}
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	rows := make([][]any, len(samples))
	for i, sm := range samples {
		id, err := s.seriesID(ctx, sm)
		if err != nil {
			return fmt.Errorf("write samples: %w", err)
		}
		rows[i] = []any{id, nanos(sm.Time), sm.Value}
	}
	// One COPY is one statement, so the batch is stored whole or not at
	// all, in one round trip and without per-row parsing.
	if _, err := s.pool.CopyFrom(ctx, pgx.Identifier{"perfengine", "samples"}, sampleColumns, pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("write samples: %w", err)
	}
	return nil
}

// seriesID returns the ID of the sample's series, creating it on first
// use. Each upsert commits on its own: inside the batch's transaction, two
// writers creating the same new series in different orders would deadlock
// on each other's row locks. A series created for a batch that then fails
// is an unused row, which is harmless.
func (s *Postgres) seriesID(ctx context.Context, sm metrics.Sample) (int64, error) {
	labels, err := labelsJSON(sm.Labels)
	if err != nil {
		return 0, fmt.Errorf("encode labels: %w", err)
	}
	k := seriesKey{sm.Name, labels}
	s.cacheMu.Lock()
	e, ok := s.cache[k]
	s.cacheMu.Unlock()
	if ok && e.unit == sm.Unit {
		return e.id, nil
	}
	if err := s.pool.QueryRow(ctx, `INSERT INTO perfengine.series (name, labels, unit) VALUES ($1, $2, $3)
		ON CONFLICT (name, labels) DO UPDATE SET unit = excluded.unit RETURNING id`,
		sm.Name, labels, string(sm.Unit)).Scan(&e.id); err != nil {
		return 0, fmt.Errorf("series %s: %w", sm.Name, err)
	}
	e.unit = sm.Unit
	s.cacheMu.Lock()
	s.cache[k] = e
	s.cacheMu.Unlock()
	return e.id, nil
}

func (s *Postgres) QuerySamples(ctx context.Context, q SampleQuery) ([]metrics.Sample, error) {
	if err := checkQuery(q); err != nil {
		return nil, err
	}
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	from, to := queryRange(q, s.now())
	var labels *string
	if q.Labels != nil {
		l, err := labelsJSON(q.Labels)
		if err != nil {
			return nil, fmt.Errorf("query samples: encode labels: %w", err)
		}
		labels = &l
	}
	// As in SQLite: the series first, then index range scans that can
	// stop at the limit.
	rows, err := s.pool.Query(ctx, "SELECT id, labels, unit FROM perfengine.series WHERE name = $1 AND ($2::text IS NULL OR labels = $2)", q.Name, labels)
	if err != nil {
		return nil, fmt.Errorf("query samples: %w", err)
	}
	series := map[int64]seriesInfo{}
	var ids []int64
	var id int64
	var lbl, unit string
	if _, err := pgx.ForEachRow(rows, []any{&id, &lbl, &unit}, func() error {
		l, err := parseLabels(lbl)
		if err != nil {
			return err
		}
		series[id] = seriesInfo{name: q.Name, labels: l, unit: metrics.Unit(unit)}
		ids = append(ids, id)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("query samples: %w", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	var limit *int64
	order := "ASC"
	if q.Limit > 0 {
		n := int64(q.Limit)
		limit, order = &n, "DESC"
	}
	rows, err = s.pool.Query(ctx, `
		SELECT series_id, ts, value FROM (
			(SELECT series_id, ts, value FROM perfengine.samples
				WHERE series_id = ANY($1) AND ts >= $2 AND ts < $3
				ORDER BY ts `+order+`, series_id `+order+` LIMIT $4)
			UNION ALL
			(SELECT series_id, minute, total / n FROM perfengine.aggregates
				WHERE series_id = ANY($1) AND minute >= $2 AND minute < $3
				ORDER BY minute `+order+`, series_id `+order+` LIMIT $4)
		) x ORDER BY ts `+order+`, series_id `+order+` LIMIT $4`, ids, from, to, limit)
	if err != nil {
		return nil, fmt.Errorf("query samples: %w", err)
	}
	var out []metrics.Sample
	var ts int64
	var v float64
	if _, err := pgx.ForEachRow(rows, []any{&id, &ts, &v}, func() error {
		out = append(out, series[id].sample(ts, v))
		return nil
	}); err != nil {
		return nil, fmt.Errorf("query samples: %w", err)
	}
	if q.Limit > 0 {
		reverse(out)
	}
	return out, nil
}

func (s *Postgres) Compact(ctx context.Context, now time.Time) error {
	if now.IsZero() {
		return fmt.Errorf("%w: compact at the zero time", ErrInvalid)
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	rawCut, aggCut := cutoffs(s.ret, now)
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	// Two engines of a fleet compacting at once would fold the same rows
	// twice; the lock makes the second wait and then find nothing to fold.
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", compactLock); err != nil {
		return fmt.Errorf("compact: lock: %w", err)
	}
	steps := []struct {
		what string
		sql  string
		args []any
	}{
		{"fold samples", `INSERT INTO perfengine.aggregates AS a (series_id, minute, n, total, lo, hi)
			SELECT series_id, ts - mod(mod(ts, $1) + $1, $1) AS m, count(*), sum(value), min(value), max(value)
			FROM perfengine.samples WHERE ts < $2 GROUP BY series_id, m
			ON CONFLICT (series_id, minute) DO UPDATE SET
				n = a.n + excluded.n, total = a.total + excluded.total,
				lo = least(a.lo, excluded.lo), hi = greatest(a.hi, excluded.hi)`, []any{minute, rawCut}},
		{"delete samples", "DELETE FROM perfengine.samples WHERE ts < $1", []any{rawCut}},
		{"delete aggregates", "DELETE FROM perfengine.aggregates WHERE minute < $1", []any{aggCut}},
		{"delete alerts", "DELETE FROM perfengine.alerts WHERE ts < $1", []any{aggCut}},
	}
	for _, st := range steps {
		if _, err := tx.Exec(ctx, st.sql, st.args...); err != nil {
			return fmt.Errorf("compact: %s: %w", st.what, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("compact: commit: %w", err)
	}
	return nil
}

func (s *Postgres) SaveAction(ctx context.Context, a Action) error {
	if err := checkAction(a); err != nil {
		return err
	}
	args, err := actionArgs(a)
	if err != nil {
		return err
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	_, err = s.pool.Exec(ctx, `INSERT INTO perfengine.actions (`+actionColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
		ON CONFLICT (id) DO UPDATE SET module = excluded.module, kind = excluded.kind,
			target = excluded.target, description = excluded.description, impact = excluded.impact,
			risk = excluded.risk, undo = excluded.undo, params = excluded.params, state = excluded.state,
			result = excluded.result, error = excluded.error, created_at = excluded.created_at,
			updated_at = excluded.updated_at`, args...)
	if err != nil {
		return fmt.Errorf("save action %s: %w", a.ID, err)
	}
	return nil
}

func (s *Postgres) GetAction(ctx context.Context, id string) (Action, error) {
	if err := s.enter(); err != nil {
		return Action{}, err
	}
	defer s.leave()
	a, err := scanAction(s.pool.QueryRow(ctx, "SELECT "+actionColumns+" FROM perfengine.actions WHERE id = $1", id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Action{}, fmt.Errorf("action %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Action{}, fmt.Errorf("get action %s: %w", id, err)
	}
	return a, nil
}

func (s *Postgres) ListActions(ctx context.Context, f ActionFilter) ([]Action, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	since := int64(math.MinInt64)
	if !f.Since.IsZero() {
		since = nanos(f.Since)
	}
	var limit *int64
	if f.Limit > 0 {
		n := int64(f.Limit)
		limit = &n
	}
	rows, err := s.pool.Query(ctx, `SELECT `+actionColumns+` FROM perfengine.actions
		WHERE ($1 = '' OR module = $1) AND ($2 = '' OR state = $2) AND created_at >= $3
		ORDER BY created_at DESC, id DESC LIMIT $4`, f.Module, f.State, since, limit)
	if err != nil {
		return nil, fmt.Errorf("list actions: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Action, error) { return scanAction(r) })
	if err != nil {
		return nil, fmt.Errorf("list actions: %w", err)
	}
	return out, nil
}

func (s *Postgres) SaveBaseline(ctx context.Context, b Baseline) error {
	if err := checkBaseline(b); err != nil {
		return err
	}
	args, err := baselineArgs(b)
	if err != nil {
		return err
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	if _, err := s.pool.Exec(ctx, `INSERT INTO perfengine.baselines (version, metric, vals, created_at)
		VALUES ($1, $2, $3, $4) ON CONFLICT (version, metric) DO UPDATE SET
		vals = excluded.vals, created_at = excluded.created_at`, args...); err != nil {
		return fmt.Errorf("save baseline %s/%s: %w", b.Version, b.Metric, err)
	}
	return nil
}

func (s *Postgres) Baselines(ctx context.Context, version string) ([]Baseline, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	rows, err := s.pool.Query(ctx, `SELECT version, metric, vals, created_at FROM perfengine.baselines
		WHERE version = $1 ORDER BY metric`, version)
	if err != nil {
		return nil, fmt.Errorf("baselines %s: %w", version, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Baseline, error) { return scanBaseline(r) })
	if err != nil {
		return nil, fmt.Errorf("baselines %s: %w", version, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("baselines of version %q: %w", version, ErrNotFound)
	}
	return out, nil
}

func (s *Postgres) Versions(ctx context.Context) ([]string, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	rows, err := s.pool.Query(ctx, `SELECT version FROM perfengine.baselines
		GROUP BY version ORDER BY max(created_at) DESC, version DESC`)
	if err != nil {
		return nil, fmt.Errorf("versions: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("versions: %w", err)
	}
	return out, nil
}

func (s *Postgres) SaveAlert(ctx context.Context, a Alert) error {
	if err := checkAlert(a); err != nil {
		return err
	}
	args, err := alertArgs(a)
	if err != nil {
		return err
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	if _, err := s.pool.Exec(ctx, `INSERT INTO perfengine.alerts (`+alertColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO UPDATE SET
		ts = excluded.ts, severity = excluded.severity, source = excluded.source, title = excluded.title,
		detail = excluded.detail, labels = excluded.labels, resolved = excluded.resolved`, args...); err != nil {
		return fmt.Errorf("save alert %s: %w", a.ID, err)
	}
	return nil
}

func (s *Postgres) ListAlerts(ctx context.Context, limit int) ([]Alert, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	var lim *int64
	if limit > 0 {
		n := int64(limit)
		lim = &n
	}
	rows, err := s.pool.Query(ctx, `SELECT `+alertColumns+` FROM perfengine.alerts
		ORDER BY ts DESC, id DESC LIMIT $1`, lim)
	if err != nil {
		return nil, fmt.Errorf("list alerts: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Alert, error) { return scanAlert(r) })
	if err != nil {
		return nil, fmt.Errorf("list alerts: %w", err)
	}
	return out, nil
}

func (s *Postgres) PutState(ctx context.Context, key string, value []byte) error {
	if key == "" {
		return fmt.Errorf("%w: state key is empty", ErrInvalid)
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	if value == nil {
		value = []byte{}
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO perfengine.state (key, value, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
		key, value, time.Now().UnixNano()); err != nil {
		return fmt.Errorf("put state %s: %w", key, err)
	}
	return nil
}

func (s *Postgres) GetState(ctx context.Context, key string) ([]byte, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	var v []byte
	err := s.pool.QueryRow(ctx, `SELECT value FROM perfengine.state WHERE key = $1`, key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get state %s: %w", key, err)
	}
	return v, nil
}
