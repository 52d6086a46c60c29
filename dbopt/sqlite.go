package dbopt

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/perfengine/perfengine/metrics"
)

// SQLite thresholds: a WAL this much larger than its autocheckpoint size
// means checkpoints are being starved by readers; a freelist this large a
// share of the file is worth a VACUUM.
const (
	sqliteWALBytes      = 64 << 20
	sqliteFreelistRatio = 0.20
	sqliteFreelistPages = 1024
	sqliteScanRows      = 1000 // full scans of smaller tables are fine
)

func (o *Optimizer) initSQLite(ctx context.Context) error {
	if o.db == nil {
		path := o.dsn.Conn
		if p, _, _ := strings.Cut(path, "?"); !strings.HasPrefix(p, "file:") && p != ":memory:" {
			// database/sql would create an empty database: for an optimizer
			// a missing file is a mistake.
			if _, err := os.Stat(p); err != nil {
				return fmt.Errorf("open %s: %w", o.dsn, err)
			}
		}
		db, err := sql.Open("sqlite", path)
		if err != nil {
			return fmt.Errorf("open %s: %w", o.dsn, err)
		}
		if err := db.PingContext(ctx); err != nil {
			db.Close()
			return fmt.Errorf("open %s: %w", o.dsn, err)
		}
		o.db = db
	}
	var v string
	if err := o.db.QueryRowContext(ctx, `SELECT sqlite_version()`).Scan(&v); err != nil {
		return fmt.Errorf("open %s: not a SQLite database: %w", o.dsn, err)
	}
	if _, err := o.db.ExecContext(ctx, `SELECT count(*) FROM sqlite_master`); err != nil {
		return fmt.Errorf("open %s: %w", o.dsn, err)
	}
	var qo int
	if err := o.db.QueryRowContext(ctx, `PRAGMA query_only`).Scan(&qo); err == nil && qo == 1 {
		o.readOnly = true
	}
	return nil
}

// sqliteFile is the database's file figures.
type sqliteFile struct {
	pageSize, pages, freelist int64
	journal, file             string
	autoVacuum                int64
}

func (o *Optimizer) sqliteFile(ctx context.Context) (sqliteFile, error) {
	var f sqliteFile
	for _, p := range []struct {
		pragma string
		dst    any
	}{{"page_size", &f.pageSize}, {"page_count", &f.pages}, {"freelist_count", &f.freelist}, {"journal_mode", &f.journal}, {"auto_vacuum", &f.autoVacuum}} {
		if err := o.db.QueryRowContext(ctx, "PRAGMA "+p.pragma).Scan(p.dst); err != nil {
			return f, fmt.Errorf("pragma %s: %w", p.pragma, err)
		}
	}
	rows, err := o.db.QueryContext(ctx, `PRAGMA database_list`)
	if err != nil {
		return f, err
	}
	defer rows.Close()
	for rows.Next() {
		var seq int
		var name, file string
		if err := rows.Scan(&seq, &name, &file); err != nil {
			return f, err
		}
		if name == "main" {
			f.file = file
		}
	}
	return f, rows.Err()
}

func (f sqliteFile) walBytes() int64 {
	if f.file == "" || !strings.EqualFold(f.journal, "wal") {
		return 0
	}
	st, err := os.Stat(f.file + "-wal")
	if err != nil {
		return 0
	}
	return st.Size()
}

func (o *Optimizer) sqliteMetrics(ctx context.Context) ([]metrics.Sample, error) {
	f, err := o.sqliteFile(ctx)
	if err != nil {
		return nil, err
	}
	now := o.now()
	out := []metrics.Sample{
		{Name: MetricSizeBytes, Value: float64(f.pages * f.pageSize), Unit: metrics.UnitBytes, Time: now},
		{Name: MetricFreelistRatio, Value: float64(f.freelist) / float64(max(f.pages, 1)), Unit: metrics.UnitRatio, Time: now},
		{Name: MetricWALBytes, Value: float64(f.walBytes()), Unit: metrics.UnitBytes, Time: now},
	}
	if o.rec != nil {
		out = append(out, metrics.Sample{Name: MetricSlowQueries, Value: float64(len(o.recordedSlow())), Unit: metrics.UnitCount, Time: now})
		var p95 float64
		for _, s := range o.rec.Snapshot() {
			p95 = max(p95, s.P95Ms)
		}
		out = append(out, metrics.Sample{Name: MetricQueryP95Ms, Value: p95, Unit: metrics.UnitMilliseconds, Time: now})
	}
	out = append(out, o.poolSamples(now)...)
	return out, nil
}

