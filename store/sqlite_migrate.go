package store

import (
	"context"
	"database/sql"
	"fmt"
)

// sqliteMigrations is the SQLite schema, oldest first. Append; never edit
// a released step. Times are Unix nanoseconds.
var sqliteMigrations = []migration{
	{1, `
CREATE TABLE series (
	id     INTEGER PRIMARY KEY,
	name   TEXT NOT NULL,
	labels TEXT NOT NULL,             -- canonical JSON, '{}' when none
	unit   TEXT NOT NULL DEFAULT '',
	UNIQUE (name, labels)
);
CREATE TABLE samples (
	series_id INTEGER NOT NULL,
	ts        INTEGER NOT NULL,
	value     REAL NOT NULL
);
CREATE INDEX samples_series_ts ON samples (series_id, ts);
CREATE TABLE aggregates (
	series_id INTEGER NOT NULL,
	minute    INTEGER NOT NULL,           -- start of the minute
	n         INTEGER NOT NULL,
	total     REAL NOT NULL,
	lo        REAL NOT NULL,
	hi        REAL NOT NULL,
	PRIMARY KEY (series_id, minute)
) WITHOUT ROWID;
CREATE INDEX aggregates_minute ON aggregates (minute);
CREATE TABLE actions (
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
	created_at  INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL
);
CREATE INDEX actions_created ON actions (created_at);
CREATE TABLE baselines (
	version    TEXT NOT NULL,
	metric     TEXT NOT NULL,
	vals       TEXT NOT NULL,             -- JSON array
	created_at INTEGER NOT NULL,
	PRIMARY KEY (version, metric)
);
CREATE TABLE alerts (
	id       TEXT PRIMARY KEY,
	ts       INTEGER NOT NULL,
	severity TEXT NOT NULL,
	source   TEXT NOT NULL,
	title    TEXT NOT NULL,
	detail   TEXT NOT NULL,
	labels   TEXT NOT NULL,
	resolved INTEGER NOT NULL
);
CREATE INDEX alerts_ts ON alerts (ts);
`},
	{2, `
CREATE TABLE state (
	key        TEXT PRIMARY KEY,
	value      BLOB NOT NULL,
	updated_at INTEGER NOT NULL
);
`},
}

// migrateSQLite applies the pending steps in one transaction. The writer
// connection begins transactions IMMEDIATE, so two processes opening the
// same file at once take turns instead of both applying a step.
func migrateSQLite(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var have int
	if err := tx.QueryRowContext(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&have); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	err = applyPending(have, sqliteMigrations,
		"INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
		func(sql string, args ...any) error { _, err := tx.ExecContext(ctx, sql, args...); return err })
	if err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: commit: %w", err)
	}
	return nil
}
