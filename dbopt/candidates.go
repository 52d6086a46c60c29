package dbopt

import (
	"fmt"
	"hash/fnv"
	"math"
	"sort"
	"strings"
)

// table is a resolved table with what the advisor needs to know of it.
type table struct {
	OID        uint32
	Schema     string
	Name       string
	Rows       float64
	Bytes      float64 // the table's size on disk, 0 when unknown
	Columns    map[string]bool
	Distinct   map[string]float64 // estimated distinct values per column
	WriteShare float64            // writes / (writes + scans), 0..1
	// Correlation is pg_stats.correlation per column: how closely the
	// column's order follows the rows' physical order (±1: exactly). Only
	// PostgreSQL reports it; it makes a BRIN index worth trying.
	Correlation map[string]float64
	// Width is pg_stats.avg_width per column, and Dedup whether a B-tree
	// on the column may keep posting lists (not numeric, floats, jsonb,
	// containers or a nondeterministic collation): what sizing an index
	// needs. PostgreSQL only.
	Width map[string]float64
	Dedup map[string]bool
}

func (t *table) qualified() string { return quoteIdent(t.Schema, t.Name) }

// display is schema.table, or table in the public schema.
func (t *table) display() string {
	if t.Schema == "public" || t.Schema == "main" || t.Schema == "" {
		return t.Name
	}
	return t.Schema + "." + t.Name
}

// candidate is a possible index.
type candidate struct {
	Table   *table
	Columns []string
	Where   string // SQL predicate, "" for a full index
	Method  string // "" for a B-tree, or MethodBRIN
	// Include are non-key columns stored in the leaves (INCLUDE), so that
	// a query reading only them and the key is answered from the index.
	Include []string
	key     string
	// evaluation state
	size      int64
	estimated int64   // btreeSize's estimate: 0 not made yet, -1 none
	bound     float64 // upper bound of its benefit, from its last evaluation
	dead      bool
	handle    string // the evaluator's name for it while it exists
}

// MethodBRIN is the index method of a block-range index: a summary of each
// range of table pages, a few kilobytes for millions of rows, that serves
// ranges of a column stored in about the order of its values.
const MethodBRIN = "brin"

func (c *candidate) String() string {
	s := c.Table.display() + "(" + strings.Join(c.Columns, ", ") + ")"
	if c.Method != "" {
		s += " USING " + c.Method
	}
	if len(c.Include) > 0 {
		s += " INCLUDE (" + strings.Join(c.Include, ", ") + ")"
	}
	if c.Where != "" {
		s += " WHERE " + c.Where
	}
	return s
}

// ddl returns the CREATE INDEX statement, without CONCURRENTLY and name
// when name is "".
func (c *candidate) ddl(name string, concurrently bool) string {
	var b strings.Builder
	b.WriteString("CREATE INDEX ")
	if concurrently {
		b.WriteString("CONCURRENTLY ")
	}
	if name != "" {
		b.WriteString(quoteIdent(name))
		b.WriteByte(' ')
	}
	b.WriteString("ON ")
	b.WriteString(c.Table.qualified())
	if c.Method != "" {
		b.WriteString(" USING ")
		b.WriteString(c.Method)
	}
	b.WriteString(" (")
	b.WriteString(quotedList(c.Columns))
	b.WriteByte(')')
	if len(c.Include) > 0 {
		b.WriteString(" INCLUDE (")
		b.WriteString(quotedList(c.Include))
		b.WriteByte(')')
	}
	if c.Where != "" {
		b.WriteString(" WHERE ")
		b.WriteString(c.Where)
	}
	return b.String()
}

// quotedList is cols quoted as identifiers, comma-separated.
func quotedList(cols []string) string {
	q := make([]string, len(cols))
	for i, c := range cols {
		q[i] = quoteIdent(c)
	}
	return strings.Join(q, ", ")
}

// indexName is a readable name within PostgreSQL's 63 bytes, with a hash
// when the columns do not fit.
func indexName(c *candidate) string {
	parts := append([]string{c.Table.Name}, c.Columns...)
	if c.Method != "" {
		parts = append(parts, c.Method)
	}
	if len(c.Include) > 0 {
		parts = append(append(parts, "incl"), c.Include...)
	}
	if c.Where != "" {
		parts = append(parts, "where")
		for _, f := range strings.FieldsFunc(c.Where, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_')
		}) {
			parts = append(parts, strings.ToLower(f))
		}
	}
	name := strings.Join(parts, "_") + "_idx"
	if len(name) <= 63 {
		return name
	}
	h := fnv.New32a()
	h.Write([]byte(c.key))
	suffix := fmt.Sprintf("_%08x_idx", h.Sum32())
	return name[:63-len(suffix)] + suffix
}

// maxPartialDistinct is the most distinct values a column may have for
// col = constant to become a partial index predicate.
const maxPartialDistinct = 20