func (o *Optimizer) sqliteTables(ctx context.Context) ([]string, error) {
	rows, err := o.db.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

func (o *Optimizer) sqliteHealth(ctx context.Context) (*Report, error) {
	r := &Report{Kind: KindSQLite, Time: o.now(), ReadOnly: o.readOnly, Database: o.dsn.Conn}
	if err := o.db.QueryRowContext(ctx, `SELECT sqlite_version()`).Scan(&r.Version); err != nil {
		return nil, err
	}
	f, err := o.sqliteFile(ctx)
	if err != nil {
		return nil, err
	}
	if f.file != "" {
		r.Database = f.file
	}
	tables, err := o.sqliteTables(ctx)
	if err != nil {
		return nil, err
	}

	// Slow queries, from the application's timings.
	c := Check{Name: "slow_queries", Status: StatusOK}
	if o.rec == nil {
		c = Check{Name: "slow_queries", Status: StatusSkipped, Summary: "no query timings: open the database through querytrace.Connector and pass WithRecorder"}
	} else {
		slow := o.recordedSlow()
		for _, q := range slow {
			c.Items = append(c.Items, CheckItem{Object: Abbrev(q.Query, 120), Detail: fmt.Sprintf("%d calls, mean %.1f ms, p95 %.1f ms", q.Calls, q.MeanMs, q.P95Ms), Value: q.MeanMs, Fix: "perfengine db advise"})
		}
		c.Summary = fmt.Sprintf("%d statements with mean ≥ %.0f ms and ≥ %d calls", len(slow), o.th.SlowQueryMs, o.th.SlowQueryCalls)
		if len(slow) > 0 {
			c.Status = StatusWarning
		}
	}
	r.Checks = append(r.Checks, c)

	// Statistics: without sqlite_stat1 the planner guesses.
	c = Check{Name: "analyze", Status: StatusOK}
	stat := map[string]bool{}
	if rows, err := o.db.QueryContext(ctx, `SELECT DISTINCT tbl FROM sqlite_stat1`); err == nil {
		for rows.Next() {
			var t string
			if rows.Scan(&t) == nil {
				stat[t] = true
			}
		}
		rows.Close()
	}
	for _, t := range tables {
		// ANALYZE of an empty table writes no statistics, and the planner
		// has nothing to guess wrong about there, so it is not flagged: a
		// check its own fix cannot clear would never close.
		if stat[t] || !o.sqliteHasIndex(ctx, t) || !o.sqliteHasRows(ctx, t) {
			continue
		}
		c.Items = append(c.Items, CheckItem{Object: t, Detail: "indexed table without planner statistics", Fix: "ANALYZE " + quoteIdent(t)})
	}
	c.Summary = fmt.Sprintf("%d indexed tables without statistics", len(c.Items))
	if len(c.Items) > 0 {
		c.Status = StatusWarning
	}
	r.Checks = append(r.Checks, c)

	// Free pages.
	c = Check{Name: "vacuum", Status: StatusOK}
	ratio := float64(f.freelist) / float64(max(f.pages, 1))
	c.Summary = fmt.Sprintf("%d of %d pages free (%.0f%%)", f.freelist, f.pages, ratio*100)
	if ratio >= sqliteFreelistRatio && f.freelist >= sqliteFreelistPages {
		c.Status = StatusWarning
		fix := "VACUUM (rewrites the file; needs free disk of its size)"
		if f.autoVacuum == 2 {
			fix = "PRAGMA incremental_vacuum"
		}
		c.Items = []CheckItem{{Object: "main", Detail: c.Summary, Value: ratio, Fix: fix}}
	}
	r.Checks = append(r.Checks, c)

	// WAL growth.
	c = Check{Name: "wal_checkpoint", Status: StatusOK}
	if !strings.EqualFold(f.journal, "wal") {
		c.Summary = "journal mode " + f.journal + " (WAL lets readers and a writer work at once: PRAGMA journal_mode = WAL)"
	} else {
		wal := f.walBytes()
		c.Summary = "WAL is " + humanBytes(wal)
		if wal >= sqliteWALBytes {
			c.Status = StatusWarning
			c.Items = []CheckItem{{Object: "main-wal", Detail: c.Summary + ": long readers are starving checkpoints", Value: float64(wal), Fix: "PRAGMA wal_checkpoint(TRUNCATE)"}}
		}
	}
	r.Checks = append(r.Checks, c)

	// Full scans of recorded queries.
	c = Check{Name: "full_scans", Status: StatusOK}
	if o.rec == nil {
		c = Check{Name: "full_scans", Status: StatusSkipped, Summary: "no query timings to check"}
	} else {
		counts := map[string]int64{}
		for _, s := range o.rec.Snapshot() {
			if ownQuery(s.Query) {
				continue
			}
			plan, err := o.sqlitePlan(ctx, o.db, s.Query)
			if err != nil {
				continue
			}
			for _, st := range plan {
				if st.kind == "SCAN" && st.index == "" {
					if _, ok := counts[st.table]; !ok {
						counts[st.table] = o.sqliteRowCount(ctx, st.table)
					}
					if counts[st.table] >= sqliteScanRows {
						c.Items = append(c.Items, CheckItem{Object: st.table, Detail: fmt.Sprintf("full scan of %d rows in: %s", counts[st.table], Abbrev(s.Query, 100)), Value: float64(counts[st.table]), Fix: "perfengine db advise"})
					}
				}
			}
		}
		c.Summary = fmt.Sprintf("%d recorded statements scan a table of ≥ %d rows", len(c.Items), sqliteScanRows)
		if len(c.Items) > 0 {
			c.Status = StatusWarning
		}
	}
	r.Checks = append(r.Checks, c)
	return r, nil
}

func (o *Optimizer) sqliteHasIndex(ctx context.Context, t string) bool {
	var n int
	_ = o.db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = ?`, t).Scan(&n)
	return n > 0
}

func (o *Optimizer) sqliteHasRows(ctx context.Context, t string) bool {
	var one int
	return o.db.QueryRowContext(ctx, `/* perfengine */ SELECT 1 FROM `+quoteIdent(t)+` LIMIT 1`).Scan(&one) == nil
}

func (o *Optimizer) sqliteRowCount(ctx context.Context, t string) int64 {
	var n int64
	_ = o.db.QueryRowContext(ctx, `/* perfengine */ SELECT count(*) FROM `+quoteIdent(t)).Scan(&n)
	return n
}

func (o *Optimizer) sqliteAddIndex(ctx context.Context, s Suggestion) (*Applied, error) {
	if o.readOnly {
		return nil, ErrReadOnly
	}
	tables, err := o.sqliteTables(ctx)
	if err != nil {
		return nil, err
	}
	if !contains(tables, s.Table) {
		return nil, fmt.Errorf("create index: table %q does not exist", s.Table)
	}
	_, c, err := ddlFor(s, "main", s.Table)
	if err != nil {
		return nil, err
	}
	name := s.Name
	if name == "" {
		name = indexName(c)
	}
	ddl := sqliteDDL(c, name, true)
	start := o.now()
	if _, err := o.db.ExecContext(ctx, ddl); err != nil {
		return nil, fmt.Errorf("create index %s: %w", name, err)
	}
	// Fresh statistics let the planner weigh the new index.
	if _, err := o.db.ExecContext(ctx, `ANALYZE `+quoteIdent(name)); err != nil {
		return nil, fmt.Errorf("analyze index %s: %w", name, err)
	}
	a := &Applied{Name: name, Statement: ddl, Duration: o.now().Sub(start), Undo: "DROP INDEX " + quoteIdent(name)}
	a.SizeBytes = o.sqliteIndexSize(ctx, o.db, name)
	for _, q := range s.Queries {
		plan, err := o.sqlitePlan(ctx, o.db, q)
		if err != nil {
			continue
		}
		for _, st := range plan {
			if st.index == name {
				a.Used = append(a.Used, q)
				if a.Plan == "" {
					a.Plan = planText(plan)
				}
				break
			}
		}
	}
	o.log.Info("index created", "index", name, "bytes", a.SizeBytes, "took", a.Duration)
	return a, nil
}

// sqliteDDL is the statement for SQLite: no CONCURRENTLY, and a comment
// inside that sqlite_master keeps, marking the index as ours.
func sqliteDDL(c *candidate, name string, mark bool) string {
	var b strings.Builder
	b.WriteString("CREATE INDEX IF NOT EXISTS ")
	b.WriteString(quoteIdent(name))
	b.WriteString(" ON ")
	b.WriteString(quoteIdent(c.Table.Name))
	b.WriteString(" (")
	b.WriteString(quotedList(c.Columns))
	b.WriteString(")")
	if mark {
		b.WriteString(" /* " + strings.TrimSpace(ourComment) + " */")
	}
	if c.Where != "" {
		b.WriteString(" WHERE ")
		b.WriteString(c.Where)
	}
	return b.String()
}

func (o *Optimizer) sqliteDropIndex(ctx context.Context, name string) error {
	if o.readOnly {
		return ErrReadOnly
	}
	var ddl sql.NullString
	err := o.db.QueryRowContext(ctx, `SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?`, name).Scan(&ddl)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("drop index: %w", err)
	}
	if !strings.Contains(ddl.String, strings.TrimSpace(ourComment)) {
		return fmt.Errorf("%w: %s", ErrNotOurs, name)
	}
	if _, err := o.db.ExecContext(ctx, `DROP INDEX IF EXISTS `+quoteIdent(name)); err != nil {
		return fmt.Errorf("drop index %s: %w", name, err)
	}
	return nil
}

// querier is what plan and size helpers need: a *sql.DB, *sql.Conn or
// *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func (o *Optimizer) sqliteIndexSize(ctx context.Context, q querier, name string) int64 {
	var n sql.NullInt64
	if err := q.QueryRowContext(ctx, `SELECT sum(pgsize) FROM dbstat WHERE name = ?`, name).Scan(&n); err != nil {
		return 0
	}
	return n.Int64
}
