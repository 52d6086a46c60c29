package dbopt

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// Timeouts of AddIndex and DropIndex. The lock timeout is short: CREATE
// INDEX CONCURRENTLY waits for transactions that touch the table, and
// waiting long behind one blocks the queries queued behind it. The build
// itself may take long on a big table.
const (
	DefaultLockTimeout  = 5 * time.Second
	DefaultBuildTimeout = 30 * time.Minute
)

// ourComment marks the indexes perfengine created, so DropIndex never
// drops a user's.
const ourComment = "created by perfengine: "

// ddlFor rebuilds the CREATE INDEX statement from a suggestion's table,
// columns and predicate rather than trusting its Statement text, and
// checks with the parser that it is one CREATE INDEX.
func ddlFor(s Suggestion, schema, tbl string) (string, *candidate, error) {
	if len(s.Columns) == 0 {
		return "", nil, errors.New("suggestion has no columns")
	}
	if s.Method != "" && s.Method != MethodBRIN {
		return "", nil, fmt.Errorf("suggestion's index method %q: want a B-tree or %s", s.Method, MethodBRIN)
	}
	c := &candidate{Table: &table{Schema: schema, Name: tbl}, Columns: s.Columns, Where: s.Where, Method: s.Method, Include: s.Include}
	c.key = c.String()
	name := s.Name
	if name == "" {
		name = indexName(c)
	}
	ddl := c.ddl(name, true)
	tree, err := pg_query.Parse(ddl)
	if err != nil {
		return "", nil, fmt.Errorf("check statement: %w", err)
	}
	if len(tree.GetStmts()) != 1 || tree.GetStmts()[0].GetStmt().GetIndexStmt() == nil {
		return "", nil, errors.New("check statement: not a single CREATE INDEX")
	}
	return ddl, c, nil
}

func (o *Optimizer) dedicatedConn(ctx context.Context) (*pgx.Conn, error) {
	cfg := o.pool.Config().ConnConfig.Copy()
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	cfg.RuntimeParams["application_name"] = "perfengine"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	return conn, nil
}

func (o *Optimizer) pgAddIndex(ctx context.Context, s Suggestion) (*Applied, error) {
	if o.readOnly {
		return nil, ErrReadOnly
	}
	conn, err := o.dedicatedConn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))

	var schema, tbl string
	err = conn.QueryRow(ctx, `SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.oid = to_regclass($1)`, tableArg(s.Table)).Scan(&schema, &tbl)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("create index: table %q does not exist", s.Table)
	}
	if err != nil {
		return nil, fmt.Errorf("create index: %w", err)
	}
	ddl, c, err := ddlFor(s, schema, tbl)
	if err != nil {
		return nil, err
	}
	name := s.Name
	if name == "" {
		name = indexName(c)
	}
	qname := quoteIdent(schema, name)
	start := o.now()
	_, err = conn.Exec(ctx, fmt.Sprintf("SET lock_timeout = %d; SET statement_timeout = %d",
		DefaultLockTimeout.Milliseconds(), DefaultBuildTimeout.Milliseconds()))
	if err != nil {
		return nil, fmt.Errorf("create index: %w", err)
	}
	if _, err := conn.Exec(ctx, ddl); err != nil {
		// A failed concurrent build leaves an invalid index behind.
		o.dropInvalid(context.WithoutCancel(ctx), conn, qname)
		return nil, fmt.Errorf("create index %s: %w", name, explainErr(err))
	}
	var valid bool
	var size int64
	if err := conn.QueryRow(ctx, `SELECT indisvalid, pg_relation_size(indexrelid) FROM pg_index WHERE indexrelid = to_regclass($1)`, qname).Scan(&valid, &size); err != nil {
		return nil, fmt.Errorf("check index %s: %w", name, err)
	}
	if !valid {
		o.dropInvalid(context.WithoutCancel(ctx), conn, qname)
		return nil, fmt.Errorf("create index %s: built invalid, dropped it", name)
	}
	if _, err := conn.Exec(ctx, "COMMENT ON INDEX "+qname+" IS "+quoteLiteral(ourComment+ddl)); err != nil {
		return nil, fmt.Errorf("mark index %s: %w", name, err)
	}
	a := &Applied{Name: qname, Statement: ddl, SizeBytes: size, Duration: o.now().Sub(start), Undo: "DROP INDEX CONCURRENTLY " + qname}
	o.log.Info("index created", "index", qname, "bytes", size, "took", a.Duration)

	// Show that the planner now uses it.
	if _, err := conn.Exec(ctx, "SET plan_cache_mode = force_generic_plan"); err != nil {
		return a, nil
	}
	ev := &pgEvaluator{conn: conn}
	for _, q := range s.Queries {
		sh, err := parseShape(q)
		if err != nil {
			continue
		}
		plan, err := ev.explain(ctx, &wq{Query: Query{SQL: q}, shape: sh})
		if err != nil {
			continue
		}
		used := map[string]bool{}
		plan.Plan.indexes(used)
		if used[name] {
			a.Used = append(a.Used, q)
			if a.Plan == "" {
				a.Plan = ev.explainText(ctx, q, sh)
			}
		}
	}
	return a, nil
}

