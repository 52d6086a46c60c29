package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/perfengine/perfengine/metrics"
)

// DefaultSQLiteFile is the database file created when OpenSQLite is given a
// directory.
const DefaultSQLiteFile = "perfengine.db"

var _ Store = (*SQLite)(nil)

// SQLite is the embedded store: one file in WAL mode, written through a
// single connection and read through a small pool. It is safe for
// concurrent use, also by several processes on one file (they wait for
// SQLite's lock, up to 10 s). The zero value is not usable; use OpenSQLite.
type SQLite struct {
	path string
	ret  Retention
	now  func() time.Time

	// SQLite allows one writer at a time. Funnelling writes through one
	// connection queues them in Go instead of having them fail with
	// SQLITE_BUSY; readers in WAL mode never wait for the writer.
	w    *sql.DB
	rd   *sql.DB
	ins  []*sql.Stmt // sample inserts of insertChunks[i] rows, prepared on w
	ser  *sql.Stmt   // series upsert, prepared on w
	life sync.RWMutex
	done bool

	cacheMu sync.Mutex
	cache   map[seriesKey]seriesEntry
}

// OpenSQLite opens (creating if needed) the store at path: a database file,
// or a directory (an existing one, or any path ending in a slash), in which
// it uses DefaultSQLiteFile. Missing directories are created. It brings the schema up to date.
//
// Commits use synchronous=NORMAL in WAL mode: a commit is in the operating
// system once the call returns, so it survives the process being killed
// (tested with SIGKILL), but the last commits can be lost if the machine
// itself loses power. Metrics and action history can afford that; an fsync
// per commit (synchronous=FULL) costs several times the write time.
func OpenSQLite(path string, r Retention) (*SQLite, error) {
	return openSQLite(path, r, "NORMAL")
}

func openSQLite(path string, r Retention, synchronous string) (*SQLite, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: empty SQLite path", ErrInvalid)
	}
	if strings.ContainsAny(path, "?#") {
		// The driver reads what follows '?' as its own options.
		return nil, fmt.Errorf("%w: SQLite path %q contains '?' or '#'", ErrInvalid, path)
	}
	if strings.HasSuffix(path, "/") || strings.HasSuffix(path, string(filepath.Separator)) {
		if err := os.MkdirAll(path, 0o750); err != nil {
			return nil, fmt.Errorf("create store directory: %w", err)
		}
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		path = filepath.Join(path, DefaultSQLiteFile)
	} else if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("create store directory: %w", err)
	}
	common := "?_busy_timeout=10000&_foreign_keys=1&_synchronous=" + synchronous
	w, err := sql.Open("sqlite", path+common+"&_journal_mode=WAL&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	s := &SQLite{path: path, ret: r.WithDefaults(), now: time.Now, w: w, cache: map[seriesKey]seriesEntry{}}
	if err := s.init(); err != nil {
		_ = s.closeDBs()
		return nil, err
	}
	return s, nil
}

func (s *SQLite) init() error {
	ctx := context.Background()
	var mode string
	if err := s.w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("open sqlite %s: %w", s.path, err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("open sqlite %s: journal mode is %q, not wal (is the file system local?)", s.path, mode)
	}
	if err := migrateSQLite(ctx, s.w); err != nil {
		return err
	}
	rd, err := sql.Open("sqlite", s.path+"?_busy_timeout=10000&_query_only=1")
	if err != nil {
		return fmt.Errorf("open sqlite %s: %w", s.path, err)
	}
	rd.SetMaxOpenConns(4)
	s.rd = rd
	for _, n := range insertChunks {
		q := "INSERT INTO samples (series_id, ts, value) VALUES (?, ?, ?)" + strings.Repeat(", (?, ?, ?)", n-1)
		st, err := s.w.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
		s.ins = append(s.ins, st)
	}
	if s.ser, err = s.w.PrepareContext(ctx, `INSERT INTO series (name, labels, unit) VALUES (?, ?, ?)
		ON CONFLICT (name, labels) DO UPDATE SET unit = excluded.unit RETURNING id`); err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	return nil
}

// Path is the database file in use.
func (s *SQLite) Path() string { return s.path }

// enter holds off Close while an operation runs.
func (s *SQLite) enter() error {
	s.life.RLock()
	if s.done {
		s.life.RUnlock()
		return ErrClosed
	}
	return nil
}

func (s *SQLite) leave() { s.life.RUnlock() }

