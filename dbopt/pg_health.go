package dbopt

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgCheck is one health check: it fills c or returns an error, which makes
// the check "skipped" with the error as its reason.
type pgCheck struct {
	name string
	run  func(ctx context.Context, o *Optimizer, c *Check) error
}

var pgChecks = []pgCheck{
	{"long_running_queries", checkLongRunning},
	{"slow_queries", checkSlowQueries},
	{"cache_hit_rate", checkCacheHitRate},
	{"connections", checkConnections},
	{"idle_in_transaction", checkIdleInTransaction},
	{"transaction_id_wraparound", checkWraparound},
	{"sequence_overflow", checkSequences},
	{"invalid_indexes", checkInvalidIndexes},
	{"duplicate_indexes", checkDuplicateIndexes},
	{"unused_indexes", checkUnusedIndexes},
	{"missing_indexes", checkMissingIndexes},
	{"table_bloat", checkTableBloat},
	{"index_bloat", checkIndexBloat},
	{"vacuum_analyze", checkVacuum},
	{"blocked_queries", checkBlocked},
	{"replication_lag", checkReplication},
}

func (o *Optimizer) pgHealth(ctx context.Context) (*Report, error) {
	r := &Report{Kind: KindPostgres, Time: o.now(), ReadOnly: o.readOnly}
	if err := o.pool.QueryRow(ctx, `SELECT current_database(), current_setting('server_version')`).Scan(&r.Database, &r.Version); err != nil {
		return nil, fmt.Errorf("query database: %w", err)
	}
	for _, pc := range pgChecks {
		c := Check{Name: pc.name, Status: StatusOK}
		if err := pc.run(ctx, o, &c); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			c = Check{Name: pc.name, Status: StatusSkipped, Summary: err.Error()}
		}
		r.Checks = append(r.Checks, c)
	}
	if o.appPool != nil {
		r.Checks = append(r.Checks, o.poolCheck())
	}
	return r, nil
}

// poolCheck reports the application's pool: utilisation now and, from the
// second call on, a size from Little's law.
func (o *Optimizer) poolCheck() Check {
	st := o.appPool.stat()
	c := Check{Name: "connection_pool", Status: StatusOK}
	util := float64(st.inUse) / float64(max(st.maxConns, 1))
	c.Summary = fmt.Sprintf("%d of %d connections in use, %d acquires found no idle connection", st.inUse, st.maxConns, st.emptyAcquire)
	if adv, ok := o.PoolAdvice(); ok {
		c.Summary += fmt.Sprintf("; %.1f busy on average: size %d recommended", adv.InUse, adv.Recommended)
		if adv.Recommended > int(adv.MaxConns) {
			c.Status = StatusWarning
			c.Items = []CheckItem{{Object: "pool", Detail: adv.Reason, Value: float64(adv.Recommended), Fix: fmt.Sprintf("MaxConns = %d", adv.Recommended)}}
		}
	} else if util >= 0.9 {
		c.Status = StatusWarning
		c.Items = []CheckItem{{Object: "pool", Detail: c.Summary, Value: util}}
	}
	return c
}

func collect[T any](ctx context.Context, o *Optimizer, sql string, scan func(pgx.CollectableRow) (T, error), args ...any) ([]T, error) {
	rows, err := o.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scan)
}

func setStatus(c *Check, s string) {
	rank := map[string]int{StatusOK: 0, StatusWarning: 1, StatusCritical: 2}
	if rank[s] > rank[c.Status] {
		c.Status = s
	}
}

func secs(d time.Duration) float64 { return d.Seconds() }

