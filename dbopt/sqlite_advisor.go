package dbopt

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// planStep is one line of EXPLAIN QUERY PLAN.
type planStep struct {
	id, parent int
	kind       string // SCAN, SEARCH, SORT, OTHER
	table      string
	index      string // "" when none; "INTEGER PRIMARY KEY" for the rowid
	eq, rng    int    // equality and range terms the index uses
	detail     string
}

// parsePlanDetail reads one EXPLAIN QUERY PLAN detail:
// "SEARCH t USING INDEX i (a=? AND b>?)", "SCAN t", "USE TEMP B-TREE FOR
// ORDER BY". An alias ("SCAN p") is mapped back by the caller.
func parsePlanDetail(d string) planStep {
	st := planStep{detail: d, kind: "OTHER"}
	switch {
	case strings.HasPrefix(d, "SCAN "), strings.HasPrefix(d, "SEARCH "):
		kind, rest, _ := strings.Cut(d, " ")
		st.kind = kind
		rest = strings.TrimPrefix(rest, "TABLE ") // SQLite before 3.36
		name, rest, _ := strings.Cut(rest, " ")
		st.table = name
		if strings.HasPrefix(rest, "AS ") {
			_, rest, _ = strings.Cut(strings.TrimPrefix(rest, "AS "), " ")
		}
		if i := strings.Index(rest, "USING "); i >= 0 {
			u := rest[i+len("USING "):]
			u = strings.TrimPrefix(u, "COVERING ")
			switch {
			case strings.HasPrefix(u, "INTEGER PRIMARY KEY"):
				st.index = "INTEGER PRIMARY KEY"
			case strings.HasPrefix(u, "PRIMARY KEY"):
				st.index = "PRIMARY KEY"
			case strings.HasPrefix(u, "AUTOMATIC "):
				st.index = "" // built for this query alone: as bad as a scan
			case strings.HasPrefix(u, "INDEX "):
				name, _, _ := strings.Cut(strings.TrimPrefix(u, "INDEX "), " ")
				st.index = name
			}
		}
		if i := strings.LastIndexByte(rest, '('); i >= 0 && strings.HasSuffix(rest, ")") {
			for _, term := range strings.Split(rest[i+1:len(rest)-1], " AND ") {
				switch {
				case strings.Contains(term, "=") && !strings.ContainsAny(term, "<>"):
					st.eq++
				case strings.ContainsAny(term, "<>"):
					st.rng++
				}
			}
		}
	case strings.HasPrefix(d, "USE TEMP B-TREE"):
		st.kind = "SORT"
	}
	return st
}

// sqlitePlan runs EXPLAIN QUERY PLAN with every parameter NULL.
func (o *Optimizer) sqlitePlan(ctx context.Context, q querier, query string) ([]planStep, error) {
	// EXPLAIN covers only the first statement of a string: whatever
	// follows a semicolon would run for real. Only one SELECT, UPDATE or
	// DELETE may pass.
	if _, err := parseShape(toPgParams(query)); err != nil {
		return nil, err
	}
	n := countSQLiteParams(query)
	args := make([]any, n)
	rows, err := q.QueryContext(ctx, "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		return nil, fmt.Errorf("explain: %w", err)
	}
	defer rows.Close()
	var out []planStep
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			return nil, fmt.Errorf("explain: %w", err)
		}
		st := parsePlanDetail(detail)
		st.id, st.parent = id, parent
		out = append(out, st)
	}
	return out, rows.Err()
}

