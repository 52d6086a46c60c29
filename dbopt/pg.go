package dbopt

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/perfengine/perfengine/metrics"
)

// maxOwnConns is the size of the pool the optimizer opens for itself: it
// should never compete with the application for connections.
const maxOwnConns = 3

func (o *Optimizer) initPostgres(ctx context.Context) error {
	if o.pool == nil {
		cfg, err := pgxpool.ParseConfig(o.dsn.Conn)
		if err != nil {
			return fmt.Errorf("%w: %s", ErrBadDSN, redactErr(err, o.dsn.Conn))
		}
		cfg.MaxConns = maxOwnConns
		cfg.ConnConfig.RuntimeParams["application_name"] = "perfengine"
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			return fmt.Errorf("connect %s: %s", o.dsn, redactErr(err, o.dsn.Conn))
		}
		if err := pool.Ping(ctx); err != nil {
			pool.Close()
			return fmt.Errorf("connect %s: %s", o.dsn, redactErr(err, o.dsn.Conn))
		}
		o.pool = pool
	}
	err := o.pool.QueryRow(ctx, `SELECT current_setting('server_version_num')::int, pg_is_in_recovery()`).Scan(&o.pgVersion, &o.readOnly)
	if err != nil {
		return fmt.Errorf("query server version: %w", err)
	}
	if !o.readOnly {
		var ro string
		if err := o.pool.QueryRow(ctx, `SHOW default_transaction_read_only`).Scan(&ro); err == nil && ro == "on" {
			o.readOnly = true
		}
	}
	return nil
}

// pgssError tells whether pg_stat_statements can be read, and if not, what
// to do about it.
func (o *Optimizer) pgssError(ctx context.Context) error {
	var installed bool
	if err := o.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements')`).Scan(&installed); err != nil {
		return fmt.Errorf("check pg_stat_statements: %w", err)
	}
	if !installed {
		return fmt.Errorf("%w: the extension is not created in this database; run CREATE EXTENSION pg_stat_statements (it also needs shared_preload_libraries = 'pg_stat_statements' in postgresql.conf and a restart)", ErrNoStatStatements)
	}
	_, err := o.pool.Exec(ctx, `SELECT 1 FROM pg_stat_statements LIMIT 1`)
	if err == nil {
		return nil
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && strings.Contains(pgErr.Message, "shared_preload_libraries") {
		return fmt.Errorf("%w: the library is not loaded; add shared_preload_libraries = 'pg_stat_statements' to postgresql.conf and restart PostgreSQL", ErrNoStatStatements)
	}
	return fmt.Errorf("%w: %v", ErrNoStatStatements, err)
}

// pgUtilityPrefixes are statements pg_stat_statements records that no
// index can help.
var pgUtilityPrefixes = []string{"begin", "commit", "rollback", "set ", "show ", "explain", "prepare", "deallocate", "create ", "alter ", "drop ", "vacuum", "analyze", "copy ", "grant ", "revoke ", "truncate", "insert "}

func (o *Optimizer) pgSlowQueries(ctx context.Context) ([]QueryStat, error) {
	if err := o.pgssError(ctx); err != nil {
		return nil, err
	}
	rows, err := o.pool.Query(ctx, `
		SELECT query, calls, total_exec_time, mean_exec_time, rows
		FROM pg_stat_statements
		WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
		  AND calls >= $1 AND mean_exec_time >= $2
		ORDER BY total_exec_time DESC
		LIMIT 100`, o.th.SlowQueryCalls, o.th.SlowQueryMs)
	if err != nil {
		return nil, fmt.Errorf("query pg_stat_statements: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (QueryStat, error) {
		var q QueryStat
		err := r.Scan(&q.Query, &q.Calls, &q.TotalMs, &q.MeanMs, &q.Rows)
		q.Source = "pg_stat_statements"
		return q, err
	})
	if err != nil {
		return nil, fmt.Errorf("query pg_stat_statements: %w", err)
	}
	return out, nil
}

