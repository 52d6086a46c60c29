package dbopt

import (
	"errors"
	"fmt"
	"io"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// Limits of ReadQueries. A workload file larger than MaxQueryFileBytes is
// refused; a single statement longer than MaxQueryBytes is skipped.
const (
	MaxQueryFileBytes = 64 << 20
	MaxQueryBytes     = 1 << 20
)

var errNotSelect = errors.New("not a SELECT, UPDATE or DELETE")

// Query is one statement of a workload with how often and how long it ran.
// Calls and MeanMs are zero when unknown (a query file); the advisor then
// weighs queries by their planner cost.
type Query struct {
	SQL    string  `json:"query"`
	Calls  int64   `json:"calls,omitempty"`
	MeanMs float64 `json:"mean_ms,omitempty"`
}

// Skipped is an item the optimizer left out, with the reason.
type Skipped struct {
	Query  string `json:"query"`
	Reason string `json:"reason"`
}

// ReadQueries reads a workload file: SQL statements separated by
// semicolons, with comments, quoted strings and dollar quoting as
// PostgreSQL has them. Identical statements are merged and counted as
// calls. Statements that do not parse, or are not queries an index can
// help, come back in skipped with their reason; only an unreadable file is
// an error.
func ReadQueries(r io.Reader) (queries []Query, skipped []Skipped, err error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxQueryFileBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("read queries: %w", err)
	}
	if len(data) > MaxQueryFileBytes {
		return nil, nil, fmt.Errorf("read queries: file larger than %d MiB", MaxQueryFileBytes>>20)
	}
	if strings.IndexByte(string(data), 0) >= 0 {
		return nil, nil, errors.New("read queries: file contains NUL bytes; want SQL text")
	}
	stmts, err := pg_query.SplitWithScanner(string(data), true)
	if err != nil {
		// An unterminated quote or comment stops the scanner; statements
		// that end a line with a semicolon can still be told apart.
		stmts = strings.Split(string(data), ";\n")
	}
	index := map[string]int{}
	for _, st := range stmts {
		st = stripLeadingComments(st)
		if st == "" {
			continue
		}
		if len(st) > MaxQueryBytes {
			skipped = append(skipped, Skipped{Query: Abbrev(st, 80), Reason: fmt.Sprintf("longer than %d KiB", MaxQueryBytes>>10)})
			continue
		}
		if _, err := parseShape(st); err != nil {
			skipped = append(skipped, Skipped{Query: Abbrev(st, 80), Reason: err.Error()})
			continue
		}
		if i, ok := index[st]; ok {
			queries[i].Calls++
			continue
		}
		index[st] = len(queries)
		queries = append(queries, Query{SQL: st, Calls: 1})
	}
	return queries, skipped, nil
}

// stripLeadingComments drops comments before a statement, so that the
// same statement under different comments counts as one.
func stripLeadingComments(s string) string {
	for {
		s = strings.TrimSpace(s)
		switch {
		case strings.HasPrefix(s, "--"):
			i := strings.IndexByte(s, '\n')
			if i < 0 {
				return ""
			}
			s = s[i+1:]
		case strings.HasPrefix(s, "/*"):
			i := strings.Index(s, "*/")
			if i < 0 {
				return ""
			}
			s = s[i+2:]
		default:
			return strings.TrimSuffix(s, ";")
		}
	}
}

// Abbrev shortens s to at most n runes on one line, for reports.
func Abbrev(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