func planText(plan []planStep) string {
	var b strings.Builder
	depth := map[int]int{0: 0}
	for _, st := range plan {
		d := depth[st.parent] + 1
		depth[st.id] = d
		b.WriteString(strings.Repeat("  ", d-1) + "`--" + st.detail + "\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

// countSQLiteParams counts ? and ?NNN placeholders outside quotes, which
// is what EXPLAIN needs bound.
func countSQLiteParams(q string) int {
	n, hi := 0, 0
	for i := 0; i < len(q); i++ {
		switch q[i] {
		case '\'', '"', '`':
			quote := q[i]
			for i++; i < len(q) && q[i] != quote; i++ {
			}
		case '-':
			if i+1 < len(q) && q[i+1] == '-' {
				for i < len(q) && q[i] != '\n' {
					i++
				}
			}
		case '/':
			if i+1 < len(q) && q[i+1] == '*' {
				j := strings.Index(q[i:], "*/")
				if j < 0 {
					return max(n, hi)
				}
				i += j + 1
			}
		case '?':
			j := i + 1
			for j < len(q) && q[j] >= '0' && q[j] <= '9' {
				j++
			}
			if j > i+1 {
				v, _ := strconv.Atoi(q[i+1 : j])
				hi = max(hi, v)
			} else {
				n++
			}
			i = j - 1
		}
	}
	return max(n, hi)
}

// toPgParams rewrites SQLite's ? placeholders as $n so pg_query can parse
// the statement; the advisor needs only its shape.
func toPgParams(q string) string {
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch c {
		case '\'', '"', '`':
			j := i + 1
			for j < len(q) && q[j] != c {
				j++
			}
			if j >= len(q) {
				b.WriteString(q[i:])
				return b.String()
			}
			if c == '`' {
				b.WriteString(`"` + q[i+1:j] + `"`)
			} else {
				b.WriteString(q[i : j+1])
			}
			i = j
		case '-', '/':
			end := ""
			if c == '-' && i+1 < len(q) && q[i+1] == '-' {
				end = "\n"
			} else if c == '/' && i+1 < len(q) && q[i+1] == '*' {
				end = "*/"
			}
			if end == "" {
				b.WriteByte(c)
				continue
			}
			j := strings.Index(q[i:], end)
			if j < 0 {
				b.WriteString(q[i:])
				return b.String()
			}
			b.WriteString(q[i : i+j+len(end)])
			i += j + len(end) - 1
		case '?':
			j := i + 1
			for j < len(q) && q[j] >= '0' && q[j] <= '9' {
				j++
			}
			if j > i+1 {
				b.WriteString("$" + q[i+1:j])
			} else {
				n++
				b.WriteString("$" + strconv.Itoa(n))
			}
			i = j - 1
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// sqliteEvaluator costs queries with candidate indexes built for real
// inside a transaction that is always rolled back. SQLite has no planner
// cost to read, so the cost is the rows the plan visits, estimated from
// sqlite_stat1 (gathered inside the same transaction) the way SQLite's
// planner does: the average rows per key for the equality prefix an index
// uses, a quarter of that for a range, the whole table for a scan, and
// nested loops multiplied.
type sqliteEvaluator struct {
	o      *Optimizer
	conn   *sql.Conn
	tables map[string]*table
	n      int
}

func (e *sqliteEvaluator) statRows(ctx context.Context, index string, eq int, tableRows float64) float64 {
	var stat string
	if err := e.conn.QueryRowContext(ctx, `SELECT stat FROM sqlite_stat1 WHERE idx = ?`, index).Scan(&stat); err != nil {
		return tableRows / 10 // SQLite's own guess without statistics
	}
	f := strings.Fields(stat)
	if len(f) < 2 {
		return tableRows
	}
	k := min(max(eq, 1), len(f)-1)
	v, err := strconv.ParseFloat(f[k], 64)
	if err != nil {
		return tableRows
	}
	return v
}

func (e *sqliteEvaluator) planCost(ctx context.Context, plan []planStep, aliases map[string]string) float64 {
	loops := map[int]float64{}
	var cost, largest float64
	for _, st := range plan {
		outer := loops[st.parent]
		if outer == 0 {
			outer = 1
		}
		name := st.table
		if real, ok := aliases[strings.ToLower(name)]; ok {
			name = real
		}
		var n float64
		if t := e.tables[name]; t != nil {
			n = max(t.Rows, 1)
		} else {
			n = 1
		}
		var rows float64
		switch st.kind {
		case "SCAN":
			rows = n
		case "SEARCH":
			switch st.index {
			case "INTEGER PRIMARY KEY", "PRIMARY KEY":
				rows = 1
				if st.eq == 0 {
					rows = n / 4
				}
			case "":
				rows = n
			default:
				rows = n
				if st.eq > 0 {
					rows = e.statRows(ctx, st.index, st.eq, n)
				}
				if st.rng > 0 {
					rows /= 4
				}
			}
			rows += math.Log2(n + 1) // the descent of the btree
		case "SORT":
			cost += largest * math.Log2(largest+1) / 10
			continue
		default:
			continue
		}
		cost += outer * rows
		largest = max(largest, rows)
		loops[st.parent] = outer * max(rows, 1)
	}
	return cost
}

func (e *sqliteEvaluator) cost(ctx context.Context, q *wq) (float64, error) {
	plan, err := e.o.sqlitePlan(ctx, e.conn, q.SQL)
	if err != nil {
		return 0, err
	}
	aliases := map[string]string{}
	for _, t := range q.shape.Tables {
		if t.Alias != "" {
			aliases[strings.ToLower(t.Alias)] = t.Name
		}
	}
	return e.planCost(ctx, plan, aliases), nil
}

func (e *sqliteEvaluator) exec(ctx context.Context, q string) error {
	_, err := e.conn.ExecContext(ctx, q)
	return err
}

func (e *sqliteEvaluator) create(ctx context.Context, c *candidate) (string, error) {
	e.n++
	name := fmt.Sprintf("perfengine_candidate_%d", e.n)
	if err := e.exec(ctx, sqliteDDL(c, name, false)); err != nil {
		return "", err
	}
	if err := e.exec(ctx, "ANALYZE "+quoteIdent(name)); err != nil {
		return "", err
	}
	return name, nil
}

func (e *sqliteEvaluator) with(ctx context.Context, c *candidate, qs []*wq) ([]float64, int64, error) {
	if err := e.exec(ctx, "SAVEPOINT perfengine_candidate"); err != nil {
		return nil, 0, err
	}
	defer func() {
		_ = e.exec(context.WithoutCancel(ctx), "ROLLBACK TO perfengine_candidate")
		_ = e.exec(context.WithoutCancel(ctx), "RELEASE perfengine_candidate")
	}()
	name, err := e.create(ctx, c)
	if err != nil {
		return nil, 0, err
	}
	size := e.o.sqliteIndexSize(ctx, e.conn, name)
	costs := make([]float64, len(qs))
	for i, q := range qs {
		plan, err := e.o.sqlitePlan(ctx, e.conn, q.SQL)
		if err != nil {
			return nil, 0, err
		}
		used := false
		for _, st := range plan {
			used = used || st.index == name
		}
		if !used {
			// Kept only if the planner uses it: otherwise no change.
			costs[i] = q.cur
			continue
		}
		aliases := map[string]string{}
		for _, t := range q.shape.Tables {
			if t.Alias != "" {
				aliases[strings.ToLower(t.Alias)] = t.Name
			}
		}
		costs[i] = e.planCost(ctx, plan, aliases)
	}
	return costs, size, nil
}

func (e *sqliteEvaluator) keep(ctx context.Context, c *candidate) error {
	name, err := e.create(ctx, c)
	c.handle = name
	return err
}

func (e *sqliteEvaluator) drop(ctx context.Context, c *candidate) error {
	if c.handle == "" {
		return nil
	}
	err := e.exec(ctx, "DROP INDEX "+quoteIdent(c.handle))
	c.handle = ""
	return err
}

func (e *sqliteEvaluator) costs(ctx context.Context, qs []*wq) ([]float64, error) {
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

func (e *sqliteEvaluator) table(ctx context.Context, name string) (*table, error) {
	t := &table{Schema: "main", Name: name, Columns: map[string]bool{}, Distinct: map[string]float64{}}
	rows, err := e.conn.QueryContext(ctx, `SELECT name FROM pragma_table_info(?)`, name)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			rows.Close()
			return nil, err
		}
		t.Columns[c] = true
	}
	rows.Close()
	if len(t.Columns) == 0 {
		return nil, fmt.Errorf("no such table: %s", name)
	}
	var stat string
	if err := e.conn.QueryRowContext(ctx, `SELECT stat FROM sqlite_stat1 WHERE tbl = ? LIMIT 1`, name).Scan(&stat); err == nil {
		if f := strings.Fields(stat); len(f) > 0 {
			t.Rows, _ = strconv.ParseFloat(f[0], 64)
		}
	}
	if t.Rows == 0 {
		var n int64
		if err := e.conn.QueryRowContext(ctx, `/* perfengine */ SELECT count(*) FROM `+quoteIdent(name)).Scan(&n); err != nil {
			return nil, err
		}
		t.Rows = float64(n)
	}
	// Distinct counts order equality columns; one cheap pass per column
	// on a sample keeps this fast on big tables.
	for c := range t.Columns {
		var d float64
		q := fmt.Sprintf(`/* perfengine */ SELECT count(DISTINCT %s) FROM (SELECT %s FROM %s LIMIT 10000)`, quoteIdent(c), quoteIdent(c), quoteIdent(name))
		if err := e.conn.QueryRowContext(ctx, q).Scan(&d); err == nil {
			t.Distinct[c] = d
		}
	}
	return t, nil
}

func (e *sqliteEvaluator) indexes(ctx context.Context) ([]pgIndex, error) {
	rows, err := e.conn.QueryContext(ctx, `
		SELECT m.tbl_name, m.name, il."unique", il.partial, ii.name
		FROM sqlite_master m
		JOIN pragma_index_list(m.tbl_name) il ON il.name = m.name
		JOIN pragma_index_info(m.name) ii
		WHERE m.type = 'index'
		ORDER BY m.name, ii.seqno`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []pgIndex
	for rows.Next() {
		var tbl, name string
		var unique, partial bool
		var col sql.NullString
		if err := rows.Scan(&tbl, &name, &unique, &partial, &col); err != nil {
			return nil, err
		}
		if len(out) == 0 || out[len(out)-1].Name != name {
			x := pgIndex{Schema: "main", Table: tbl, Name: name, Unique: unique, Valid: true, AM: "btree"}
			if partial {
				x.Where = "(partial)"
			}
			out = append(out, x)
		}
		x := &out[len(out)-1]
		if !col.Valid {
			x.HasExpr = true
		}
		x.Columns = append(x.Columns, col.String)
	}
	return out, rows.Err()
}

// sqliteAdvise follows the idea of SQLite's .expert: candidate indexes are
// created for real inside a transaction that is rolled back, and kept only
// if EXPLAIN QUERY PLAN then uses them.
func (o *Optimizer) sqliteAdvise(ctx context.Context, queries []Query, opt AdviseOptions) (*Advice, error) {
	adv := &Advice{}
	if len(queries) == 0 {
		return adv, nil
	}
	conn, done, err := o.sqliteScratch(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	e := &sqliteEvaluator{o: o, conn: conn, tables: map[string]*table{}}
	if err := e.exec(ctx, "BEGIN"); err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = e.exec(context.WithoutCancel(ctx), "ROLLBACK") }()
	// Statistics for the planner and the cost model; a sampled ANALYZE
	// keeps this quick on big tables. Rolled back with the rest.
	if err := e.exec(ctx, "PRAGMA analysis_limit = 1000; ANALYZE"); err != nil {
		return nil, fmt.Errorf("analyze: %w", err)
	}
	existing, err := e.indexes(ctx)
	if err != nil {
		return nil, fmt.Errorf("list indexes: %w", err)
	}
	var missing []string
	lookup := func(tr tableRef) *table {
		if t, ok := e.tables[tr.Name]; ok {
			return t
		}
		t, err := e.table(ctx, tr.Name)
		if err != nil {
			missing = append(missing, tr.Name)
		}
		e.tables[tr.Name] = t
		return t
	}
	qs, skipped := weigh(ctx, queries, func(q string) (*shape, error) { return parseShape(toPgParams(q)) }, lookup, &missing, e.cost)
	adv.Skipped = append(adv.Skipped, skipped...)
	adv.Analyzed = len(qs)
	adv.QueryIssues = queryIssues(qs)
	var cands []*candidate
	seen := map[string]bool{}
	for _, q := range qs {
		for t, u := range q.uses {
			for _, c := range candidatesFor(t, u, opt.MaxColumns, !opt.NoPartial, false) {
				if !seen[c.key] && !servedBy(c, existing) {
					seen[c.key] = true
					cands = append(cands, c)
				}
			}
		}
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].key < cands[j].key })
	picks, err := selectIndexes(ctx, e, qs, cands, opt)
	if err != nil {
		return nil, err
	}
	taken := map[string]bool{}
	for _, x := range existing {
		taken[x.Name] = true
	}
	for _, p := range picks {
		s := suggestionFrom(p, taken)
		s.Statement = sqliteDDL(p.c, s.Name, false)
		adv.Suggestions = append(adv.Suggestions, s)
	}
	for _, q := range qs {
		adv.CostBefore += float64(q.Calls) * q.base
		adv.CostAfter += float64(q.Calls) * q.cur
	}
	return adv, nil
}
