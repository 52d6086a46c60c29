package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Advisory lock keys, arbitrary but fixed: every process of a fleet must
// agree on them.
const (
	migrateLock int64 = 0x7065_6d69_6772 // "pemigr"
	compactLock int64 = 0x7065_636f_6d70 // "pecomp"
)

// postgresMigrations is the PostgreSQL schema, oldest first. Append; never
// edit a released step. Times are Unix nanoseconds, as in SQLite, so both
// backends keep nanosecond precision.
var postgresMigrations = []migration{
	{1, `
CREATE TABLE perfengine.series (
	id     BIGSERIAL PRIMARY KEY,
	name   TEXT NOT NULL,
	labels TEXT NOT NULL,
	unit   TEXT NOT NULL DEFAULT '',
	UNIQUE (name, labels)
);
CREATE TABLE perfengine.samples (
	series_id BIGINT NOT NULL,
	ts        BIGINT NOT NULL,
	value     DOUBLE PRECISION NOT NULL
);
CREATE INDEX samples_series_ts ON perfengine.samples (series_id, ts);
CREATE INDEX samples_ts ON perfengine.samples (ts);
CREATE TABLE perfengine.aggregates (
	series_id BIGINT NOT NULL,
	minute    BIGINT NOT NULL,
	n         BIGINT NOT NULL,
	total     DOUBLE PRECISION NOT NULL,
	lo        DOUBLE PRECISION NOT NULL,
	hi        DOUBLE PRECISION NOT NULL,
	PRIMARY KEY (series_id, minute)
);
CREATE INDEX aggregates_minute ON perfengine.aggregates (minute);
CREATE TABLE perfengine.actions (
	id          TEXT PRIMARY KEY,
	module      TEXT NOT NULL,
	kind        TEXT NOT NULL,
	target      TEXT NOT NULL,
	description TEXT NOT NULL,
	impact      TEXT NOT NULL,
	risk        TEXT NOT NULL,
	undo        TEXT NOT NULL,
	params      TEXT NOT NULL,
	state       TEXT NOT NULL,
	result      TEXT NOT NULL,
	error       TEXT NOT NULL,
	created_at  BIGINT NOT NULL,
	updated_at  BIGINT NOT NULL
);
CREATE INDEX actions_created ON perfengine.actions (created_at);
CREATE TABLE perfengine.baselines (
	version    TEXT NOT NULL,
	metric     TEXT NOT NULL,
	vals       TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	PRIMARY KEY (version, metric)
);
CREATE TABLE perfengine.alerts (
	id       TEXT PRIMARY KEY,
	ts       BIGINT NOT NULL,
	severity TEXT NOT NULL,
	source   TEXT NOT NULL,
	title    TEXT NOT NULL,
	detail   TEXT NOT NULL,
	labels   TEXT NOT NULL,
	resolved BOOLEAN NOT NULL
);
CREATE INDEX alerts_ts ON perfengine.alerts (ts);
`},
	{2, `
CREATE TABLE perfengine.state (
	key        TEXT PRIMARY KEY,
	value      BYTEA NOT NULL,
	updated_at BIGINT NOT NULL
);
`},
}

// migratePostgres applies the pending steps in one transaction under an
// advisory lock, so engines of a fleet starting together apply each step
// once.
func migratePostgres(ctx context.Context, pool *pgxpool.Pool) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrateLock); err != nil {
		return fmt.Errorf("migrate: lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS perfengine;
		CREATE TABLE IF NOT EXISTS perfengine.schema_migrations (
			version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var have int
	if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM perfengine.schema_migrations").Scan(&have); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	err = applyPending(have, postgresMigrations,
		"INSERT INTO perfengine.schema_migrations (version, applied_at) VALUES ($1, $2)",
		func(sql string, args ...any) error { _, err := tx.Exec(ctx, sql, args...); return err })
	if err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("migrate: commit: %w", err)
	}
	return nil
}