// maxWorkload bounds the statements the advisor takes from
// pg_stat_statements: the top ones by total time carry the workload.
const maxWorkload = 200

func (o *Optimizer) pgWorkload(ctx context.Context) ([]Query, error) {
	if err := o.pgssError(ctx); err != nil {
		return nil, err
	}
	rows, err := o.pool.Query(ctx, `
		SELECT query, calls, mean_exec_time
		FROM pg_stat_statements
		WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
		ORDER BY total_exec_time DESC
		LIMIT $1`, maxWorkload*2)
	if err != nil {
		return nil, fmt.Errorf("query pg_stat_statements: %w", err)
	}
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Query, error) {
		var q Query
		err := r.Scan(&q.SQL, &q.Calls, &q.MeanMs)
		return q, err
	})
	if err != nil {
		return nil, fmt.Errorf("query pg_stat_statements: %w", err)
	}
	var out []Query
	for _, q := range all {
		l := strings.ToLower(strings.TrimSpace(q.SQL))
		skip := strings.Contains(l, "pg_stat_statements") || strings.Contains(l, "hypopg") || strings.Contains(l, "pg_catalog.")
		for _, p := range pgUtilityPrefixes {
			if strings.HasPrefix(l, p) {
				skip = true
			}
		}
		if !skip && len(out) < maxWorkload {
			out = append(out, q)
		}
	}
	return out, nil
}

func (o *Optimizer) pgMetrics(ctx context.Context) ([]metrics.Sample, error) {
	now := o.now()
	var out []metrics.Sample
	add := func(name string, v float64, u metrics.Unit) {
		out = append(out, metrics.Sample{Name: name, Value: v, Unit: u, Time: now})
	}
	var heapHit, idxHit *float64
	var conns, maxConns, active, idleTx int64
	var dead, live int64
	var size int64
	err := o.pool.QueryRow(ctx, `
		SELECT
		  (SELECT sum(heap_blks_hit)::float8 / nullif(sum(heap_blks_hit) + sum(heap_blks_read), 0) FROM pg_statio_user_tables),
		  (SELECT sum(idx_blks_hit)::float8 / nullif(sum(idx_blks_hit) + sum(idx_blks_read), 0) FROM pg_statio_user_indexes),
		  (SELECT count(*) FROM pg_stat_activity),
		  current_setting('max_connections')::bigint,
		  (SELECT count(*) FROM pg_stat_activity WHERE state = 'active'),
		  (SELECT count(*) FROM pg_stat_activity WHERE state LIKE 'idle in transaction%'),
		  (SELECT coalesce(sum(n_dead_tup), 0)::bigint FROM pg_stat_user_tables),
		  (SELECT coalesce(sum(n_live_tup), 0)::bigint FROM pg_stat_user_tables),
		  pg_database_size(current_database())`).Scan(&heapHit, &idxHit, &conns, &maxConns, &active, &idleTx, &dead, &live, &size)
	if err != nil {
		return nil, fmt.Errorf("query database stats: %w", err)
	}
	if heapHit != nil {
		add(MetricCacheHitRatio, *heapHit, metrics.UnitRatio)
	}
	if idxHit != nil {
		add(MetricIndexHitRatio, *idxHit, metrics.UnitRatio)
	}
	add(MetricConnections, float64(conns), metrics.UnitCount)
	add(MetricConnectionsRatio, float64(conns)/float64(max(maxConns, 1)), metrics.UnitRatio)
	add(MetricActiveQueries, float64(active), metrics.UnitCount)
	add(MetricIdleInTransaction, float64(idleTx), metrics.UnitCount)
	add(MetricDeadTuples, float64(dead), metrics.UnitCount)
	add(MetricLiveTuples, float64(live), metrics.UnitCount)
	add(MetricSizeBytes, float64(size), metrics.UnitBytes)
	if slow, err := o.SlowQueries(ctx); err == nil {
		add(MetricSlowQueries, float64(len(slow)), metrics.UnitCount)
	}
	if iv, ok := o.pgQueryTimes(ctx); ok {
		add(MetricQueryP95Ms, iv.p95Ms, metrics.UnitMilliseconds)
		add(MetricBusyBackends, iv.busy, metrics.UnitCount)
		if o.appPool == nil {
			// No application pool to measure: size one from the
			// database's side, the busy backends of every client.
			add(MetricPoolRecommended, float64(RecommendPoolSize(iv.busy)), metrics.UnitCount)
		}
	}
	out = append(out, o.lockSamples(ctx, now)...)
	out = append(out, o.poolSamples(now)...)
	return out, nil
}

