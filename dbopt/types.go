package dbopt

import (
	"time"
)

// Default thresholds. Those marked PgHero are PgHero's defaults.
const (
	DefaultLongRunningQuery    = 60 * time.Second // PgHero
	DefaultSlowQueryMs         = 20.0             // PgHero, mean milliseconds
	DefaultSlowQueryCalls      = 100              // PgHero
	DefaultCacheHitRate        = 0.99             // PgHero
	DefaultTotalConnections    = 500              // PgHero
	DefaultConnectionsFraction = 0.80             // of max_connections
	DefaultIdleInTransaction   = 60 * time.Second // as long-running queries
	DefaultTransactionIDDanger = 10_000_000       // PgHero, XIDs left
	DefaultSequenceDanger      = 0.90             // PgHero, fraction used
	DefaultUnusedIndexScans    = 50               // PgHero, max scans
	DefaultMissingIndexRows    = 10_000           // PgHero, estimated rows
	DefaultMissingIndexPercent = 95.0             // PgHero, % of scans by index
	DefaultBloatBytes          = 100 << 20        // PgHero, index bloat
	DefaultDeadTupleFraction   = 0.10             // dead / live
	DefaultDeadTupleMin        = 1000             // ignore small tables
	DefaultReplicationLag      = 5 * time.Second
)

// Thresholds of the health checks. The zero value of a field means its
// default; a negative value disables the check where that makes sense.
type Thresholds struct {
	LongRunningQuery    time.Duration `json:"long_running_query"`
	SlowQueryMs         float64       `json:"slow_query_ms"`
	SlowQueryCalls      int64         `json:"slow_query_calls"`
	CacheHitRate        float64       `json:"cache_hit_rate"`
	TotalConnections    int64         `json:"total_connections"`
	ConnectionsFraction float64       `json:"connections_fraction"`
	IdleInTransaction   time.Duration `json:"idle_in_transaction"`
	TransactionIDDanger int64         `json:"transaction_id_danger"`
	SequenceDanger      float64       `json:"sequence_danger"`
	UnusedIndexScans    int64         `json:"unused_index_scans"`
	MissingIndexRows    int64         `json:"missing_index_rows"`
	MissingIndexPercent float64       `json:"missing_index_percent"`
	BloatBytes          int64         `json:"bloat_bytes"`
	DeadTupleFraction   float64       `json:"dead_tuple_fraction"`
	DeadTupleMin        int64         `json:"dead_tuple_min"`
	ReplicationLag      time.Duration `json:"replication_lag"`
}

func (t Thresholds) withDefaults() Thresholds {
	def := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	defi := func(v *int64, d int64) {
		if *v == 0 {
			*v = d
		}
	}
	defd := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	defd(&t.LongRunningQuery, DefaultLongRunningQuery)
	def(&t.SlowQueryMs, DefaultSlowQueryMs)
	defi(&t.SlowQueryCalls, DefaultSlowQueryCalls)
	def(&t.CacheHitRate, DefaultCacheHitRate)
	defi(&t.TotalConnections, DefaultTotalConnections)
	def(&t.ConnectionsFraction, DefaultConnectionsFraction)
	defd(&t.IdleInTransaction, DefaultIdleInTransaction)
	defi(&t.TransactionIDDanger, DefaultTransactionIDDanger)
	def(&t.SequenceDanger, DefaultSequenceDanger)
	defi(&t.UnusedIndexScans, DefaultUnusedIndexScans)
	defi(&t.MissingIndexRows, DefaultMissingIndexRows)
	def(&t.MissingIndexPercent, DefaultMissingIndexPercent)
	defi(&t.BloatBytes, DefaultBloatBytes)
	def(&t.DeadTupleFraction, DefaultDeadTupleFraction)
	defi(&t.DeadTupleMin, DefaultDeadTupleMin)
	defd(&t.ReplicationLag, DefaultReplicationLag)
	return t
}

