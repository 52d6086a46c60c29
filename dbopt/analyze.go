package dbopt

import (
	"fmt"
	"strconv"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// colRef is a column as written: an optional qualifier (table or alias) and
// a name. The advisor resolves it to a table with the catalog.
type colRef struct {
	Qual string
	Name string
}

// predicate is a condition on one column with a constant, a partial index
// candidate: status = 'active', deleted_at IS NULL.
type predicate struct {
	Col colRef
	SQL func(col string) string
	// Literal marks col = constant, worth a partial index only when the
	// column has few values (a status, a kind): with many, the constant is
	// one user's id, not a fixed part of the application's query.
	Literal bool
}

// tableRef is a table in a FROM clause.
type tableRef struct {
	Schema string
	Name   string
	Alias  string
}

// shape is what the index advisor needs to know about one statement: which
// tables it reads and how it uses their columns.
type shape struct {
	Tables []tableRef
	Eq     []colRef // col = x, col IN (...), col IS NULL
	Range  []colRef // col < x, BETWEEN, LIKE 'prefix%'
	Join   []colRef // col = othertable.col
	Sort   []colRef // ORDER BY, in order; nil when it mixes tables or expressions
	Group  []colRef // GROUP BY, in order
	Preds  []predicate
	Params int // highest $n
	// Refs are all the columns a plain SELECT reads, for covering indexes:
	// nil when it reads a star, or has subqueries or CTEs whose scopes a
	// flat list would mix up.
	Refs []colRef
	// What the top-level SELECT asks for, for query advice: a LIMIT (or
	// FETCH FIRST), its OFFSET (offsetNone, offsetParam or the literal), a
	// star in the target list, a WHERE, and grouping or an aggregate.
	Select, Limited, Star, Filtered, Aggregated bool
	Offset                                      int64
}

// Offsets that are not a literal row count.
const (
	offsetNone  = -1
	offsetParam = -2
)

// parseShape parses one SELECT (or UPDATE/DELETE with a WHERE) and returns
// its shape. Other statements get errNotSelect.
func parseShape(sql string) (*shape, error) {
	tree, err := pg_query.Parse(sql)
	if err != nil {
		return nil, fmt.Errorf("parse query: %w", err)
	}
	stmts := tree.GetStmts()
	if len(stmts) != 1 {
		return nil, fmt.Errorf("parse query: %d statements, want 1", len(stmts))
	}
	s := &shape{Offset: offsetNone}
	n := stmts[0].GetStmt()
	switch {
	case n.GetSelectStmt() != nil:
		s.selectStmt(n.GetSelectStmt(), true)
		s.Refs = plainRefs(n.GetSelectStmt())
		s.topLevel(n.GetSelectStmt())
	case n.GetUpdateStmt() != nil:
		u := n.GetUpdateStmt()
		s.addRangeVar(u.GetRelation())
		for _, f := range u.GetFromClause() {
			s.fromItem(f)
		}
		s.where(u.GetWhereClause())
	case n.GetDeleteStmt() != nil:
		d := n.GetDeleteStmt()
		s.addRangeVar(d.GetRelation())
		for _, f := range d.GetUsingClause() {
			s.fromItem(f)
		}
		s.where(d.GetWhereClause())
	default:
		return nil, errNotSelect
	}
	s.Params = maxParam(sql)
	return s, nil
}

func (s *shape) selectStmt(sel *pg_query.SelectStmt, top bool) {
	if sel == nil {
		return
	}
	if w := sel.GetWithClause(); w != nil {
		for _, c := range w.GetCtes() {
			if q := c.GetCommonTableExpr().GetCtequery(); q != nil {
				s.selectStmt(q.GetSelectStmt(), false)
			}
		}
	}
	if sel.GetOp() != pg_query.SetOperation_SETOP_NONE && sel.GetOp() != pg_query.SetOperation_SET_OPERATION_UNDEFINED {
		s.selectStmt(sel.GetLarg(), false)
		s.selectStmt(sel.GetRarg(), false)
		return
	}
	for _, f := range sel.GetFromClause() {
		s.fromItem(f)
	}
	s.where(sel.GetWhereClause())
	// Sorting and grouping can use an index only when they are plain
	// columns; the first expression ends the usable prefix.
	if top {
		for _, sb := range sel.GetSortClause() {
			c, ok := asColumn(sb.GetSortBy().GetNode())
			if !ok {
				break
			}
			s.Sort = append(s.Sort, c)
		}
	}
	for _, g := range sel.GetGroupClause() {
		c, ok := asColumn(g)
		if !ok {
			break
		}
		s.Group = append(s.Group, c)
	}
	// SELECT DISTINCT groups by its output columns, DISTINCT ON by its
	// expressions: either can read an index in order instead of sorting or
	// hashing every row.
	if d := sel.GetDistinctClause(); len(d) > 0 && len(s.Group) == 0 {
		on := d
		if len(d) == 1 && d[0].GetNode() == nil { // plain DISTINCT
			on = nil
			for _, t := range sel.GetTargetList() {
				on = append(on, t.GetResTarget().GetVal())
			}
		}
		for _, n := range on {
			c, ok := asColumn(n)
			if !ok {
				break
			}
			s.Group = append(s.Group, c)
		}
	}
	for _, t := range sel.GetTargetList() {
		s.sublinks(t.GetResTarget().GetVal())
	}
}

func (s *shape) addRangeVar(rv *pg_query.RangeVar) {
	if rv == nil || rv.GetRelname() == "" {
		return
	}
	s.Tables = append(s.Tables, tableRef{Schema: rv.GetSchemaname(), Name: rv.GetRelname(), Alias: rv.GetAlias().GetAliasname()})
}

func (s *shape) fromItem(n *pg_query.Node) {
	switch {
	case n.GetRangeVar() != nil:
		s.addRangeVar(n.GetRangeVar())
	case n.GetJoinExpr() != nil:
		j := n.GetJoinExpr()
		s.fromItem(j.GetLarg())
		s.fromItem(j.GetRarg())
		s.where(j.GetQuals())
	case n.GetRangeSubselect() != nil:
		s.selectStmt(n.GetRangeSubselect().GetSubquery().GetSelectStmt(), false)
	}
}

// where walks the AND-ed conjuncts of a condition. OR branches are left
// alone: one btree index rarely serves them all.
func (s *shape) where(n *pg_query.Node) {
	if n == nil {
		return
	}
	switch {
	case n.GetBoolExpr() != nil:
		b := n.GetBoolExpr()
		if b.GetBoolop() == pg_query.BoolExprType_AND_EXPR {
			for _, a := range b.GetArgs() {
				s.where(a)
			}
			return
		}
		if b.GetBoolop() == pg_query.BoolExprType_NOT_EXPR && len(b.GetArgs()) == 1 {
			if c, ok := asColumn(b.GetArgs()[0]); ok {
				s.Preds = append(s.Preds, predicate{Col: c, SQL: func(col string) string { return "NOT " + col }})
				return
			}
		}
		for _, a := range b.GetArgs() {
			s.sublinks(a)
		}
	case n.GetAExpr() != nil:
		s.aExpr(n.GetAExpr())
	case n.GetNullTest() != nil:
		nt := n.GetNullTest()
		c, ok := asColumn(nt.GetArg())
		if !ok {
			return
		}
		if nt.GetNulltesttype() == pg_query.NullTestType_IS_NULL {
			s.Eq = append(s.Eq, c)
			s.Preds = append(s.Preds, predicate{Col: c, SQL: func(col string) string { return col + " IS NULL" }})
		} else {
			s.Preds = append(s.Preds, predicate{Col: c, SQL: func(col string) string { return col + " IS NOT NULL" }})
		}
	case n.GetBooleanTest() != nil:
		bt := n.GetBooleanTest()
		c, ok := asColumn(bt.GetArg())
		if !ok {
			return
		}
		switch bt.GetBooltesttype() {
		case pg_query.BoolTestType_IS_TRUE:
			s.Preds = append(s.Preds, predicate{Col: c, SQL: func(col string) string { return col + " IS TRUE" }})
		case pg_query.BoolTestType_IS_FALSE:
			s.Preds = append(s.Preds, predicate{Col: c, SQL: func(col string) string { return col + " IS FALSE" }})
		}
	case n.GetColumnRef() != nil:
		c, _ := asColumn(n)
		s.Preds = append(s.Preds, predicate{Col: c, SQL: func(col string) string { return col }})
	case n.GetSubLink() != nil:
		s.sublinks(n)
	}
}

func (s *shape) aExpr(e *pg_query.A_Expr) {
	op := ""
	if names := e.GetName(); len(names) > 0 {
		op = names[len(names)-1].GetString_().GetSval()
	}
	l, lok := asColumn(e.GetLexpr())
	r, rok := asColumn(e.GetRexpr())
	switch e.GetKind() {
	case pg_query.A_Expr_Kind_AEXPR_OP:
		switch op {
		case "=":
			switch {
			case lok && rok:
				s.Join = append(s.Join, l, r)
			case lok:
				s.Eq = append(s.Eq, l)
				s.constPred(l, "=", e.GetRexpr())
			case rok:
				s.Eq = append(s.Eq, r)
				s.constPred(r, "=", e.GetLexpr())
			}
		case "<", ">", "<=", ">=":
			switch {
			case lok && !rok:
				s.Range = append(s.Range, l)
			case rok && !lok:
				s.Range = append(s.Range, r)
			}
		case "~~": // LIKE: only a fixed prefix can use a btree
			if lok && likePrefix(e.GetRexpr()) {
				s.Range = append(s.Range, l)
			}
		}
	case pg_query.A_Expr_Kind_AEXPR_IN:
		if lok {
			s.Eq = append(s.Eq, l)
		}
	case pg_query.A_Expr_Kind_AEXPR_OP_ANY:
		if lok && op == "=" {
			s.Eq = append(s.Eq, l)
		}
	case pg_query.A_Expr_Kind_AEXPR_BETWEEN, pg_query.A_Expr_Kind_AEXPR_BETWEEN_SYM:
		if lok {
			s.Range = append(s.Range, l)
		}
	case pg_query.A_Expr_Kind_AEXPR_LIKE:
		if lok && likePrefix(e.GetRexpr()) {
			s.Range = append(s.Range, l)
		}
	}
	s.sublinks(e.GetLexpr())
	s.sublinks(e.GetRexpr())
}

// constPred records col = literal as a partial index candidate.
func (s *shape) constPred(c colRef, op string, v *pg_query.Node) {
	lit, ok := literal(v)
	if !ok {
		return
	}
	s.Preds = append(s.Preds, predicate{Col: c, SQL: func(col string) string { return col + " " + op + " " + lit }, Literal: true})
}

// sublinks descends into subqueries in expressions: IN (SELECT ...),
// EXISTS (...), scalar subqueries.
func (s *shape) sublinks(n *pg_query.Node) {
	if n == nil {
		return
	}
	if sl := n.GetSubLink(); sl != nil {
		if c, ok := asColumn(sl.GetTestexpr()); ok && sl.GetSubLinkType() == pg_query.SubLinkType_ANY_SUBLINK {
			s.Join = append(s.Join, c)
		}
		s.selectStmt(sl.GetSubselect().GetSelectStmt(), false)
	}
}

func asColumn(n *pg_query.Node) (colRef, bool) {
	if n == nil {
		return colRef{}, false
	}
	if tc := n.GetTypeCast(); tc != nil {
		// col::text = $1 still uses an index on col when the cast is
		// binary-compatible; the planner decides, hypopg tells us.
		n = tc.GetArg()
	}
	cr := n.GetColumnRef()
	if cr == nil {
		return colRef{}, false
	}
	var parts []string
	for _, f := range cr.GetFields() {
		if f.GetAStar() != nil {
			return colRef{}, false
		}
		parts = append(parts, f.GetString_().GetSval())
	}
	switch len(parts) {
	case 1:
		return colRef{Name: parts[0]}, true
	case 2:
		return colRef{Qual: parts[0], Name: parts[1]}, true
	case 3:
		return colRef{Qual: parts[0] + "." + parts[1], Name: parts[2]}, true
	}
	return colRef{}, false
}

// literal renders a constant as SQL, for a partial index predicate.
func literal(n *pg_query.Node) (string, bool) {
	if tc := n.GetTypeCast(); tc != nil {
		n = tc.GetArg()
	}
	c := n.GetAConst()
	if c == nil || c.GetIsnull() {
		return "", false
	}
	switch {
	case c.GetSval() != nil:
		return "'" + strings.ReplaceAll(c.GetSval().GetSval(), "'", "''") + "'", true
	case c.GetIval() != nil:
		return strconv.FormatInt(int64(c.GetIval().GetIval()), 10), true
	case c.GetBoolval() != nil:
		return strconv.FormatBool(c.GetBoolval().GetBoolval()), true
	case c.GetFval() != nil:
		return c.GetFval().GetFval(), true
	}
	return "", false
}

// likePrefix reports whether a LIKE pattern is a parameter or a literal
// that does not start with a wildcard.
func likePrefix(n *pg_query.Node) bool {
	if n.GetParamRef() != nil {
		return true
	}
	c := n.GetAConst()
	if c == nil || c.GetSval() == nil {
		return false
	}
	p := c.GetSval().GetSval()
	return p != "" && p[0] != '%' && p[0] != '_'
}

// maxParam finds the highest $n in a statement, so EXECUTE can pass as
// many NULLs.
func maxParam(sql string) int {
	js, err := pg_query.ParseToJSON(sql)
	if err != nil {
		return 0
	}
	return highestParamJSON(js)
}

// highestParamJSON scans the JSON parse tree for "ParamRef":{"number":N.
func highestParamJSON(js string) int {
	const key = `"ParamRef":{"number":`
	hi := 0
	for {
		i := strings.Index(js, key)
		if i < 0 {
			return hi
		}
		js = js[i+len(key):]
		j := 0
		for j < len(js) && js[j] >= '0' && js[j] <= '9' {
			j++
		}
		if v, err := strconv.Atoi(js[:j]); err == nil && v > hi {
			hi = v
		}
	}
}

// plainRefs returns every column sel reads, or nil when it reads a star or
// nests a query (a subquery, a CTE, a set operation), whose column names
// belong to other scopes.
func plainRefs(sel *pg_query.SelectStmt) []colRef {
	var refs []colRef
	plain := true
	var walk func(protoreflect.Message)
	walk = func(m protoreflect.Message) {
		if !plain || !m.IsValid() {
			return
		}
		switch v := m.Interface().(type) {
		case *pg_query.ColumnRef:
			c, ok := asColumn(&pg_query.Node{Node: &pg_query.Node_ColumnRef{ColumnRef: v}})
			if !ok {
				plain = false // a star
				return
			}
			refs = append(refs, c)
			return
		case *pg_query.SubLink, *pg_query.RangeSubselect, *pg_query.CommonTableExpr, *pg_query.WithClause:
			plain = false
			return
		case *pg_query.SelectStmt:
			if v != sel {
				plain = false
				return
			}
		}
		// Fields in their declared order: Range's order is randomised
		// per build, and the reads become an INCLUDE list, which must
		// not change from one binary to the next.
		fields := m.Descriptor().Fields()
		for i := 0; i < fields.Len() && plain; i++ {
			fd := fields.Get(i)
			if fd.Message() == nil || fd.IsMap() || !m.Has(fd) {
				continue
			}
			v := m.Get(fd)
			if fd.IsList() {
				for k, l := 0, v.List(); k < l.Len(); k++ {
					walk(l.Get(k).Message())
				}
			} else {
				walk(v.Message())
			}
		}
	}
	if sel.GetOp() != pg_query.SetOperation_SETOP_NONE && sel.GetOp() != pg_query.SetOperation_SET_OPERATION_UNDEFINED {
		return nil
	}
	walk(sel.ProtoReflect())
	if !plain {
		return nil
	}
	return refs
}

// aggregates are the aggregate functions whose presence makes a SELECT
// return a summary rather than its rows.
var aggregates = map[string]bool{"count": true, "sum": true, "avg": true, "min": true, "max": true,
	"array_agg": true, "string_agg": true, "json_agg": true, "jsonb_agg": true, "bool_and": true,
	"bool_or": true, "every": true, "stddev": true, "variance": true, "percentile_cont": true, "percentile_disc": true}

// topLevel reads the top-level SELECT's LIMIT, OFFSET, star, WHERE and
// aggregation for query advice.
func (s *shape) topLevel(sel *pg_query.SelectStmt) {
	s.Select = true
	s.Limited = sel.GetLimitCount() != nil
	if off := sel.GetLimitOffset(); off != nil {
		s.Offset = offsetParam
		if c := off.GetAConst(); c != nil && c.GetIval() != nil {
			s.Offset = int64(c.GetIval().GetIval())
		}
	}
	s.Filtered = sel.GetWhereClause() != nil
	s.Aggregated = len(sel.GetGroupClause()) > 0
	for _, t := range sel.GetTargetList() {
		v := t.GetResTarget().GetVal()
		if cr := v.GetColumnRef(); cr != nil {
			for _, f := range cr.GetFields() {
				if f.GetAStar() != nil {
					s.Star = true
				}
			}
		}
		if fc := v.GetFuncCall(); fc != nil {
			names := fc.GetFuncname()
			if fc.GetAggStar() || len(names) > 0 && aggregates[strings.ToLower(names[len(names)-1].GetString_().GetSval())] {
				s.Aggregated = true
			}
		}
	}
}
