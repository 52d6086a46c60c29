package querytrace

import (
	"sort"
	"sync"
	"time"
)

// DefaultMaxStatements bounds the distinct statements a Recorder keeps;
// statements past it are counted under OtherStatements. Applications that
// inline literals into SQL would otherwise grow it without limit.
const DefaultMaxStatements = 1000

// OtherStatements is the key under which statements past the limit are
// counted.
const OtherStatements = "(other statements)"

// maxArgBytes bounds the sample arguments kept per statement; larger ones
// are not kept.
const maxArgBytes = 256

// Recorder keeps a latency histogram per SQL statement. The zero value is
// not usable; use NewRecorder. It is safe for concurrent use.
type Recorder struct {
	max int
	mu  sync.Mutex
	m   map[string]*entry
	// ignore, when set, names statements not to record; skipped remembers
	// its verdicts (up to max), so it runs once per distinct statement.
	ignore  func(query string) bool
	skipped map[string]struct{}
}

type entry struct {
	h        histogram // microseconds
	calls    int64
	errors   int64
	prepares int64
	total    time.Duration
	args     []any
}

// NewRecorder returns a recorder keeping at most maxStatements distinct
// statements (0: DefaultMaxStatements).
func NewRecorder(maxStatements int) *Recorder {
	if maxStatements <= 0 {
		maxStatements = DefaultMaxStatements
	}
	return &Recorder{max: maxStatements, m: make(map[string]*entry)}
}

// Record adds one execution of sql that took d. args, when small scalars,
// are kept as the statement's sample arguments so an advisor can time the
// statement before and after an index; they never leave the process.
func (r *Recorder) Record(sql string, d time.Duration, err error, args []any) {
	us := d.Microseconds()
	r.mu.Lock()
	e, sql := r.entry(sql)
	if e == nil {
		r.mu.Unlock()
		return
	}
	e.h.record(us)
	e.calls++
	e.total += d
	if err != nil {
		e.errors++
	}
	if e.args == nil && len(args) > 0 && sql != OtherStatements {
		e.args = keepArgs(args)
	}
	r.mu.Unlock()
}

// RecordPrepare counts one preparation of sql. A statement prepared about
// as often as it runs is prepared per call: a round trip and a parse each
// time that a statement prepared once, or a plain query, would not pay.
func (r *Recorder) RecordPrepare(sql string) {
	r.mu.Lock()
	if e, _ := r.entry(sql); e != nil {
		e.prepares++
	}
	r.mu.Unlock()
}

// entry returns sql's entry, made on first sight, or OtherStatements' once
// the recorder is full; nil when sql is ignored. r.mu is held.
func (r *Recorder) entry(sql string) (*entry, string) {
	e := r.m[sql]
	if e == nil && r.ignored(sql) {
		return nil, sql
	}
	if e == nil {
		if len(r.m) >= r.max {
			sql = OtherStatements
			e = r.m[sql]
		}
		if e == nil {
			// A log-bucket histogram of a few hundred bytes (see
			// histogram), so DefaultMaxStatements costs well under a MB.
			e = &entry{}
			r.m[sql] = e
		}
	}
	return e, sql
}

// Ignore makes the recorder skip the statements f reports from now on, for
// example a monitoring tool's own queries passing through the application's
// instrumented handle. f runs once per distinct statement, under the
// recorder's lock; statements recorded before are kept.
func (r *Recorder) Ignore(f func(query string) bool) {
	r.mu.Lock()
	r.ignore, r.skipped = f, make(map[string]struct{})
	r.mu.Unlock()
}

// ignored reports whether sql, a statement not recorded yet, is skipped.
// r.mu is held.
func (r *Recorder) ignored(sql string) bool {
	if r.ignore == nil {
		return false
	}
	if _, ok := r.skipped[sql]; ok {
		return true
	}
	if !r.ignore(sql) {
		return false
	}
	if len(r.skipped) < r.max {
		r.skipped[sql] = struct{}{}
	}
	return true
}

func keepArgs(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case nil, bool, int, int32, int64, uint32, uint64, float32, float64, time.Time:
			out[i] = v
		case string:
			if len(v) > maxArgBytes {
				return []any{}
			}
			out[i] = v
		case []byte:
			if len(v) > maxArgBytes {
				return []any{}
			}
			out[i] = append([]byte(nil), v...)
		default:
			return []any{}
		}
	}
	return out
}

// Stat is one statement's figures.
type Stat struct {
	Query  string `json:"query"`
	Calls  int64  `json:"calls"`
	Errors int64  `json:"errors"`
	// Prepares counts the statement's preparations (Prepare through the
	// instrumented handle), beside its Calls.
	Prepares int64   `json:"prepares,omitempty"`
	TotalMs  float64 `json:"total_ms"`
	MeanMs   float64 `json:"mean_ms"`
	P50Ms    float64 `json:"p50_ms"`
	P95Ms    float64 `json:"p95_ms"`
	P99Ms    float64 `json:"p99_ms"`
	MaxMs    float64 `json:"max_ms"`
	// Args are the arguments of one execution, kept in memory only.
	Args []any `json:"-"`
}

// Snapshot returns every statement's figures, largest total time first.
func (r *Recorder) Snapshot() []Stat {
	r.mu.Lock()
	out := make([]Stat, 0, len(r.m))
	for q, e := range r.m {
		out = append(out, Stat{
			Query:    q,
			Calls:    e.calls,
			Errors:   e.errors,
			Prepares: e.prepares,
			TotalMs:  ms(e.total),
			MeanMs:   ms(e.total) / float64(e.calls),
			P50Ms:    float64(e.h.quantile(0.50)) / 1000,
			P95Ms:    float64(e.h.quantile(0.95)) / 1000,
			P99Ms:    float64(e.h.quantile(0.99)) / 1000,
			MaxMs:    float64(e.h.max) / 1000,
			Args:     e.args,
		})
	}
	r.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].TotalMs != out[j].TotalMs {
			return out[i].TotalMs > out[j].TotalMs
		}
		return out[i].Query < out[j].Query
	})
	return out
}

// Reset forgets everything recorded.
func (r *Recorder) Reset() {
	r.mu.Lock()
	clear(r.m)
	r.mu.Unlock()
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