// Check statuses.
const (
	StatusOK       = "ok"
	StatusWarning  = "warning"
	StatusCritical = "critical"
	StatusSkipped  = "skipped"
)

// Report is a database's health: one Check per PgHero-style check.
type Report struct {
	Kind     string    `json:"kind"`
	Database string    `json:"database"`
	Version  string    `json:"version,omitempty"`
	ReadOnly bool      `json:"read_only,omitempty"`
	Time     time.Time `json:"time"`
	// Status is the worst status of the checks that ran.
	Status string  `json:"status"`
	Checks []Check `json:"checks"`
}

// Check is one health check's verdict and the objects it flagged.
type Check struct {
	Name    string      `json:"name"`
	Status  string      `json:"status"`
	Summary string      `json:"summary"`
	Items   []CheckItem `json:"items,omitempty"`
}

// CheckItem is one flagged object: a table, an index, a query, a session.
type CheckItem struct {
	Object string  `json:"object"`
	Detail string  `json:"detail"`
	Value  float64 `json:"value"`
	// Fix is a statement or step that addresses it, where there is one.
	Fix string `json:"fix,omitempty"`
}

func (r *Report) finish() {
	r.Status = StatusOK
	for _, c := range r.Checks {
		switch c.Status {
		case StatusCritical:
			r.Status = StatusCritical
		case StatusWarning:
			if r.Status == StatusOK {
				r.Status = StatusWarning
			}
		}
	}
}

// Check returns the named check, or nil.
func (r *Report) Check(name string) *Check {
	for i := range r.Checks {
		if r.Checks[i].Name == name {
			return &r.Checks[i]
		}
	}
	return nil
}

// QueryStat is a statement's timing.
type QueryStat struct {
	Query   string  `json:"query"`
	Calls   int64   `json:"calls"`
	TotalMs float64 `json:"total_ms"`
	MeanMs  float64 `json:"mean_ms"`
	P95Ms   float64 `json:"p95_ms,omitempty"`
	Rows    int64   `json:"rows,omitempty"`
	// Source is "pg_stat_statements" or "application".
	Source string `json:"source"`
}

// QueryAdvice is a slow query with the index statements that speed it up.
type QueryAdvice struct {
	QueryStat
	Suggestions []string `json:"suggestions,omitempty"`
	Note        string   `json:"note,omitempty"`
}

// Advisor defaults.
const (
	// DefaultMinSavings is the least fraction of the affected queries'
	// weighted cost an index must save, on a table without writes.
	DefaultMinSavings = 0.20
	// DefaultMinWorkloadShare is the least fraction of the workload's
	// weighted cost, as it stands with the indexes picked before, that an
	// index must save, so an index is never built for a query that hardly
	// matters.
	DefaultMinWorkloadShare = 0.005
	// DefaultMaxColumns bounds the columns of a candidate index.
	DefaultMaxColumns = 3
	// DefaultMaxIndexes bounds the suggestions of one run; the size budget
	// and the savings bars usually stop it first.
	DefaultMaxIndexes = 50
	// DefaultExplainTimeout bounds one EXPLAIN (PgHero's explain timeout).
	DefaultExplainTimeout = 10 * time.Second
)

// AdviseOptions tune the advisor. The zero value means the defaults.
type AdviseOptions struct {
	// Budget caps the total size of suggested indexes in bytes; 0: none.
	Budget int64
	// MinSavings: see DefaultMinSavings. Tables with heavy writes need
	// proportionally more: the bar is MinSavings × (1 + write share), where
	// the write share is rows written / (rows written + scans) since the
	// statistics were reset.
	MinSavings float64
	// MinWorkloadShare: see DefaultMinWorkloadShare.
	MinWorkloadShare float64
	// MaxColumns: see DefaultMaxColumns.
	MaxColumns int
	// MaxIndexes: see DefaultMaxIndexes.
	MaxIndexes int
	// ExplainTimeout: see DefaultExplainTimeout.
	ExplainTimeout time.Duration
	// NoPartial turns off partial index candidates.
	NoPartial bool
	// Covering adds covering candidates on PostgreSQL 11 and later: the
	// same keys with the other columns a plain SELECT reads in INCLUDE.
	// They are off by default: on the TPC-H-like workloads of bench/db
	// they cut one workload's cost to a quarter but took 1.6 times the
	// bytes, and raised the other's cost by 9 %, the wider indexes
	// winning rounds by a little saving for a lot of space.
	Covering bool
}

