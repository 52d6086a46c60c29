package dbopt

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// MaxSQLiteScratchBytes bounds the database the SQLite advisor copies to a
// scratch file before trying indexes on it. Above it the advisor works in a
// transaction on the database itself, which it rolls back.
const MaxSQLiteScratchBytes = 1 << 30

// sqliteScratch gives the advisor a connection on which it may create and
// drop indexes and run ANALYZE. SQLite has no hypothetical indexes: the
// advisor builds real ones, which takes the database's write lock for as
// long as it works, seconds on a busy one, and stalls every writer of the
// application meanwhile. So it works on a copy made with VACUUM INTO,
// which is a read and, in WAL mode, blocks nobody. An in-memory database,
// one above MaxSQLiteScratchBytes, or a copy that fails falls back to the
// database itself.
func (o *Optimizer) sqliteScratch(ctx context.Context) (conn *sql.Conn, done func(), err error) {
	c, done, err := o.sqliteCopy(ctx)
	if err == nil {
		return c, done, nil
	}
	o.log.Debug("advising on the database itself", "why", err)
	if c, err = o.db.Conn(ctx); err != nil {
		return nil, nil, fmt.Errorf("advisor connection: %w", err)
	}
	return c, func() { c.Close() }, nil
}

func (o *Optimizer) sqliteCopy(ctx context.Context) (*sql.Conn, func(), error) {
	f, err := o.sqliteFile(ctx)
	if err != nil {
		return nil, nil, err
	}
	if f.file == "" {
		return nil, nil, fmt.Errorf("an in-memory database has no file to copy")
	}
	if size := f.pages * f.pageSize; size > MaxSQLiteScratchBytes {
		return nil, nil, fmt.Errorf("%d bytes, above the %d a scratch copy may take", size, MaxSQLiteScratchBytes)
	}
	removeStaleScratch()
	tmp, err := os.CreateTemp("", scratchPattern)
	if err != nil {
		return nil, nil, err
	}
	path := tmp.Name()
	tmp.Close()
	remove := func() {
		for _, suffix := range []string{"", "-journal", "-wal", "-shm"} {
			os.Remove(path + suffix)
		}
	}
	if _, err := o.db.ExecContext(ctx, `/* perfengine */ VACUUM INTO ?`, path); err != nil {
		remove()
		return nil, nil, fmt.Errorf("copy: %w", err)
	}
	db := sql.OpenDB(fileConnector(o.db.Driver(), path))
	db.SetMaxOpenConns(1)
	c, err := db.Conn(ctx)
	if err == nil {
		// No journal file beside the copy: nothing to leave behind.
		_, err = c.ExecContext(ctx, `PRAGMA journal_mode = MEMORY`)
	}
	if err != nil {
		if c != nil {
			c.Close()
		}
		db.Close()
		remove()
		return nil, nil, fmt.Errorf("open copy: %w", err)
	}
	return c, func() { c.Close(); db.Close(); remove() }, nil
}

const scratchPattern = "perfengine-advise-*.db"

// removeStaleScratch deletes scratch copies over an hour old: a process
// that exited in the middle of advice (killed, or stopped while an
// abandoned advice ran on) could not remove its own.
func removeStaleScratch() {
	old, _ := filepath.Glob(filepath.Join(os.TempDir(), scratchPattern))
	for _, f := range old {
		if st, err := os.Stat(f); err == nil && time.Since(st.ModTime()) > time.Hour {
			os.Remove(f)
		}
	}
}

// fileConnector opens name with the driver the optimizer's handle uses.
func fileConnector(d driver.Driver, name string) driver.Connector {
	if dc, ok := d.(driver.DriverContext); ok {
		if c, err := dc.OpenConnector(name); err == nil {
			return c
		}
	}
	return nameConnector{d, name}
}

type nameConnector struct {
	d    driver.Driver
	name string
}

func (c nameConnector) Connect(context.Context) (driver.Conn, error) { return c.d.Open(c.name) }
func (c nameConnector) Driver() driver.Driver                        { return c.d }
