package querytrace

import (
	"context"
	"database/sql/driver"
	"fmt"
	"hash/maphash"
	"net/http"
	"sort"
	"sync"
	"time"
)

// N+1 detection defaults.
const (
	// DefaultNPlusOneMin is the least executions of one statement within one
	// request, with different arguments, that count as an N+1 pattern.
	DefaultNPlusOneMin = 10
	// DefaultMaxPatterns bounds the (route, statement) pairs a Requests
	// keeps.
	DefaultMaxPatterns = 200
	// maxPerRequest bounds the distinct statements one request tracks, so
	// a request that inlines literals into SQL cannot grow without limit.
	maxPerRequest = 256
	// maxArgSets bounds the distinct argument sets counted per statement
	// per request; past it the count is exact enough to call it N+1.
	maxArgSets = 64
)

// Requests groups an application's statements by the request that ran
// them and finds N+1 patterns: one statement shape executed many times in
// one request with different arguments (a loop issuing a query per row of
// an earlier result). Its zero value is not usable; use NewRequests. It is
// safe for concurrent use.
type Requests struct {
	min  int
	max  int
	seed maphash.Seed

	mu       sync.Mutex
	patterns map[patternKey]*Pattern
	requests int64
}

type patternKey struct{ route, query string }

// Pattern is an N+1 pattern: the route, the statement, and the evidence.
type Pattern struct {
	Route string `json:"route"`
	Query string `json:"query"`
	// Requests is how many requests of the route showed the pattern.
	Requests int64 `json:"requests"`
	// MaxPerRequest and MeanPerRequest are the statement's executions per
	// affected request; DistinctArgs is the most distinct argument sets
	// seen in one request (capped at 64).
	MaxPerRequest  int     `json:"max_per_request"`
	MeanPerRequest float64 `json:"mean_per_request"`
	DistinctArgs   int     `json:"distinct_args"`
	// Example holds one request's arguments, kept in memory only.
	Example  []any     `json:"-"`
	LastSeen time.Time `json:"last_seen"`
	total    int64
}

// NewRequests returns a grouping that reports a statement run at least
// min times with different arguments in one request (0:
// DefaultNPlusOneMin).
func NewRequests(minPerRequest int) *Requests {
	if minPerRequest <= 0 {
		minPerRequest = DefaultNPlusOneMin
	}
	return &Requests{min: minPerRequest, max: DefaultMaxPatterns, seed: maphash.MakeSeed(), patterns: map[patternKey]*Pattern{}}
}

// request is one request's statements, carried in its context.
type request struct {
	reqs  *Requests
	route string
	mu    sync.Mutex
	stmts map[string]*stmtCount
}

type stmtCount struct {
	n    int
	args map[uint64]struct{}
	ex   []any
}

type requestKey struct{}

// Begin returns a context that groups the statements run with it under
// route until End. Routes should be patterns ("GET /api/items/{id}"), not
// raw URLs, so their number stays bounded.
func (q *Requests) Begin(ctx context.Context, route string) (context.Context, func()) {
	r := &request{reqs: q, route: route, stmts: map[string]*stmtCount{}}
	return context.WithValue(ctx, requestKey{}, r), func() { q.end(r, time.Now()) }
}

// Middleware groups each request's statements under its ServeMux pattern
// (r.Pattern, known once the mux has routed it), or under the method and
// "(unrouted)" when there is none. Handlers must pass r.Context() to their
// queries.
func (q *Requests) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r := &request{reqs: q, stmts: map[string]*stmtCount{}}
		req = req.WithContext(context.WithValue(req.Context(), requestKey{}, r))
		next.ServeHTTP(w, req)
		r.mu.Lock()
		r.route = req.Pattern
		if r.route == "" {
			r.route = req.Method + " (unrouted)"
		}
		r.mu.Unlock()
		q.end(r, time.Now())
	})
}

// noteRequest counts one execution of sql in the request ctx carries, if
// any. The adapters call it as a statement starts.
func noteRequest(ctx context.Context, sql string, args []any) {
	r, _ := ctx.Value(requestKey{}).(*request)
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stmts == nil { // the request has ended
		return
	}
	s := r.stmts[sql]
	if s == nil {
		if len(r.stmts) >= maxPerRequest {
			return
		}
		s = &stmtCount{args: map[uint64]struct{}{}}
		r.stmts[sql] = s
	}
	s.n++
	if len(s.args) < maxArgSets {
		s.args[hashArgs(r.reqs.seed, args)] = struct{}{}
	}
	if s.ex == nil && len(args) > 0 {
		s.ex = keepArgs(args)
	}
}

func hashArgs(seed maphash.Seed, args []any) uint64 {
	var h maphash.Hash
	h.SetSeed(seed)
	for _, a := range args {
		fmt.Fprintf(&h, "%T:%v\x00", a, a)
	}
	return h.Sum64()
}

func (q *Requests) end(r *request, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	q.mu.Lock()
	defer q.mu.Unlock()
	q.requests++
	for sql, s := range r.stmts {
		// The same arguments every time is a retry or a cache miss, not
		// a query per row.
		if s.n < q.min || len(s.args) < 2 {
			continue
		}
		k := patternKey{r.route, sql}
		p := q.patterns[k]
		if p == nil {
			if len(q.patterns) >= q.max {
				continue
			}
			p = &Pattern{Route: r.route, Query: sql}
			q.patterns[k] = p
		}
		p.Requests++
		p.total += int64(s.n)
		p.MaxPerRequest = max(p.MaxPerRequest, s.n)
		p.DistinctArgs = max(p.DistinctArgs, len(s.args))
		p.MeanPerRequest = float64(p.total) / float64(p.Requests)
		p.LastSeen = now
		if s.ex != nil {
			p.Example = s.ex
		}
	}
	r.stmts = nil
}

// Patterns returns the N+1 patterns seen so far, most executions first.
func (q *Requests) Patterns() []Pattern {
	q.mu.Lock()
	out := make([]Pattern, 0, len(q.patterns))
	for _, p := range q.patterns {
		out = append(out, *p)
	}
	q.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].total != out[j].total {
			return out[i].total > out[j].total
		}
		return out[i].Route+out[i].Query < out[j].Route+out[j].Query
	})
	return out
}

// Seen is how many requests ended since NewRequests.
func (q *Requests) Seen() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.requests
}

// noteNamed is noteRequest for database/sql's arguments; it allocates
// only inside a grouped request.
func noteNamed(ctx context.Context, sql string, args []driver.NamedValue) {
	if ctx.Value(requestKey{}) == nil {
		return
	}
	vals := make([]any, len(args))
	for i, a := range args {
		vals[i] = a.Value
	}
	noteRequest(ctx, sql, vals)
}