func checkLongRunning(ctx context.Context, o *Optimizer, c *Check) error {
	items, err := collect(ctx, o, `
		SELECT pid, coalesce(state, ''), extract(epoch FROM now() - query_start)::float8, left(query, 200)
		FROM pg_stat_activity
		WHERE state IS NOT NULL AND state <> 'idle' AND state NOT LIKE 'idle in transaction%'
		  AND pid <> pg_backend_pid() AND query_start IS NOT NULL
		  AND now() - query_start > make_interval(secs => $1)
		ORDER BY query_start`, func(r pgx.CollectableRow) (CheckItem, error) {
		var pid int32
		var state, q string
		var s float64
		err := r.Scan(&pid, &state, &s, &q)
		return CheckItem{Object: fmt.Sprintf("pid %d", pid), Detail: fmt.Sprintf("%s for %.0f s: %s", state, s, Abbrev(q, 120)), Value: s, Fix: fmt.Sprintf("SELECT pg_cancel_backend(%d)", pid)}, err
	}, secs(o.th.LongRunningQuery))
	if err != nil {
		return err
	}
	c.Items = items
	c.Summary = fmt.Sprintf("%d queries running longer than %s", len(items), o.th.LongRunningQuery)
	if len(items) > 0 {
		setStatus(c, StatusWarning)
	}
	return nil
}

func checkSlowQueries(ctx context.Context, o *Optimizer, c *Check) error {
	qs, err := o.pgSlowQueries(ctx)
	if err != nil {
		return err
	}
	for _, q := range qs {
		c.Items = append(c.Items, CheckItem{Object: Abbrev(q.Query, 120), Detail: fmt.Sprintf("%d calls, mean %.1f ms, total %.0f ms", q.Calls, q.MeanMs, q.TotalMs), Value: q.MeanMs, Fix: "perfengine db advise"})
	}
	c.Summary = fmt.Sprintf("%d statements with mean ≥ %.0f ms and ≥ %d calls", len(qs), o.th.SlowQueryMs, o.th.SlowQueryCalls)
	if len(qs) > 0 {
		setStatus(c, StatusWarning)
	}
	return nil
}

func checkCacheHitRate(ctx context.Context, o *Optimizer, c *Check) error {
	var table, index *float64
	err := o.pool.QueryRow(ctx, `
		SELECT
		  (SELECT sum(heap_blks_hit)::float8 / nullif(sum(heap_blks_hit) + sum(heap_blks_read), 0) FROM pg_statio_user_tables),
		  (SELECT sum(idx_blks_hit)::float8 / nullif(sum(idx_blks_hit) + sum(idx_blks_read), 0) FROM pg_statio_user_indexes)`).Scan(&table, &index)
	if err != nil {
		return err
	}
	var parts []string
	for _, x := range []struct {
		name string
		v    *float64
	}{{"tables", table}, {"indexes", index}} {
		if x.v == nil {
			parts = append(parts, x.name+": no reads yet")
			continue
		}
		parts = append(parts, fmt.Sprintf("%s: %.2f%%", x.name, *x.v*100))
		if *x.v < o.th.CacheHitRate {
			setStatus(c, StatusWarning)
			c.Items = append(c.Items, CheckItem{Object: x.name, Detail: fmt.Sprintf("hit rate %.2f%% below %.0f%%", *x.v*100, o.th.CacheHitRate*100), Value: *x.v, Fix: "raise shared_buffers or add memory; check for sequential scans"})
		}
	}
	c.Summary = strings.Join(parts, ", ")
	return nil
}

