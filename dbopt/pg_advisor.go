package dbopt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// pgAdvise runs the index advisor on a connection of its own: hypopg's
// hypothetical indexes live in one session, and the session is made
// read-only so nothing the workload says can change data.
func (o *Optimizer) pgAdvise(ctx context.Context, queries []Query, opt AdviseOptions) (*Advice, error) {
	adv := &Advice{}
	if len(queries) == 0 {
		return adv, nil
	}
	existing, err := o.pgIndexes(ctx)
	if err != nil {
		return nil, fmt.Errorf("list indexes: %w", err)
	}
	cfg := o.pool.Config().ConnConfig.Copy()
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	cfg.RuntimeParams["application_name"] = "perfengine advisor"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect advisor session: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	ev := &pgEvaluator{conn: conn, timeout: opt.ExplainTimeout, version: o.pgVersion}
	if err := ev.setup(ctx, o); err != nil {
		return nil, err
	}

	tables := map[string]*table{}
	var missing []string
	lookup := func(tr tableRef) *table {
		name := quoteIdent(tr.Name)
		if tr.Schema != "" {
			name = quoteIdent(tr.Schema, tr.Name)
		}
		if t, ok := tables[name]; ok {
			return t
		}
		t, err := ev.table(ctx, name)
		if err != nil {
			missing = append(missing, tr.Name)
		}
		tables[name] = t
		return t
	}

	qs, skipped := weigh(ctx, queries, parseShape, lookup, &missing, ev.cost)
	adv.Skipped = append(adv.Skipped, skipped...)
	adv.Analyzed = len(qs)
	adv.QueryIssues = queryIssues(qs)

	var cands []*candidate
	seen := map[string]bool{}
	for _, q := range qs {
		for t, u := range q.uses {
			for _, c := range candidatesFor(t, u, opt.MaxColumns, !opt.NoPartial, opt.Covering && o.pgVersion >= 110000) {
				if seen[c.key] {
					continue
				}
				seen[c.key] = true
				if servedBy(c, existing) {
					continue
				}
				cands = append(cands, c)
			}
		}
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].key < cands[j].key })
	o.log.Debug("advisor candidates", "queries", len(qs), "candidates", len(cands))

	picks, err := selectIndexes(ctx, ev, qs, cands, opt)
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for _, x := range existing {
		names[x.Name] = true
	}
	for _, p := range picks {
		adv.Suggestions = append(adv.Suggestions, suggestionFrom(p, names))
	}
	for _, q := range qs {
		adv.CostBefore += float64(q.Calls) * q.base
		adv.CostAfter += float64(q.Calls) * q.cur
	}
	return adv, nil
}

func suggestionFrom(p pick, taken map[string]bool) Suggestion {
	name := indexName(p.c)
	for i := 2; taken[name]; i++ {
		name = fmt.Sprintf("%s%d", strings.TrimSuffix(indexName(p.c), "_idx"), i) + "_idx"
	}
	taken[name] = true
	s := Suggestion{
		Table:     p.c.Table.display(),
		Columns:   p.c.Columns,
		Where:     p.c.Where,
		Method:    p.c.Method,
		Include:   p.c.Include,
		Statement: p.c.ddl(name, true),
		SizeBytes: p.c.size,
		Name:      name,
	}
	for i, q := range p.qs {
		s.CostBefore += p.before[i]
		s.CostAfter += p.after[i]
		s.Queries = append(s.Queries, q.SQL)
		s.PerQuery = append(s.PerQuery, QuerySaving{Query: q.SQL, CostBefore: round2(p.before[i]), CostAfter: round2(p.after[i])})
	}
	if s.CostBefore > 0 {
		s.SavingsPct = round2(100 * (s.CostBefore - s.CostAfter) / s.CostBefore)
	}
	s.CostBefore, s.CostAfter = round2(s.CostBefore), round2(s.CostAfter)
	return s
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }

// pgEvaluator costs queries with hypopg on one read-only session.
type pgEvaluator struct {
	conn    *pgx.Conn
	timeout time.Duration
	version int // server_version_num
	n       int
}

