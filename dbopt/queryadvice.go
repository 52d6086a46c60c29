package dbopt

import (
	"fmt"
	"sort"
)

// QueryIssue is a statement in the workload whose shape costs more than an
// index can save: what it does, the evidence and the fix.
type QueryIssue struct {
	Kind     string `json:"kind"` // an Issue* constant
	Query    string `json:"query"`
	Table    string `json:"table"`
	Evidence string `json:"evidence"`
	Fix      string `json:"fix"`
	Calls    int64  `json:"calls,omitempty"`
}

// Kinds of QueryIssue.
const (
	// IssueOffsetPagination: a page read by OFFSET deep into a big table
	// reads and throws away every row before it, so page n costs n pages.
	IssueOffsetPagination = "offset_pagination"
	// IssueUnbounded: a SELECT without LIMIT or WHERE on a big table
	// returns all of it, and more every day.
	IssueUnbounded = "unbounded_select"
	// IssueSelectStar: SELECT * on wide rows ships every column, wide text
	// included, to a caller that seldom reads them all.
	IssueSelectStar = "select_star_wide"
	// IssuePreparedPerCall: a statement prepared about as often as it runs
	// pays a parse and a round trip each time for a plan it never reuses.
	IssuePreparedPerCall = "prepared_per_call"
)

// A statement is prepared per call from minPrepares preparations, when it
// runs fewer than twice per preparation.
const minPrepares = 100

// Thresholds of query advice: a table is big from bigTableRows rows, an
// OFFSET deep from deepOffset rows, a row wide from wideRowBytes average
// bytes (pg_stats widths) or wideRowColumns columns.
const (
	bigTableRows   = 10_000
	deepOffset     = 1_000
	wideRowBytes   = 500
	wideRowColumns = 30
)

// queryIssues looks at each analysed statement's shape against the sizes
// of the tables it reads. Only the statement's own table counts: for a
// join the issue is named on the biggest table it reads.
func queryIssues(qs []*wq) []QueryIssue {
	var out []QueryIssue
	for _, q := range qs {
		if q.Prepares >= minPrepares && q.Calls < 2*q.Prepares {
			out = append(out, QueryIssue{Kind: IssuePreparedPerCall, Query: Abbrev(q.SQL, 300), Calls: q.Calls,
				Evidence: fmt.Sprintf("prepared %d times for %d executions", q.Prepares, q.Calls),
				Fix:      "prepare it once and reuse the statement, or run it as a plain query"})
		}
		s := q.shape
		var big *table
		for t := range q.uses {
			if big == nil || t.Rows > big.Rows {
				big = t
			}
		}
		if s == nil || !s.Select || big == nil || big.Rows < bigTableRows {
			continue
		}
		add := func(kind, evidence, fix string) {
			out = append(out, QueryIssue{Kind: kind, Query: Abbrev(q.SQL, 300), Table: big.display(), Evidence: evidence, Fix: fix, Calls: q.Calls})
		}
		switch {
		case s.Offset >= deepOffset:
			add(IssueOffsetPagination,
				fmt.Sprintf("OFFSET %d on %s (%.0f rows): the page reads and discards %d rows first", s.Offset, big.display(), big.Rows, s.Offset),
				"paginate by key: WHERE (sort columns) > (last row's) ORDER BY them LIMIT n")
		case s.Offset == offsetParam:
			add(IssueOffsetPagination,
				fmt.Sprintf("OFFSET by parameter on %s (%.0f rows): each page costs the rows of all the pages before it", big.display(), big.Rows),
				"paginate by key: WHERE (sort columns) > (last row's) ORDER BY them LIMIT n")
		}
		if !s.Limited && !s.Filtered && !s.Aggregated {
			add(IssueUnbounded,
				fmt.Sprintf("no WHERE and no LIMIT on %s: every call returns all %.0f rows", big.display(), big.Rows),
				"filter, or page the rows with LIMIT")
		}
		if s.Star {
			width := 0.0
			for _, w := range big.Width {
				width += w
			}
			if width >= wideRowBytes || len(big.Columns) >= wideRowColumns {
				add(IssueSelectStar,
					fmt.Sprintf("SELECT * on %s: %d columns, %.0f bytes a row on average", big.display(), len(big.Columns), width),
					"name the columns the caller uses")
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Calls > out[j].Calls })
	return out
}
