package dbopt

import (
	"errors"
	"fmt"
	"io"
	"strings"
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
	// Prepares counts the statement's preparations, where the workload
	// knows them (querytrace); 0 otherwise.
	Prepares int64 `json:"prepares,omitempty"`
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
	stmts := splitSQL(string(data))
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
			// SQLite's ? placeholders are not PostgreSQL syntax; the
			// statement may still be fine for a SQLite database.
			if _, err2 := parseShape(toPgParams(st)); err2 != nil || !strings.Contains(st, "?") {
				skipped = append(skipped, Skipped{Query: Abbrev(st, 80), Reason: err.Error()})
				continue
			}
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

// splitSQL splits on semicolons outside quotes ('…', "…", $tag$…$tag$)
// and comments (-- and nested /* */). libpg_query's scanner split drops
// statements it cannot tokenize, which would hide a syntax error instead
// of reporting it. An unterminated quote or comment runs to the end.
func splitSQL(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\'' || c == '"':
			for i++; i < len(s); i++ {
				if s[i] == c {
					if i+1 < len(s) && s[i+1] == c { // doubled quote
						i++
						continue
					}
					break
				}
			}
		case c == '-' && i+1 < len(s) && s[i+1] == '-':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			depth := 0
			for ; i+1 < len(s); i++ {
				if s[i] == '/' && s[i+1] == '*' {
					depth++
					i++
				} else if s[i] == '*' && s[i+1] == '/' {
					depth--
					i++
					if depth == 0 {
						break
					}
				}
			}
			if depth > 0 {
				i = len(s)
			}
		case c == '$':
			// $tag$ opens a dollar quote; $1 is a parameter.
			j := i + 1
			for j < len(s) && (s[j] == '_' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || j > i+1 && s[j] >= '0' && s[j] <= '9') {
				j++
			}
			if j < len(s) && s[j] == '$' {
				tag := s[i : j+1]
				if k := strings.Index(s[j+1:], tag); k >= 0 {
					i = j + k + len(tag)
				} else {
					i = len(s)
				}
			}
		case c == ';':
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
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