// usage is how one query uses one table's columns.
type usage struct {
	Eq, Range, Sort, Group []string
	Preds                  []predicate
	All                    map[string]bool
	// Reads are all the columns the query reads from the table, when it
	// is plain enough to know them (shape.Refs): what a covering index
	// must hold.
	Reads []string
}

// resolve maps a shape's column references onto the tables it reads.
func resolve(s *shape, lookup func(tableRef) *table) map[*table]*usage {
	byQual := map[string]*table{}
	var tabs []*table
	for _, tr := range s.Tables {
		t := lookup(tr)
		if t == nil {
			continue
		}
		tabs = append(tabs, t)
		byQual[strings.ToLower(tr.Name)] = t
		if tr.Schema != "" {
			byQual[strings.ToLower(tr.Schema+"."+tr.Name)] = t
		}
		if tr.Alias != "" {
			byQual[strings.ToLower(tr.Alias)] = t
		}
	}
	find := func(c colRef) *table {
		if c.Qual != "" {
			t := byQual[strings.ToLower(c.Qual)]
			if t != nil && t.Columns[c.Name] {
				return t
			}
			return nil
		}
		var found *table
		for _, t := range tabs {
			if t.Columns[c.Name] {
				if found != nil && found != t {
					return nil // ambiguous
				}
				found = t
			}
		}
		return found
	}
	out := map[*table]*usage{}
	get := func(t *table) *usage {
		u := out[t]
		if u == nil {
			u = &usage{All: map[string]bool{}}
			out[t] = u
		}
		return u
	}
	// Every table read has a usage, if an empty one: query advice looks at
	// the sizes of tables read without a filter too.
	for _, t := range tabs {
		get(t)
	}
	addAll := func(dst func(*usage) *[]string, cols []colRef) {
		for _, c := range cols {
			if t := find(c); t != nil {
				u := get(t)
				p := dst(u)
				if !contains(*p, c.Name) {
					*p = append(*p, c.Name)
				}
				u.All[c.Name] = true
			}
		}
	}
	addAll(func(u *usage) *[]string { return &u.Eq }, s.Eq)
	addAll(func(u *usage) *[]string { return &u.Eq }, s.Join)
	addAll(func(u *usage) *[]string { return &u.Range }, s.Range)
	// ORDER BY and GROUP BY help only when all their columns are on one
	// table.
	for _, list := range []struct {
		cols []colRef
		dst  func(*usage) *[]string
	}{{s.Sort, func(u *usage) *[]string { return &u.Sort }}, {s.Group, func(u *usage) *[]string { return &u.Group }}} {
		var t0 *table
		ok := len(list.cols) > 0
		for _, c := range list.cols {
			t := find(c)
			if t == nil || (t0 != nil && t != t0) {
				ok = false
				break
			}
			t0 = t
		}
		if ok {
			addAll(list.dst, list.cols)
		}
	}
	for _, p := range s.Preds {
		if t := find(p.Col); t != nil {
			u := get(t)
			u.Preds = append(u.Preds, p)
			u.All[p.Col.Name] = true
		}
	}
	// Every column must resolve for the reads to be known: one that does
	// not (an output alias, an ambiguous name) may be any table's.
	reads := map[*table][]string{}
	for _, c := range s.Refs {
		t := find(c)
		if t == nil {
			return out
		}
		if !contains(reads[t], c.Name) {
			reads[t] = append(reads[t], c.Name)
		}
	}
	for t, cols := range reads {
		if u := out[t]; u != nil {
			u.Reads = cols
		}
	}
	return out
}