func (a AdviseOptions) withDefaults() AdviseOptions {
	if a.MinSavings == 0 {
		a.MinSavings = DefaultMinSavings
	}
	if a.MinWorkloadShare == 0 {
		a.MinWorkloadShare = DefaultMinWorkloadShare
	}
	if a.MaxColumns == 0 {
		a.MaxColumns = DefaultMaxColumns
	}
	if a.MaxIndexes == 0 {
		a.MaxIndexes = DefaultMaxIndexes
	}
	if a.ExplainTimeout == 0 {
		a.ExplainTimeout = DefaultExplainTimeout
	}
	return a
}

// Advice is the advisor's answer. Its JSON is the shape of
// `perfengine db advise --json`.
type Advice struct {
	Suggestions []Suggestion `json:"suggestions"`
	// Skipped queries, each with why.
	Skipped []Skipped `json:"skipped,omitempty"`
	// Analyzed is how many queries were costed.
	Analyzed int `json:"analyzed"`
	// CostBefore and CostAfter are the workload's summed planner cost
	// (weighted by calls) without and with every suggestion.
	CostBefore float64       `json:"workload_cost_before"`
	CostAfter  float64       `json:"workload_cost_after"`
	Elapsed    time.Duration `json:"elapsed_ns"`
	// QueryIssues are statements whose shape costs more than an index can
	// save (deep OFFSET pages, unbounded reads of big tables, SELECT * on
	// wide rows), busiest first.
	QueryIssues []QueryIssue `json:"query_issues,omitempty"`
}

// Suggestion is one index to build, the queries it speeds up and by how
// much. CostBefore and CostAfter are planner costs of those queries
// (PostgreSQL), or rows visited (SQLite), with the suggestions ranked
// above this one already in place.
type Suggestion struct {
	Table   string   `json:"table"`
	Columns []string `json:"columns"`
	Where   string   `json:"where,omitempty"`
	// Method is "" for a B-tree, or "brin" (MethodBRIN) for a block-range
	// index on a column stored in the order of its values.
	Method string `json:"method,omitempty"`
	// Include are the non-key columns stored in the index (INCLUDE), for
	// queries it then answers from the index alone.
	Include    []string `json:"include,omitempty"`
	Statement  string   `json:"statement"`
	CostBefore float64  `json:"cost_before"`
	CostAfter  float64  `json:"cost_after"`
	SavingsPct float64  `json:"savings_pct"`
	SizeBytes  int64    `json:"size_bytes"`
	Queries    []string `json:"queries"`
	// PerQuery has each query's own cost before and after.
	PerQuery []QuerySaving `json:"per_query,omitempty"`
	// Name the index will have.
	Name string `json:"name"`
}

// QuerySaving is one query's estimated cost before and after an index.
type QuerySaving struct {
	Query      string  `json:"query"`
	CostBefore float64 `json:"cost_before"`
	CostAfter  float64 `json:"cost_after"`
}

// Applied is what AddIndex did.
type Applied struct {
	Name      string `json:"name"`
	Statement string `json:"statement"`
	SizeBytes int64  `json:"size_bytes"`
	// Used lists the queries whose plan now uses the index; Plan is the
	// first such plan, as EXPLAIN printed it.
	Used     []string      `json:"used_by"`
	Plan     string        `json:"plan,omitempty"`
	Duration time.Duration `json:"duration_ns"`
	Undo     string        `json:"undo"`
}