func (e *pgEvaluator) setup(ctx context.Context, o *Optimizer) error {
	var installed, available bool
	err := e.conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'hypopg'),
		EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'hypopg')`).Scan(&installed, &available)
	if err != nil {
		return fmt.Errorf("check hypopg: %w", err)
	}
	if !installed {
		if available {
			return fmt.Errorf("%w: run CREATE EXTENSION hypopg in this database", ErrNoHypoPG)
		}
		return fmt.Errorf("%w: install the hypopg package for this PostgreSQL version (Debian: postgresql-NN-hypopg), then run CREATE EXTENSION hypopg", ErrNoHypoPG)
	}
	_, err = e.conn.Exec(ctx, fmt.Sprintf(`SET default_transaction_read_only = on;
		SET plan_cache_mode = force_generic_plan;
		SET statement_timeout = %d;
		SET lock_timeout = 1000;
		SELECT hypopg_reset()`, e.timeout.Milliseconds()))
	if err != nil {
		return fmt.Errorf("set up advisor session: %w", err)
	}
	return nil
}

// table resolves a name as the search path does and loads its columns,
// their distinct counts and the table's share of writes.
func (e *pgEvaluator) table(ctx context.Context, name string) (*table, error) {
	t := &table{Columns: map[string]bool{}, Distinct: map[string]float64{}, Correlation: map[string]float64{},
		Width: map[string]float64{}, Dedup: map[string]bool{}}
	var writes, scans float64
	err := e.conn.QueryRow(ctx, `
		SELECT c.oid, n.nspname, c.relname, greatest(c.reltuples, 0)::float8, c.relpages::float8 * current_setting('block_size')::float8,
		       coalesce(s.n_tup_ins + s.n_tup_upd + s.n_tup_del, 0)::float8,
		       coalesce(s.seq_scan + coalesce(s.idx_scan, 0), 0)::float8
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
		WHERE c.oid = to_regclass($1) AND c.relkind IN ('r', 'm', 'p')`, name).Scan(&t.OID, &t.Schema, &t.Name, &t.Rows, &t.Bytes, &writes, &scans)
	if err != nil {
		return nil, err
	}
	if writes+scans > 0 {
		t.WriteShare = writes / (writes + scans)
	}
	// pg_stats.avg_width is truncated to an integer; a variable-width
	// column's true mean is half a byte more on average, and that half
	// byte decides the 8-byte alignment of an index tuple (numeric keys:
	// avg_width 8, 8.94 stored, every tuple 24 bytes rather than 16).
	// Deduplication needs every key column's opclass to be "equalimage":
	// not numeric, floats, jsonb or containers, and, measured with
	// pageinspect's bt_metap on PostgreSQL 15, not bpchar either.
	rows, err := e.conn.Query(ctx, `
		SELECT a.attname, coalesce(s.n_distinct, 0)::float8, s.correlation::float8,
		       s.avg_width::float8 + CASE WHEN ty.typlen = -1 THEN 0.5 ELSE 0 END,
		       ty.typname NOT IN ('numeric', 'jsonb', 'float4', 'float8', 'bpchar') AND ty.typcategory NOT IN ('A', 'C', 'R')
		       AND coalesce((SELECT co.collisdeterministic FROM pg_collation co WHERE co.oid = a.attcollation), true)
		FROM pg_attribute a
		JOIN pg_type ty ON ty.oid = a.atttypid
		LEFT JOIN pg_stats s ON s.schemaname = $2 AND s.tablename = $3 AND s.attname = a.attname
		WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped`, t.OID, t.Schema, t.Name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var col string
		var nd float64
		var corr, width *float64
		var dedup bool
		if err := rows.Scan(&col, &nd, &corr, &width, &dedup); err != nil {
			return nil, err
		}
		t.Columns[col] = true
		if corr != nil {
			t.Correlation[col] = *corr
		}
		if width != nil {
			t.Width[col] = *width
		}
		t.Dedup[col] = dedup
		if nd < 0 {
			nd = -nd * t.Rows
		}
		t.Distinct[col] = nd
	}
	return t, rows.Err()
}

// cost explains one query. Normalized $n queries are prepared and
// explained with force_generic_plan, which PostgreSQL 15 needs in place of
// EXPLAIN (GENERIC_PLAN); each is prepared afresh so a cached plan never
// hides a new hypothetical index.
func (e *pgEvaluator) cost(ctx context.Context, q *wq) (float64, error) {
	plan, err := e.explain(ctx, q)
	if err != nil {
		return 0, err
	}
	return plan.Plan.TotalCost, nil
}

type explainPlan struct {
	Plan planNode `json:"Plan"`
}

type planNode struct {
	NodeType  string     `json:"Node Type"`
	TotalCost float64    `json:"Total Cost"`
	IndexName string     `json:"Index Name"`
	Relation  string     `json:"Relation Name"`
	Plans     []planNode `json:"Plans"`
}

func (n *planNode) indexes(out map[string]bool) {
	if n.IndexName != "" {
		out[n.IndexName] = true
	}
	for i := range n.Plans {
		n.Plans[i].indexes(out)
	}
}

func (e *pgEvaluator) explain(ctx context.Context, q *wq) (*explainPlan, error) {
	var js string
	var err error
	if q.shape.Params > 0 {
		e.n++
		name := fmt.Sprintf("perfengine_q%d", e.n)
		if _, err = e.conn.Exec(ctx, "PREPARE "+name+" AS "+q.SQL); err != nil {
			return nil, explainErr(err)
		}
		args := strings.TrimSuffix(strings.Repeat("NULL, ", q.shape.Params), ", ")
		err = e.conn.QueryRow(ctx, "EXPLAIN (FORMAT JSON) EXECUTE "+name+"("+args+")").Scan(&js)
		if _, derr := e.conn.Exec(context.WithoutCancel(ctx), "DEALLOCATE "+name); derr != nil && err == nil {
			err = derr
		}
	} else {
		err = e.conn.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+q.SQL).Scan(&js)
	}
	if err != nil {
		return nil, explainErr(err)
	}
	var plans []explainPlan
	if err := json.Unmarshal([]byte(js), &plans); err != nil || len(plans) == 0 {
		return nil, fmt.Errorf("read plan: %v", err)
	}
	return &plans[0], nil
}

func explainErr(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return fmt.Errorf("explain: %s", pgErr.Message)
	}
	return fmt.Errorf("explain: %w", err)
}

func (e *pgEvaluator) create(ctx context.Context, c *candidate) (oid uint32, size int64, err error) {
	err = e.conn.QueryRow(ctx, `SELECT indexrelid, hypopg_relation_size(indexrelid) FROM hypopg_create_index($1)`, c.ddl("", false)).Scan(&oid, &size)
	if err != nil {
		return 0, 0, fmt.Errorf("hypopg_create_index %s: %w", c, err)
	}
	// The estimate is the candidate's own: made once, however often the
	// selection costs the candidate again.
	if c.estimated == 0 {
		c.estimated = -1
		if est, ok := e.btreeSize(ctx, c); ok {
			c.estimated = est
		}
	}
	if c.estimated > 0 {
		size = c.estimated
	}
	return oid, size, nil
}

// btreeSize is btreeSize for a B-tree candidate, from the table's
// statistics (and, for a partial index, the planner's estimate of the rows
// its predicate keeps); false without statistics for every column or for
// another method, and hypopg's figure stands.
func (e *pgEvaluator) btreeSize(ctx context.Context, c *candidate) (int64, bool) {
	t := c.Table
	if c.Method != "" {
		return 0, false
	}
	s := btreeShape{rows: t.Rows, distinct: 1, dedup: e.version >= 130000}
	for _, col := range c.Columns {
		w, ok := t.Width[col]
		if !ok {
			return 0, false
		}
		s.keyWidth += w
		s.distinct *= max(t.Distinct[col], 1)
		s.dedup = s.dedup && t.Dedup[col]
	}
	for _, col := range c.Include {
		w, ok := t.Width[col]
		if !ok {
			return 0, false
		}
		s.includeWidth += w
	}
	if c.Where != "" {
		var js string
		if err := e.conn.QueryRow(ctx, "EXPLAIN (FORMAT JSON) SELECT 1 FROM "+t.qualified()+" WHERE "+c.Where).Scan(&js); err != nil {
			return 0, false
		}
		var plans []struct {
			Plan struct {
				Rows float64 `json:"Plan Rows"`
			}
		}
		if json.Unmarshal([]byte(js), &plans) != nil || len(plans) == 0 {
			return 0, false
		}
		s.rows = plans[0].Plan.Rows
	}
	s.distinct = min(s.distinct, s.rows)
	return btreeSize(s), true
}

func (e *pgEvaluator) with(ctx context.Context, c *candidate, qs []*wq) ([]float64, int64, error) {
	oid, size, err := e.create(ctx, c)
	if err != nil {
		return nil, 0, err
	}
	defer func() { _, _ = e.conn.Exec(context.WithoutCancel(ctx), `SELECT hypopg_drop_index($1)`, oid) }()
	costs := make([]float64, len(qs))
	for i, q := range qs {
		cost, err := e.cost(ctx, q)
		if err != nil {
			return nil, 0, err
		}
		costs[i] = cost
	}
	return costs, size, nil
}

func (e *pgEvaluator) keep(ctx context.Context, c *candidate) error {
	oid, _, err := e.create(ctx, c)
	c.handle = fmt.Sprint(oid)
	return err
}

func (e *pgEvaluator) drop(ctx context.Context, c *candidate) error {
	if c.handle == "" {
		return nil
	}
	_, err := e.conn.Exec(ctx, `SELECT hypopg_drop_index($1::oid)`, c.handle)
	c.handle = ""
	return err
}

func (e *pgEvaluator) costs(ctx context.Context, qs []*wq) ([]float64, error) {
	out := make([]float64, len(qs))
	for i, q := range qs {
		c, err := e.cost(ctx, q)
		if err != nil {
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}