// distinct returns cols without repeats, in order: a column twice in one
// index is never useful.
func distinct(cols []string) []string {
	out := make([]string, 0, len(cols))
	for _, c := range cols {
		if !contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

func allIn(xs, in []string) bool {
	for _, x := range xs {
		if !contains(in, x) {
			return false
		}
	}
	return true
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// Covering candidates: at most maxInclude columns beyond the key, for at
// most maxCovering of a query's key choices.
const (
	maxInclude  = 3
	maxCovering = 3
)

// candidatesFor proposes btree indexes for one query's use of one table:
// single columns, equality columns (most selective first), then one range
// or the sort columns, partial variants for constant predicates and, with
// covering, the same keys with the other columns the query reads included.
func candidatesFor(t *table, u *usage, maxCols int, partial, covering bool) []*candidate {
	var out []*candidate
	seen := map[string]bool{}
	add := func(cols []string, where string) {
		if len(cols) == 0 || len(cols) > maxCols {
			if len(cols) > maxCols {
				cols = cols[:maxCols]
			} else {
				return
			}
		}
		dedup := distinct(cols)
		k := t.qualified() + "(" + strings.Join(dedup, ",") + ")" + where
		if seen[k] {
			return
		}
		seen[k] = true
		out = append(out, &candidate{Table: t, Columns: dedup, Where: where, key: k})
	}
	eq := append([]string(nil), u.Eq...)
	sort.SliceStable(eq, func(i, j int) bool {
		di, dj := t.Distinct[eq[i]], t.Distinct[eq[j]]
		if di != dj {
			return di > dj
		}
		return eq[i] < eq[j]
	})
	var bases [][]string
	for _, c := range eq {
		bases = append(bases, []string{c})
	}
	for _, c := range u.Range {
		bases = append(bases, []string{c})
	}
	for k := 2; k <= len(eq) && k <= maxCols; k++ {
		bases = append(bases, eq[:k])
	}
	if len(eq) > 0 {
		head := eq[:min(len(eq), maxCols-1)]
		for _, r := range u.Range {
			if !contains(head, r) {
				bases = append(bases, append(append([]string(nil), head...), r))
			}
		}
		for _, r := range u.Range {
			// The best equality column alone with the range: narrower,
			// often as good.
			if !contains(eq[:1], r) {
				bases = append(bases, []string{eq[0], r})
			}
		}
	}
	if len(u.Sort) > 0 {
		bases = append(bases, u.Sort)
		if len(eq) > 0 {
			head := eq[:min(len(eq), maxCols-1)]
			bases = append(bases, append(append([]string(nil), head...), u.Sort...))
			if len(u.Sort) > 1 {
				// The equalities and the first sort column only: as good
				// when later columns hardly break ties or the sort mixes
				// directions (a plain index serves ORDER BY a DESC, b
				// only as far as a), and narrower.
				bases = append(bases, append(append([]string(nil), head...), u.Sort[0]))
			}
		}
	}
	if len(u.Group) > 0 {
		bases = append(bases, u.Group)
		if len(eq) > 0 {
			bases = append(bases, append(append([]string(nil), eq[:min(len(eq), maxCols-1)]...), u.Group...))
		}
	}
	for _, b := range bases {
		add(b, "")
	}
	if covering && len(u.Reads) > 0 {
		n := 0
		for _, b := range bases {
			b = distinct(b)
			if len(b) > maxCols {
				continue
			}
			var inc []string
			for _, c := range u.Reads {
				if !contains(b, c) {
					inc = append(inc, c)
				}
			}
			if len(inc) == 0 || len(inc) > maxInclude {
				continue
			}
			k := t.qualified() + "(" + strings.Join(b, ",") + ") INCLUDE (" + strings.Join(inc, ",") + ")"
			if seen[k] {
				continue
			}
			seen[k] = true
			out = append(out, &candidate{Table: t, Columns: b, Include: inc, key: k})
			if n++; n == maxCovering {
				break
			}
		}
	}
	for _, r := range u.Range {
		if brinPays(t, r) {
			k := t.qualified() + "(" + r + ") USING " + MethodBRIN
			if !seen[k] {
				seen[k] = true
				out = append(out, &candidate{Table: t, Columns: []string{r}, Method: MethodBRIN, key: k})
			}
		}
	}
	if partial {
		n := len(bases)
		for _, p := range u.Preds {
			if p.Literal {
				if d := t.Distinct[p.Col.Name]; d <= 0 || d > maxPartialDistinct {
					continue
				}
			}
			col := quoteIdent(p.Col.Name)
			where := p.SQL(col)
			for _, b := range bases[:n] {
				if contains(b, p.Col.Name) {
					continue
				}
				add(b, where)
			}
		}
	}
	return out
}

// A BRIN index is tried for a range column whose values follow the table's
// physical order closely (|correlation| ≥ brinMinCorrelation: appended
// timestamps, serial ids) on a table big enough (brinMinRows) to have many
// page ranges; below that each range summarises rows all over the table
// and the index excludes nothing.
const (
	brinMinCorrelation = 0.9
	brinMinRows        = 100_000
)

func brinPays(t *table, col string) bool {
	c, ok := t.Correlation[col]
	return ok && t.Rows >= brinMinRows && math.Abs(c) >= brinMinCorrelation
}

// servedBy reports whether an existing index makes the candidate useless:
// its columns start with the candidate's, and its predicate (if any) is
// the candidate's.
func servedBy(c *candidate, existing []pgIndex) bool {
	for _, x := range existing {
		// A B-tree serves a BRIN candidate on its leading columns as well:
		// the BRIN would only be a coarser copy. A BRIN serves only a BRIN.
		if !x.Valid || x.HasExpr || (x.AM != "btree" && x.AM != c.Method) || x.Schema != c.Table.Schema || x.Table != c.Table.Name {
			continue
		}
		if x.Where != "" && !strings.EqualFold(normalizePred(x.Where), normalizePred(c.Where)) {
			continue
		}
		if hasPrefix(x.Columns, c.Columns) && allIn(c.Include, x.Columns) {
			return true
		}
	}
	return false
}

func normalizePred(s string) string {
	s = strings.NewReplacer("(", "", ")", "", `"`, "", "::text", "").Replace(s)
	return strings.Join(strings.Fields(s), " ")
}