// lockSamples measures lock contention from the database side: sessions
// waiting for a lock now, the longest such wait (pg_locks.waitstart,
// PostgreSQL 14 and later), and the deadlock counter of pg_stat_database.
// A server that cannot answer (an older version, no privilege) gives none
// of them rather than failing the collection.
func (o *Optimizer) lockSamples(ctx context.Context, now time.Time) []metrics.Sample {
	var waiting int64
	var longestMs float64
	var deadlocks int64
	err := o.pool.QueryRow(ctx, `
		SELECT
		  (SELECT count(DISTINCT pid) FROM pg_locks WHERE NOT granted),
		  (SELECT coalesce(max(extract(epoch FROM now() - waitstart)) * 1000, 0)::float8 FROM pg_locks WHERE NOT granted AND waitstart IS NOT NULL),
		  (SELECT coalesce(deadlocks, 0) FROM pg_stat_database WHERE datname = current_database())`).Scan(&waiting, &longestMs, &deadlocks)
	if err != nil {
		o.log.Debug("lock statistics unavailable", "err", err)
		return nil
	}
	return []metrics.Sample{
		{Name: MetricLockWaiting, Value: float64(waiting), Unit: metrics.UnitCount, Time: now},
		{Name: MetricLockWaitMaxMs, Value: longestMs, Unit: metrics.UnitMilliseconds, Time: now},
		{Name: MetricDeadlocksTotal, Value: float64(deadlocks), Unit: metrics.UnitCount, Time: now},
	}
}

// Sample names dbopt reports.
const (
	MetricCacheHitRatio     = "db_cache_hit_ratio"
	MetricIndexHitRatio     = "db_index_hit_ratio"
	MetricConnections       = "db_connections"
	MetricConnectionsRatio  = "db_connections_ratio"
	MetricActiveQueries     = "db_active_queries"
	MetricIdleInTransaction = "db_idle_in_transaction"
	MetricDeadTuples        = "db_dead_tuples"
	MetricLiveTuples        = "db_live_tuples"
	MetricSizeBytes         = "db_size_bytes"
	MetricSlowQueries       = "db_slow_queries"
	MetricBusyBackends      = "db_busy_backends_mean"
	MetricLockWaiting       = "db_lock_waiting_sessions"
	MetricLockWaitMaxMs     = "db_lock_wait_max_ms"
	MetricDeadlocksTotal    = "db_deadlocks_total"
	MetricQueryP95Ms        = "db_query_p95_ms"
	MetricPoolUtilisation   = "db_pool_utilisation_ratio"
	MetricPoolAcquireWaitMs = "db_pool_acquire_wait_ms"
	MetricPoolEmptyAcquires = "db_pool_empty_acquires_total"
	MetricPoolRecommended   = "db_pool_recommended_size"
	MetricFreelistRatio     = "db_freelist_ratio"
	MetricWALBytes          = "db_wal_bytes"
)

// quoteIdent quotes a (possibly schema-qualified, already split) name.
func quoteIdent(parts ...string) string {
	return pgx.Identifier(parts).Sanitize()
}
