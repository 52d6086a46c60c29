package querytrace

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"reflect"
	"time"
)

// Connector wraps a database/sql driver so every statement's latency is
// recorded. A query is timed until its rows are closed, since drivers such
// as SQLite do their work while rows are read.
//
//	db := sql.OpenDB(querytrace.NewConnector(&sqlite.Driver{}, "app.db", rec))
//
// It is safe for concurrent use.
type Connector struct {
	drv driver.Driver
	dsn string
	rec *Recorder
	now func() time.Time
}

var _ driver.Connector = (*Connector)(nil)

// NewConnector returns a connector that opens dsn with drv and records
// into rec.
func NewConnector(drv driver.Driver, dsn string, rec *Recorder) *Connector {
	return &Connector{drv: drv, dsn: dsn, rec: rec, now: time.Now}
}

// Open returns a *sql.DB through a new Connector; a convenience.
func Open(drv driver.Driver, dsn string, rec *Recorder) *sql.DB {
	return sql.OpenDB(NewConnector(drv, dsn, rec))
}

// Connect implements driver.Connector.
func (c *Connector) Connect(ctx context.Context) (driver.Conn, error) {
	var conn driver.Conn
	var err error
	if dc, ok := c.drv.(driver.DriverContext); ok {
		var inner driver.Connector
		inner, err = dc.OpenConnector(c.dsn)
		if err == nil {
			conn, err = inner.Connect(ctx)
		}
	} else {
		conn, err = c.drv.Open(c.dsn)
	}
	if err != nil {
		return nil, err
	}
	return &wconn{Conn: conn, c: c}, nil
}

// Driver implements driver.Connector.
func (c *Connector) Driver() driver.Driver { return c.drv }

func (c *Connector) record(query string, t0 time.Time, err error, args []driver.NamedValue) {
	if errors.Is(err, driver.ErrSkip) {
		return
	}
	var vals []any
	if len(args) > 0 {
		vals = make([]any, len(args))
		for i, a := range args {
			vals[i] = a.Value
		}
	}
	c.rec.Record(query, c.now().Sub(t0), err, vals)
}

type wconn struct {
	driver.Conn
	c *Connector
	// fallback is the statement database/sql is about to prepare itself
	// because the driver cannot run it directly: that preparation is not
	// the application's, and is not counted.
	fallback string
}

var (
	_ driver.ConnPrepareContext = (*wconn)(nil)
	_ driver.ConnBeginTx        = (*wconn)(nil)
	_ driver.ExecerContext      = (*wconn)(nil)
	_ driver.QueryerContext     = (*wconn)(nil)
	_ driver.Pinger             = (*wconn)(nil)
	_ driver.SessionResetter    = (*wconn)(nil)
	_ driver.Validator          = (*wconn)(nil)
	_ driver.NamedValueChecker  = (*wconn)(nil)
)

func (w *wconn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	var st driver.Stmt
	var err error
	if p, ok := w.Conn.(driver.ConnPrepareContext); ok {
		st, err = p.PrepareContext(ctx, query)
	} else {
		st, err = w.Conn.Prepare(query)
	}
	if err != nil {
		return nil, err
	}
	if w.fallback == query {
		w.fallback = ""
	} else {
		w.c.rec.RecordPrepare(query)
	}
	return &wstmt{Stmt: st, query: query, c: w.c}, nil
}

func (w *wconn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if b, ok := w.Conn.(driver.ConnBeginTx); ok {
		return b.BeginTx(ctx, opts)
	}
	//lint:ignore SA1019 the fallback database/sql itself uses for old drivers
	return w.Conn.Begin() //nolint:staticcheck
}

func (w *wconn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	e, ok := w.Conn.(driver.ExecerContext)
	if !ok {
		w.fallback = query
		return nil, driver.ErrSkip
	}
	noteNamed(ctx, query, args)
	t0 := w.c.now()
	res, err := e.ExecContext(ctx, query, args)
	w.c.record(query, t0, err, args)
	return res, err
}