func checkConnections(ctx context.Context, o *Optimizer, c *Check) error {
	var total, maxc, reserved int64
	err := o.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'),
		current_setting('max_connections')::bigint, current_setting('superuser_reserved_connections')::bigint`).Scan(&total, &maxc, &reserved)
	if err != nil {
		return err
	}
	usable := max(maxc-reserved, 1)
	frac := float64(total) / float64(usable)
	c.Summary = fmt.Sprintf("%d of %d usable connections (%.0f%%)", total, usable, frac*100)
	c.Items = []CheckItem{{Object: "connections", Detail: c.Summary, Value: float64(total)}}
	switch {
	case frac >= 0.95:
		setStatus(c, StatusCritical)
	case frac >= o.th.ConnectionsFraction || total >= o.th.TotalConnections:
		setStatus(c, StatusWarning)
	default:
		c.Items = nil
	}
	if c.Status != StatusOK {
		c.Items[0].Fix = "put a pooler (PgBouncer) in front, or shrink application pools"
	}
	return nil
}

func checkIdleInTransaction(ctx context.Context, o *Optimizer, c *Check) error {
	items, err := collect(ctx, o, `
		SELECT pid, extract(epoch FROM now() - state_change)::float8, left(query, 200)
		FROM pg_stat_activity
		WHERE state LIKE 'idle in transaction%' AND now() - state_change > make_interval(secs => $1)
		ORDER BY state_change`, func(r pgx.CollectableRow) (CheckItem, error) {
		var pid int32
		var s float64
		var q string
		err := r.Scan(&pid, &s, &q)
		return CheckItem{Object: fmt.Sprintf("pid %d", pid), Detail: fmt.Sprintf("idle in transaction for %.0f s after: %s", s, Abbrev(q, 100)), Value: s,
			Fix: fmt.Sprintf("SELECT pg_terminate_backend(%d); set idle_in_transaction_session_timeout", pid)}, err
	}, secs(o.th.IdleInTransaction))
	if err != nil {
		return err
	}
	c.Items = items
	c.Summary = fmt.Sprintf("%d sessions idle in a transaction longer than %s (they hold locks and stop vacuum)", len(items), o.th.IdleInTransaction)
	if len(items) > 0 {
		setStatus(c, StatusWarning)
	}
	return nil
}

func checkWraparound(ctx context.Context, o *Optimizer, c *Check) error {
	// 2^31 minus the 1M XIDs PostgreSQL keeps in reserve before it stops.
	const maxValue = 2146483648
	items, err := collect(ctx, o, `
		SELECT n.nspname || '.' || c.relname,
		       $1::bigint - greatest(age(c.relfrozenxid), age(t.relfrozenxid))::bigint AS left_xids
		FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		LEFT JOIN pg_class t ON t.oid = c.reltoastrelid
		WHERE c.relkind IN ('r', 'm')
		  AND $1::bigint - greatest(age(c.relfrozenxid), age(t.relfrozenxid))::bigint < $2
		ORDER BY 2`, func(r pgx.CollectableRow) (CheckItem, error) {
		var name string
		var left int64
		err := r.Scan(&name, &left)
		return CheckItem{Object: name, Detail: fmt.Sprintf("%d transactions left before wraparound", left), Value: float64(left), Fix: "VACUUM (FREEZE) " + name}, err
	}, int64(maxValue), o.th.TransactionIDDanger)
	if err != nil {
		return err
	}
	c.Items = items
	var oldest int64
	if err := o.pool.QueryRow(ctx, `SELECT max(age(datfrozenxid))::bigint FROM pg_database`).Scan(&oldest); err == nil {
		c.Summary = fmt.Sprintf("oldest database XID age %d of %d; %d tables within %d of wraparound", oldest, int64(maxValue), len(items), o.th.TransactionIDDanger)
	}
	if len(items) > 0 {
		setStatus(c, StatusCritical)
	}
	return nil
}

// intTypeMax is the largest value of PostgreSQL's integer column types.
var intTypeMax = map[string]float64{"smallint": 32767, "integer": 2147483647, "bigint": 9223372036854775807}

func checkSequences(ctx context.Context, o *Optimizer, c *Check) error {
	type seq struct {
		name, col, coltype string
		last, max          float64
	}
	seqs, err := collect(ctx, o, `
		SELECT s.schemaname || '.' || s.sequencename, s.last_value::float8, s.max_value::float8,
		       coalesce(a.attrelid::regclass::text || '.' || a.attname, ''),
		       coalesce(format_type(a.atttypid, NULL), '')
		FROM pg_sequences s
		LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
		     AND d.deptype IN ('a', 'i')
		     AND d.objid = (quote_ident(s.schemaname) || '.' || quote_ident(s.sequencename))::regclass
		LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
		WHERE s.last_value IS NOT NULL`, func(r pgx.CollectableRow) (seq, error) {
		var s seq
		err := r.Scan(&s.name, &s.last, &s.max, &s.col, &s.coltype)
		return s, err
	})
	if err != nil {
		return err
	}
	for _, s := range seqs {
		limit := s.max
		if m, ok := intTypeMax[s.coltype]; ok && m < limit {
			limit = m
		}
		frac := s.last / limit
		if frac < o.th.SequenceDanger {
			continue
		}
		obj := s.name
		fix := "ALTER SEQUENCE " + s.name + " AS bigint"
		if s.col != "" {
			obj = s.col + " (" + s.name + ")"
			fix = "ALTER TABLE … ALTER COLUMN … TYPE bigint for " + s.col
		}
		c.Items = append(c.Items, CheckItem{Object: obj, Detail: fmt.Sprintf("%.1f%% of the %s range used", frac*100, coalesceStr(s.coltype, "sequence")), Value: frac, Fix: fix})
	}
	c.Summary = fmt.Sprintf("%d sequences checked, %d past %.0f%% of their column's range", len(seqs), len(c.Items), o.th.SequenceDanger*100)
	if len(c.Items) > 0 {
		setStatus(c, StatusCritical)
	}
	return nil
}

func coalesceStr(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func checkInvalidIndexes(ctx context.Context, o *Optimizer, c *Check) error {
	items, err := collect(ctx, o, `
		SELECT n.nspname || '.' || ci.relname, pg_get_indexdef(i.indexrelid)
		FROM pg_index i
		JOIN pg_class ci ON ci.oid = i.indexrelid
		JOIN pg_namespace n ON n.oid = ci.relnamespace
		WHERE NOT i.indisvalid`, func(r pgx.CollectableRow) (CheckItem, error) {
		var name, def string
		err := r.Scan(&name, &def)
		return CheckItem{Object: name, Detail: def, Fix: "DROP INDEX CONCURRENTLY " + name + " (then recreate), or REINDEX INDEX CONCURRENTLY " + name}, err
	})
	if err != nil {
		return err
	}
	c.Items = items
	c.Summary = fmt.Sprintf("%d invalid indexes (left by a failed CREATE INDEX CONCURRENTLY; they slow writes and serve no reads)", len(items))
	if len(items) > 0 {
		setStatus(c, StatusWarning)
	}
	return nil
}

// pgIndex is an index as the duplicate and advisor logic see it.
type pgIndex struct {
	Schema, Table, Name string
	Columns             []string // empty names for expressions
	Unique, Primary     bool
	Valid               bool
	AM                  string
	Where               string
	HasExpr             bool
	Size                int64
	Scans               int64
}

func (o *Optimizer) pgIndexes(ctx context.Context) ([]pgIndex, error) {
	return collect(ctx, o, `
		SELECT n.nspname, t.relname, ci.relname,
		       array(SELECT coalesce(a.attname, '') FROM unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
		             LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum AND k.attnum > 0
		             ORDER BY k.ord),
		       i.indisunique, i.indisprimary, i.indisvalid, am.amname,
		       coalesce(pg_get_expr(i.indpred, i.indrelid), ''), i.indexprs IS NOT NULL,
		       pg_relation_size(i.indexrelid), coalesce(s.idx_scan, 0)
		FROM pg_index i
		JOIN pg_class ci ON ci.oid = i.indexrelid
		JOIN pg_class t ON t.oid = i.indrelid
		JOIN pg_namespace n ON n.oid = t.relnamespace
		JOIN pg_am am ON am.oid = ci.relam
		LEFT JOIN pg_stat_user_indexes s ON s.indexrelid = i.indexrelid
		WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
		ORDER BY 1, 2, 3`, func(r pgx.CollectableRow) (pgIndex, error) {
		var x pgIndex
		err := r.Scan(&x.Schema, &x.Table, &x.Name, &x.Columns, &x.Unique, &x.Primary, &x.Valid, &x.AM, &x.Where, &x.HasExpr, &x.Size, &x.Scans)
		return x, err
	})
}

func hasPrefix(cols, prefix []string) bool {
	if len(prefix) > len(cols) {
		return false
	}
	for i, c := range prefix {
		if c == "" || cols[i] != c {
			return false
		}
	}
	return true
}

// duplicateIndexes finds indexes whose columns are a leading prefix of
// another index on the same table with the same method and predicate, as
// PgHero does. A unique index is only covered by one on the same columns.
func duplicateIndexes(idx []pgIndex) [][2]pgIndex {
	var out [][2]pgIndex
	for _, a := range idx {
		if a.HasExpr || a.Primary || !a.Valid {
			continue
		}
		for _, b := range idx {
			if a.Name == b.Name || a.Schema != b.Schema || a.Table != b.Table || a.AM != b.AM || a.Where != b.Where || b.HasExpr || !b.Valid {
				continue
			}
			if !hasPrefix(b.Columns, a.Columns) {
				continue
			}
			if a.Unique && (!b.Unique || len(a.Columns) != len(b.Columns)) {
				continue
			}
			// Two identical indexes cover each other: report one of them.
			if len(a.Columns) == len(b.Columns) && a.Unique == b.Unique && a.Name < b.Name {
				continue
			}
			out = append(out, [2]pgIndex{a, b})
			break
		}
	}
	return out
}

func checkDuplicateIndexes(ctx context.Context, o *Optimizer, c *Check) error {
	idx, err := o.pgIndexes(ctx)
	if err != nil {
		return err
	}
	for _, d := range duplicateIndexes(idx) {
		a, b := d[0], d[1]
		c.Items = append(c.Items, CheckItem{
			Object: a.Schema + "." + a.Name,
			Detail: fmt.Sprintf("(%s) is covered by %s (%s); %s", strings.Join(a.Columns, ", "), b.Name, strings.Join(b.Columns, ", "), humanBytes(a.Size)),
			Value:  float64(a.Size),
			Fix:    "DROP INDEX CONCURRENTLY " + quoteIdent(a.Schema, a.Name),
		})
	}
	c.Summary = fmt.Sprintf("%d duplicate indexes", len(c.Items))
	if len(c.Items) > 0 {
		setStatus(c, StatusWarning)
	}
	return nil
}

func checkUnusedIndexes(ctx context.Context, o *Optimizer, c *Check) error {
	idx, err := o.pgIndexes(ctx)
	if err != nil {
		return err
	}
	var since *time.Time
	_ = o.pool.QueryRow(ctx, `SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()`).Scan(&since)
	var total int64
	for _, x := range idx {
		if x.Unique || x.Primary || x.Scans > o.th.UnusedIndexScans {
			continue
		}
		total += x.Size
		c.Items = append(c.Items, CheckItem{Object: x.Schema + "." + x.Name, Detail: fmt.Sprintf("%d scans, %s, on %s", x.Scans, humanBytes(x.Size), x.Table), Value: float64(x.Size),
			Fix: "DROP INDEX CONCURRENTLY " + quoteIdent(x.Schema, x.Name) + " (check replicas first: they keep their own statistics)"})
	}
	sort.Slice(c.Items, func(i, j int) bool { return c.Items[i].Value > c.Items[j].Value })
	c.Summary = fmt.Sprintf("%d non-unique indexes with ≤ %d scans, %s in all", len(c.Items), o.th.UnusedIndexScans, humanBytes(total))
	if since != nil {
		c.Summary += " since statistics were reset " + since.UTC().Format(time.DateOnly)
	}
	if len(c.Items) > 0 {
		setStatus(c, StatusWarning)
	}
	return nil
}

func checkMissingIndexes(ctx context.Context, o *Optimizer, c *Check) error {
	items, err := collect(ctx, o, `
		SELECT schemaname || '.' || relname, coalesce(seq_scan, 0), coalesce(idx_scan, 0), n_live_tup
		FROM pg_stat_user_tables
		WHERE n_live_tup >= $1 AND coalesce(seq_scan, 0) > 0
		  AND 100.0 * coalesce(idx_scan, 0) / (coalesce(seq_scan, 0) + coalesce(idx_scan, 0)) < $2
		ORDER BY n_live_tup DESC`, func(r pgx.CollectableRow) (CheckItem, error) {
		var name string
		var seq, idxs, rows int64
		err := r.Scan(&name, &seq, &idxs, &rows)
		pct := 100 * float64(idxs) / float64(seq+idxs)
		return CheckItem{Object: name, Detail: fmt.Sprintf("%.0f%% of %d scans use an index; ~%d rows", pct, seq+idxs, rows), Value: pct, Fix: "perfengine db advise"}, err
	}, o.th.MissingIndexRows, o.th.MissingIndexPercent)
	if err != nil {
		return err
	}
	c.Items = items
	c.Summary = fmt.Sprintf("%d tables of ≥ %d rows scanned sequentially more than %.0f%% of the time", len(items), o.th.MissingIndexRows, 100-o.th.MissingIndexPercent)
	if len(items) > 0 {
		setStatus(c, StatusWarning)
	}
	return nil
}

// Bloat estimates follow the idea of the well-known estimation queries:
// the size the live rows need (average widths from pg_stats plus tuple
// headers) against the size on disk. They are estimates: columns without
// statistics make them unreliable, so tables never analyzed are left out.
func checkTableBloat(ctx context.Context, o *Optimizer, c *Check) error {
	items, err := collect(ctx, o, `
		WITH t AS (
		  SELECT n.nspname, c.relname, c.reltuples::float8 AS tuples,
		         c.relpages::float8 * current_setting('block_size')::float8 AS bytes,
		         (SELECT sum(s.avg_width) FROM pg_stats s WHERE s.schemaname = n.nspname AND s.tablename = c.relname)::float8 AS width,
		         coalesce((SELECT substring(o FROM 'fillfactor=(\d+)')::float8 FROM unnest(c.reloptions) o WHERE o LIKE 'fillfactor=%'), 100) AS ff
		  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		  WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND c.reltuples > 0
		)
		SELECT nspname || '.' || relname, bytes,
		       greatest(bytes - tuples * (width + 28) / (ff / 100.0), 0)
		FROM t WHERE width IS NOT NULL
		  AND bytes - tuples * (width + 28) / (ff / 100.0) >= $1
		ORDER BY 3 DESC`, func(r pgx.CollectableRow) (CheckItem, error) {
		var name string
		var bytes, bloat float64
		err := r.Scan(&name, &bytes, &bloat)
		return CheckItem{Object: name, Detail: fmt.Sprintf("about %s of %s is bloat", humanBytes(int64(bloat)), humanBytes(int64(bytes))), Value: bloat,
			Fix: "VACUUM " + name + " frees it for reuse; pg_repack or VACUUM FULL (locks) returns it"}, err
	}, float64(o.th.BloatBytes))
	if err != nil {
		return err
	}
	c.Items = items
	c.Summary = fmt.Sprintf("%d tables with an estimated ≥ %s of bloat", len(items), humanBytes(o.th.BloatBytes))
	if len(items) > 0 {
		setStatus(c, StatusWarning)
	}
	return nil
}

func checkIndexBloat(ctx context.Context, o *Optimizer, c *Check) error {
	// A btree leaf entry is an 8-byte tuple header, the key, and a 4-byte
	// line pointer; leaves are filled to 90 %.
	items, err := collect(ctx, o, `
		WITH i AS (
		  SELECT n.nspname, ci.relname, ci.reltuples::float8 AS tuples,
		         ci.relpages::float8 * current_setting('block_size')::float8 AS bytes,
		         (SELECT sum(s.avg_width) FROM pg_attribute a
		            JOIN pg_stats s ON s.schemaname = n.nspname AND s.tablename = t.relname AND s.attname = a.attname
		           WHERE a.attrelid = t.oid AND a.attnum = ANY (x.indkey))::float8 AS width
		  FROM pg_index x
		  JOIN pg_class ci ON ci.oid = x.indexrelid
		  JOIN pg_class t ON t.oid = x.indrelid
		  JOIN pg_namespace n ON n.oid = ci.relnamespace
		  JOIN pg_am am ON am.oid = ci.relam AND am.amname = 'btree'
		  WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND x.indexprs IS NULL AND ci.reltuples > 0
		)
		SELECT nspname || '.' || relname, bytes, greatest(bytes - tuples * (width + 12) / 0.9, 0)
		FROM i WHERE width IS NOT NULL AND bytes - tuples * (width + 12) / 0.9 >= $1
		ORDER BY 3 DESC`, func(r pgx.CollectableRow) (CheckItem, error) {
		var name string
		var bytes, bloat float64
		err := r.Scan(&name, &bytes, &bloat)
		return CheckItem{Object: name, Detail: fmt.Sprintf("about %s of %s is bloat", humanBytes(int64(bloat)), humanBytes(int64(bytes))), Value: bloat,
			Fix: "REINDEX INDEX CONCURRENTLY " + name}, err
	}, float64(o.th.BloatBytes))
	if err != nil {
		return err
	}
	c.Items = items
	c.Summary = fmt.Sprintf("%d btree indexes with an estimated ≥ %s of bloat", len(items), humanBytes(o.th.BloatBytes))
	if len(items) > 0 {
		setStatus(c, StatusWarning)
	}
	return nil
}

// tableMaint is a table's vacuum and analyze state.
type tableMaint struct {
	Name                        string
	Live, Dead, ModSinceAnalyze int64
	LastVacuum, LastAnalyze     *time.Time
}

func (o *Optimizer) tableMaintenance(ctx context.Context) ([]tableMaint, error) {
	return collect(ctx, o, `
		SELECT quote_ident(schemaname) || '.' || quote_ident(relname), n_live_tup, n_dead_tup, n_mod_since_analyze,
		       greatest(last_vacuum, last_autovacuum), greatest(last_analyze, last_autoanalyze)
		FROM pg_stat_user_tables ORDER BY n_dead_tup DESC, relname`, func(r pgx.CollectableRow) (tableMaint, error) {
		var t tableMaint
		err := r.Scan(&t.Name, &t.Live, &t.Dead, &t.ModSinceAnalyze, &t.LastVacuum, &t.LastAnalyze)
		return t, err
	})
}

// needsVacuum and needsAnalyze use autovacuum's own formula (threshold 50
// plus a scale factor of the live rows) with our fraction, so a table is
// flagged when autovacuum is falling behind, not merely busy.
func (o *Optimizer) needsVacuum(t tableMaint) bool {
	return t.Dead >= o.th.DeadTupleMin && float64(t.Dead) >= o.th.DeadTupleFraction*float64(t.Live)+50
}

func (o *Optimizer) needsAnalyze(t tableMaint) bool {
	if t.Live+t.ModSinceAnalyze == 0 {
		return false
	}
	if t.LastAnalyze == nil && t.Live > 0 {
		return true
	}
	return t.ModSinceAnalyze >= o.th.DeadTupleMin && float64(t.ModSinceAnalyze) >= o.th.DeadTupleFraction*float64(t.Live)+50
}

func checkVacuum(ctx context.Context, o *Optimizer, c *Check) error {
	ts, err := o.tableMaintenance(ctx)
	if err != nil {
		return err
	}
	for _, t := range ts {
		switch {
		case o.needsVacuum(t):
			c.Items = append(c.Items, CheckItem{Object: t.Name, Detail: fmt.Sprintf("%d dead of %d live rows; last vacuum %s", t.Dead, t.Live, when(t.LastVacuum)), Value: float64(t.Dead), Fix: "VACUUM (ANALYZE) " + t.Name})
		case o.needsAnalyze(t):
			c.Items = append(c.Items, CheckItem{Object: t.Name, Detail: fmt.Sprintf("%d rows changed since the last analyze (%s)", t.ModSinceAnalyze, when(t.LastAnalyze)), Value: float64(t.ModSinceAnalyze), Fix: "ANALYZE " + t.Name})
		}
	}
	c.Summary = fmt.Sprintf("%d of %d tables need VACUUM or ANALYZE", len(c.Items), len(ts))
	if len(c.Items) > 0 {
		setStatus(c, StatusWarning)
	}
	return nil
}

func when(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}

func checkBlocked(ctx context.Context, o *Optimizer, c *Check) error {
	items, err := collect(ctx, o, `
		SELECT a.pid, pg_blocking_pids(a.pid)::text, coalesce(extract(epoch FROM now() - a.query_start), 0)::float8,
		       coalesce(a.wait_event_type, ''), left(a.query, 200)
		FROM pg_stat_activity a
		WHERE cardinality(pg_blocking_pids(a.pid)) > 0`, func(r pgx.CollectableRow) (CheckItem, error) {
		var pid int32
		var by, wait, q string
		var s float64
		err := r.Scan(&pid, &by, &s, &wait, &q)
		return CheckItem{Object: fmt.Sprintf("pid %d", pid), Detail: fmt.Sprintf("blocked by %s for %.0f s (%s): %s", by, s, wait, Abbrev(q, 100)), Value: s}, err
	})
	if err != nil {
		return err
	}
	c.Items = items
	c.Summary = fmt.Sprintf("%d sessions waiting on locks held by others", len(items))
	if len(items) > 0 {
		setStatus(c, StatusWarning)
	}
	return nil
}

func checkReplication(ctx context.Context, o *Optimizer, c *Check) error {
	if o.readOnly {
		var lag *float64
		if err := o.pool.QueryRow(ctx, `SELECT extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8`).Scan(&lag); err != nil {
			return err
		}
		if lag == nil {
			c.Summary = "replica has not replayed a transaction yet"
			return nil
		}
		c.Summary = fmt.Sprintf("this replica is %.1f s behind its primary", *lag)
		if *lag > secs(o.th.ReplicationLag) {
			setStatus(c, StatusWarning)
			c.Items = []CheckItem{{Object: "replay", Detail: c.Summary, Value: *lag}}
		}
		return nil
	}
	items, err := collect(ctx, o, `
		SELECT coalesce(application_name, '') || '@' || coalesce(client_addr::text, 'local'),
		       coalesce(extract(epoch FROM replay_lag), 0)::float8
		FROM pg_stat_replication`, func(r pgx.CollectableRow) (CheckItem, error) {
		var name string
		var lag float64
		err := r.Scan(&name, &lag)
		return CheckItem{Object: name, Detail: fmt.Sprintf("replay lag %.1f s", lag), Value: lag}, err
	})
	if err != nil {
		return err
	}
	if len(items) == 0 {
		c.Summary = "no replicas attached"
		return nil
	}
	for _, it := range items {
		if it.Value > secs(o.th.ReplicationLag) {
			c.Items = append(c.Items, it)
		}
	}
	c.Summary = fmt.Sprintf("%d replicas, %d more than %s behind", len(items), len(c.Items), o.th.ReplicationLag)
	if len(c.Items) > 0 {
		setStatus(c, StatusWarning)
	}
	return nil
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

var _ = errors.New