// Close waits for running operations, then closes the database. Later calls
// return nil; other methods return ErrClosed.
func (s *SQLite) Close() error {
	s.life.Lock()
	defer s.life.Unlock()
	if s.done {
		return nil
	}
	s.done = true
	return s.closeDBs()
}

func (s *SQLite) closeDBs() error {
	var errs []error
	for _, st := range append(s.ins, s.ser) {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	if s.rd != nil {
		errs = append(errs, s.rd.Close())
	}
	errs = append(errs, s.w.Close())
	return errors.Join(errs...)
}

func (s *SQLite) WriteSamples(ctx context.Context, samples []metrics.Sample) error {
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
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("write samples: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	// Series created here join the cache only after the commit: a rolled
	// back transaction must not leave IDs that do not exist.
	var created map[seriesKey]seriesEntry
	args := make([]any, 0, 3*len(samples))
	for _, sm := range samples {
		labels, err := labelsJSON(sm.Labels)
		if err != nil {
			return fmt.Errorf("write samples: encode labels: %w", err)
		}
		k := seriesKey{sm.Name, labels}
		e, ok := created[k]
		if !ok {
			s.cacheMu.Lock()
			e, ok = s.cache[k]
			s.cacheMu.Unlock()
		}
		if !ok || e.unit != sm.Unit {
			if err := tx.StmtContext(ctx, s.ser).QueryRowContext(ctx, sm.Name, labels, string(sm.Unit)).Scan(&e.id); err != nil {
				return fmt.Errorf("write samples: series %s: %w", sm.Name, err)
			}
			e.unit = sm.Unit
			if created == nil {
				created = map[seriesKey]seriesEntry{}
			}
			created[k] = e
		}
		args = append(args, e.id, nanos(sm.Time), sm.Value)
	}
	if err := s.insert(ctx, tx, args); err != nil {
		return fmt.Errorf("write samples: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("write samples: commit: %w", err)
	}
	if created != nil {
		s.cacheMu.Lock()
		maps.Copy(s.cache, created)
		s.cacheMu.Unlock()
	}
	return nil
}

// insertChunks are the row counts of the prepared multi-row inserts. One
// statement per row costs a VDBE run each; a batch of 100 goes out as
// 64+16+16+4 rows in four statements instead.
var insertChunks = []int{64, 16, 4, 1}

// insert writes args, three per sample row, with as few statements as the
// prepared chunk sizes allow.
func (s *SQLite) insert(ctx context.Context, tx *sql.Tx, args []any) error {
	for i, n := range insertChunks {
		for len(args) >= 3*n {
			if _, err := tx.StmtContext(ctx, s.ins[i]).ExecContext(ctx, args[:3*n]...); err != nil {
				return err
			}
			args = args[3*n:]
		}
	}
	return nil
}

func (s *SQLite) QuerySamples(ctx context.Context, q SampleQuery) ([]metrics.Sample, error) {
	if err := checkQuery(q); err != nil {
		return nil, err
	}
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	from, to := queryRange(q, s.now())
	var labels any // NULL matches any label set
	if q.Labels != nil {
		l, err := labelsJSON(q.Labels)
		if err != nil {
			return nil, fmt.Errorf("query samples: encode labels: %w", err)
		}
		labels = l
	}
	// The series first: with their IDs spelled out, each branch below is
	// an index range scan, and for one series with a limit SQLite walks
	// the (series_id, ts) index backwards and stops, instead of sorting
	// the whole range.
	rows, err := s.rd.QueryContext(ctx, "SELECT id, labels, unit FROM series WHERE name = ?1 AND (?2 IS NULL OR labels = ?2)", q.Name, labels)
	if err != nil {
		return nil, fmt.Errorf("query samples: %w", err)
	}
	series, err := collectSeries(q.Name, rows)
	if err != nil || len(series) == 0 {
		return nil, err
	}
	ids := make([]string, 0, len(series))
	args := []any{from, to, int64(-1)} // LIMIT -1: none
	for id := range series {
		args = append(args, id)
		ids = append(ids, "?"+strconv.Itoa(len(args)))
	}
	in := strings.Join(ids, ", ")
	order := "ASC"
	if q.Limit > 0 {
		order, args[2] = "DESC", int64(q.Limit)
	}
	rows, err = s.rd.QueryContext(ctx, `
		SELECT series_id, ts, value FROM (
			SELECT * FROM (SELECT series_id, ts, value FROM samples
				WHERE series_id IN (`+in+`) AND ts >= ?1 AND ts < ?2
				ORDER BY ts `+order+`, series_id `+order+` LIMIT ?3)
			UNION ALL
			SELECT * FROM (SELECT series_id, minute, total / n FROM aggregates
				WHERE series_id IN (`+in+`) AND minute >= ?1 AND minute < ?2
				ORDER BY minute `+order+`, series_id `+order+` LIMIT ?3)
		) ORDER BY ts `+order+`, series_id `+order+` LIMIT ?3`, args...)
	if err != nil {
		return nil, fmt.Errorf("query samples: %w", err)
	}
	out, err := collectSamples(rows, series)
	if err != nil {
		return nil, fmt.Errorf("query samples: %w", err)
	}
	if q.Limit > 0 {
		reverse(out)
	}
	return out, nil
}

// seriesInfo is what a query needs of a series to build its samples.
type seriesInfo struct {
	name   string
	labels map[string]string
	unit   metrics.Unit
}

func collectSeries(name string, rows *sql.Rows) (map[int64]seriesInfo, error) {
	defer rows.Close()
	out := map[int64]seriesInfo{}
	for rows.Next() {
		var id int64
		var labels, unit string
		if err := rows.Scan(&id, &labels, &unit); err != nil {
			return nil, fmt.Errorf("query samples: %w", err)
		}
		l, err := parseLabels(labels)
		if err != nil {
			return nil, fmt.Errorf("query samples: %w", err)
		}
		out[id] = seriesInfo{name: name, labels: l, unit: metrics.Unit(unit)}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query samples: %w", err)
	}
	return out, nil
}

func collectSamples(rows *sql.Rows, series map[int64]seriesInfo) ([]metrics.Sample, error) {
	defer rows.Close()
	var out []metrics.Sample
	for rows.Next() {
		var id, ts int64
		var v float64
		if err := rows.Scan(&id, &ts, &v); err != nil {
			return nil, err
		}
		out = append(out, series[id].sample(ts, v))
	}
	return out, rows.Err()
}

func (si seriesInfo) sample(ts int64, v float64) metrics.Sample {
	return metrics.Sample{
		Name:   si.name,
		Value:  v,
		Unit:   si.unit,
		Labels: maps.Clone(si.labels), // callers may change one sample's labels
		Time:   fromNanos(ts),
	}
}

func (s *SQLite) Compact(ctx context.Context, now time.Time) error {
	if now.IsZero() {
		return fmt.Errorf("%w: compact at the zero time", ErrInvalid)
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	rawCut, aggCut := cutoffs(s.ret, now)
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	// There is no index on ts alone, which every insert would pay for;
	// "series_id IN (all series)" lets SQLite reach the old rows of each
	// series through (series_id, ts) instead of scanning the table.
	steps := []struct {
		what string
		sql  string
		arg  int64
	}{
		{"fold samples", `INSERT INTO aggregates (series_id, minute, n, total, lo, hi)
			SELECT series_id, ts - ((ts % ?1) + ?1) % ?1 AS m, count(*), sum(value), min(value), max(value)
			FROM samples WHERE series_id IN (SELECT id FROM series) AND ts < ?2 GROUP BY series_id, m
			ON CONFLICT (series_id, minute) DO UPDATE SET
				n = n + excluded.n, total = total + excluded.total,
				lo = min(lo, excluded.lo), hi = max(hi, excluded.hi)`, rawCut},
		{"delete samples", "DELETE FROM samples WHERE series_id IN (SELECT id FROM series) AND ts < ?2", rawCut},
		{"delete aggregates", "DELETE FROM aggregates WHERE minute < ?2", aggCut},
		{"delete alerts", "DELETE FROM alerts WHERE ts < ?2", aggCut},
	}
	for _, st := range steps {
		if _, err := tx.ExecContext(ctx, st.sql, minute, st.arg); err != nil {
			return fmt.Errorf("compact: %s: %w", st.what, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("compact: commit: %w", err)
	}
	return nil
}

func (s *SQLite) SaveAction(ctx context.Context, a Action) error {
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
	_, err = s.w.ExecContext(ctx, `INSERT OR REPLACE INTO actions (`+actionColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...)
	if err != nil {
		return fmt.Errorf("save action %s: %w", a.ID, err)
	}
	return nil
}

func (s *SQLite) GetAction(ctx context.Context, id string) (Action, error) {
	if err := s.enter(); err != nil {
		return Action{}, err
	}
	defer s.leave()
	a, err := scanAction(s.rd.QueryRowContext(ctx, "SELECT "+actionColumns+" FROM actions WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return Action{}, fmt.Errorf("action %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Action{}, fmt.Errorf("get action %s: %w", id, err)
	}
	return a, nil
}

func (s *SQLite) ListActions(ctx context.Context, f ActionFilter) ([]Action, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	since := int64(math.MinInt64)
	if !f.Since.IsZero() {
		since = nanos(f.Since)
	}
	limit := int64(-1)
	if f.Limit > 0 {
		limit = int64(f.Limit)
	}
	rows, err := s.rd.QueryContext(ctx, `SELECT `+actionColumns+` FROM actions
		WHERE (?1 = '' OR module = ?1) AND (?2 = '' OR state = ?2) AND created_at >= ?3
		ORDER BY created_at DESC, id DESC LIMIT ?4`, f.Module, f.State, since, limit)
	if err != nil {
		return nil, fmt.Errorf("list actions: %w", err)
	}
	defer rows.Close()
	var out []Action
	for rows.Next() {
		a, err := scanAction(rows)
		if err != nil {
			return nil, fmt.Errorf("list actions: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list actions: %w", err)
	}
	return out, nil
}

func (s *SQLite) SaveBaseline(ctx context.Context, b Baseline) error {
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
	if _, err := s.w.ExecContext(ctx, `INSERT OR REPLACE INTO baselines (version, metric, vals, created_at)
		VALUES (?, ?, ?, ?)`, args...); err != nil {
		return fmt.Errorf("save baseline %s/%s: %w", b.Version, b.Metric, err)
	}
	return nil
}

func (s *SQLite) Baselines(ctx context.Context, version string) ([]Baseline, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	rows, err := s.rd.QueryContext(ctx, `SELECT version, metric, vals, created_at FROM baselines
		WHERE version = ? ORDER BY metric`, version)
	if err != nil {
		return nil, fmt.Errorf("baselines %s: %w", version, err)
	}
	defer rows.Close()
	var out []Baseline
	for rows.Next() {
		b, err := scanBaseline(rows)
		if err != nil {
			return nil, fmt.Errorf("baselines %s: %w", version, err)
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("baselines %s: %w", version, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("baselines of version %q: %w", version, ErrNotFound)
	}
	return out, nil
}

func (s *SQLite) Versions(ctx context.Context) ([]string, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	rows, err := s.rd.QueryContext(ctx, `SELECT version FROM baselines
		GROUP BY version ORDER BY max(created_at) DESC, version DESC`)
	if err != nil {
		return nil, fmt.Errorf("versions: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("versions: %w", err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("versions: %w", err)
	}
	return out, nil
}

func (s *SQLite) SaveAlert(ctx context.Context, a Alert) error {
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
	if _, err := s.w.ExecContext(ctx, `INSERT OR REPLACE INTO alerts (`+alertColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, args...); err != nil {
		return fmt.Errorf("save alert %s: %w", a.ID, err)
	}
	return nil
}

func (s *SQLite) ListAlerts(ctx context.Context, limit int) ([]Alert, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	lim := int64(-1)
	if limit > 0 {
		lim = int64(limit)
	}
	rows, err := s.rd.QueryContext(ctx, `SELECT `+alertColumns+` FROM alerts ORDER BY ts DESC, id DESC LIMIT ?`, lim)
	if err != nil {
		return nil, fmt.Errorf("list alerts: %w", err)
	}
	defer rows.Close()
	var out []Alert
	for rows.Next() {
		a, err := scanAlert(rows)
		if err != nil {
			return nil, fmt.Errorf("list alerts: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list alerts: %w", err)
	}
	return out, nil
}

func (s *SQLite) PutState(ctx context.Context, key string, value []byte) error {
	if key == "" {
		return fmt.Errorf("%w: state key is empty", ErrInvalid)
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	if _, err := s.w.ExecContext(ctx, `INSERT OR REPLACE INTO state (key, value, updated_at) VALUES (?, ?, ?)`,
		key, value, time.Now().UnixNano()); err != nil {
		return fmt.Errorf("put state %s: %w", key, err)
	}
	return nil
}

func (s *SQLite) GetState(ctx context.Context, key string) ([]byte, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	var v []byte
	err := s.rd.QueryRowContext(ctx, `SELECT value FROM state WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get state %s: %w", key, err)
	}
	return v, nil
}