func (w *wconn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	q, ok := w.Conn.(driver.QueryerContext)
	if !ok {
		w.fallback = query
		return nil, driver.ErrSkip
	}
	noteNamed(ctx, query, args)
	t0 := w.c.now()
	rows, err := q.QueryContext(ctx, query, args)
	if err != nil {
		w.c.record(query, t0, err, args)
		return nil, err
	}
	return &wrows{Rows: rows, query: query, t0: t0, args: args, c: w.c}, nil
}

func (w *wconn) Ping(ctx context.Context) error {
	if p, ok := w.Conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (w *wconn) ResetSession(ctx context.Context) error {
	if r, ok := w.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (w *wconn) IsValid() bool {
	if v, ok := w.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (w *wconn) CheckNamedValue(nv *driver.NamedValue) error {
	if c, ok := w.Conn.(driver.NamedValueChecker); ok {
		return c.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

type wstmt struct {
	driver.Stmt
	query string
	c     *Connector
}

var (
	_ driver.StmtExecContext   = (*wstmt)(nil)
	_ driver.StmtQueryContext  = (*wstmt)(nil)
	_ driver.NamedValueChecker = (*wstmt)(nil)
)

func (s *wstmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	noteNamed(ctx, s.query, args)
	t0 := s.c.now()
	var res driver.Result
	var err error
	if e, ok := s.Stmt.(driver.StmtExecContext); ok {
		res, err = e.ExecContext(ctx, args)
	} else {
		var vals []driver.Value
		if vals, err = plainValues(args); err == nil {
			//lint:ignore SA1019 fallback for drivers without StmtExecContext
			res, err = s.Stmt.Exec(vals) //nolint:staticcheck
		}
	}
	s.c.record(s.query, t0, err, args)
	return res, err
}

func (s *wstmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	noteNamed(ctx, s.query, args)
	t0 := s.c.now()
	var rows driver.Rows
	var err error
	if q, ok := s.Stmt.(driver.StmtQueryContext); ok {
		rows, err = q.QueryContext(ctx, args)
	} else {
		var vals []driver.Value
		if vals, err = plainValues(args); err == nil {
			//lint:ignore SA1019 fallback for drivers without StmtQueryContext
			rows, err = s.Stmt.Query(vals) //nolint:staticcheck
		}
	}
	if err != nil {
		s.c.record(s.query, t0, err, args)
		return nil, err
	}
	return &wrows{Rows: rows, query: s.query, t0: t0, args: args, c: s.c}, nil
}

func (s *wstmt) CheckNamedValue(nv *driver.NamedValue) error {
	if c, ok := s.Stmt.(driver.NamedValueChecker); ok {
		return c.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

func plainValues(args []driver.NamedValue) ([]driver.Value, error) {
	out := make([]driver.Value, len(args))
	for i, a := range args {
		if a.Name != "" {
			return nil, errors.New("querytrace: driver does not support named parameters")
		}
		out[i] = a.Value
	}
	return out, nil
}

// wrows records when the rows are closed, or when an error other than
// io.EOF ends them.
type wrows struct {
	driver.Rows
	query string
	t0    time.Time
	args  []driver.NamedValue
	c     *Connector
	err   error
	done  bool
}

var (
	_ driver.RowsColumnTypeDatabaseTypeName = (*wrows)(nil)
	_ driver.RowsColumnTypeNullable         = (*wrows)(nil)
	_ driver.RowsColumnTypeScanType         = (*wrows)(nil)
	_ driver.RowsColumnTypeLength           = (*wrows)(nil)
	_ driver.RowsColumnTypePrecisionScale   = (*wrows)(nil)
)

func (r *wrows) Next(dest []driver.Value) error {
	err := r.Rows.Next(dest)
	if err != nil && err != io.EOF && r.err == nil {
		r.err = err
	}
	return err
}

func (r *wrows) Close() error {
	err := r.Rows.Close()
	if !r.done {
		r.done = true
		r.c.record(r.query, r.t0, r.err, r.args)
	}
	return err
}

func (r *wrows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *wrows) ColumnTypeNullable(i int) (nullable, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}

func (r *wrows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}

func (r *wrows) ColumnTypeLength(i int) (int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return t.ColumnTypeLength(i)
	}
	return 0, false
}

func (r *wrows) ColumnTypePrecisionScale(i int) (precision, scale int64, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return t.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}