func (e *pgEvaluator) explainText(ctx context.Context, q string, sh *shape) string {
	var lines []string
	var rows pgx.Rows
	var err error
	if sh.Params > 0 {
		e.n++
		name := fmt.Sprintf("perfengine_q%d", e.n)
		if _, err := e.conn.Exec(ctx, "PREPARE "+name+" AS "+q); err != nil {
			return ""
		}
		defer func() { _, _ = e.conn.Exec(context.WithoutCancel(ctx), "DEALLOCATE "+name) }()
		args := strings.TrimSuffix(strings.Repeat("NULL, ", sh.Params), ", ")
		rows, err = e.conn.Query(ctx, "EXPLAIN EXECUTE "+name+"("+args+")")
	} else {
		rows, err = e.conn.Query(ctx, "EXPLAIN "+q)
	}
	if err != nil {
		return ""
	}
	lines, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return ""
	}
	return strings.Join(lines, "\n")
}

func (o *Optimizer) dropInvalid(ctx context.Context, conn *pgx.Conn, qname string) {
	var valid bool
	err := conn.QueryRow(ctx, `SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass($1)`, qname).Scan(&valid)
	if err != nil || valid {
		return
	}
	if _, err := conn.Exec(ctx, "DROP INDEX CONCURRENTLY IF EXISTS "+qname); err != nil {
		o.log.Warn("drop invalid index", "index", qname, "err", err)
	}
}

func (o *Optimizer) pgDropIndex(ctx context.Context, name string) error {
	if o.readOnly {
		return ErrReadOnly
	}
	conn, err := o.dedicatedConn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var qname string
	var comment *string
	err = conn.QueryRow(ctx, `SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname), obj_description(c.oid, 'pg_class')
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.oid = to_regclass($1) AND c.relkind = 'i'`, tableArg(name)).Scan(&qname, &comment)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // already gone: undo is idempotent
	}
	if err != nil {
		return fmt.Errorf("drop index: %w", err)
	}
	if comment == nil || !strings.HasPrefix(*comment, ourComment) {
		return fmt.Errorf("%w: %s", ErrNotOurs, qname)
	}
	if _, err := conn.Exec(ctx, fmt.Sprintf("SET lock_timeout = %d", DefaultLockTimeout.Milliseconds())); err != nil {
		return fmt.Errorf("drop index: %w", err)
	}
	if _, err := conn.Exec(ctx, "DROP INDEX CONCURRENTLY IF EXISTS "+qname); err != nil {
		return fmt.Errorf("drop index %s: %w", qname, explainErr(err))
	}
	o.log.Info("index dropped", "index", qname)
	return nil
}

// tableArg turns "schema.table" or "table" into a to_regclass argument,
// quoting each part so odd names survive.
func tableArg(s string) string {
	if strings.HasPrefix(s, `"`) {
		return s
	}
	if schema, name, ok := strings.Cut(s, "."); ok {
		return quoteIdent(schema, name)
	}
	return quoteIdent(s)
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
