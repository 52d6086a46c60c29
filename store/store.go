package store

import (
	"context"
	"errors"
	"time"

	"github.com/perfengine/perfengine/metrics"
)

// Errors returned by every backend.
var (
	ErrNotFound = errors.New("store: not found")
	ErrClosed   = errors.New("store: closed")
)

// Store is the persistence contract. Implementations are safe for concurrent
// use. A write that returned nil is durable: it survives the process being
// killed.
type Store interface {
	// WriteSamples appends raw samples, all or none. A sample without a
	// name or time, or with a NaN or infinite value, fails the batch with
	// ErrInvalid.
	WriteSamples(ctx context.Context, samples []metrics.Sample) error
	// QuerySamples returns the samples of one series name (any labels, or
	// exactly q.Labels when set) in [From, To), oldest first. Past the raw
	// retention it returns the 1-minute aggregates, with Value the mean.
	QuerySamples(ctx context.Context, q SampleQuery) ([]metrics.Sample, error)
	// Compact downsamples raw samples older than the raw retention into
	// 1-minute aggregates and deletes what is past each retention, as of now:
	// aggregates and alerts older than the aggregate retention. Actions and
	// baselines are kept.
	Compact(ctx context.Context, now time.Time) error

	// SaveAction inserts or replaces the action with the same ID.
	SaveAction(ctx context.Context, a Action) error
	// GetAction returns ErrNotFound for an unknown ID.
	GetAction(ctx context.Context, id string) (Action, error)
	// ListActions returns actions newest first, filtered by f.
	ListActions(ctx context.Context, f ActionFilter) ([]Action, error)

	// SaveBaseline inserts or replaces the baseline of (Version, Metric).
	SaveBaseline(ctx context.Context, b Baseline) error
	// Baselines returns every metric's baseline for a version; ErrNotFound
	// when there is none.
	Baselines(ctx context.Context, version string) ([]Baseline, error)
	// Versions lists the versions that have baselines, newest first.
	Versions(ctx context.Context) ([]string, error)

	// SaveAlert appends an alert, or replaces the one with the same ID (to
	// mark it resolved).
	SaveAlert(ctx context.Context, a Alert) error
	// ListAlerts returns alerts newest first, at most limit (0 means all).
	ListAlerts(ctx context.Context, limit int) ([]Alert, error)

	// PutState keeps a component's state under key (the alert
	// dispatcher's notification log and silences), replacing what was
	// there. Values are small: a component writes its whole state.
	PutState(ctx context.Context, key string, value []byte) error
	// GetState returns what PutState kept, or ErrNotFound.
	GetState(ctx context.Context, key string) ([]byte, error)

	Close() error
}

// Retention bounds how long samples are kept. Zero values mean the defaults.
type Retention struct {
	// Raw is how long raw samples are kept before they are folded into
	// 1-minute aggregates. Default 24h.
	Raw time.Duration `yaml:"raw" json:"raw"`
	// Aggregate is how long 1-minute aggregates are kept. Default 30 days.
	Aggregate time.Duration `yaml:"aggregate" json:"aggregate"`
}

// Default retentions.
const (
	DefaultRawRetention       = 24 * time.Hour
	DefaultAggregateRetention = 30 * 24 * time.Hour
)

// WithDefaults returns r with zero fields set to the defaults.
func (r Retention) WithDefaults() Retention {
	if r.Raw <= 0 {
		r.Raw = DefaultRawRetention
	}
	if r.Aggregate <= 0 {
		r.Aggregate = DefaultAggregateRetention
	}
	return r
}

// SampleQuery selects samples of one series.
type SampleQuery struct {
	Name   string
	Labels map[string]string // nil: any labels
	From   time.Time
	To     time.Time // zero: now
	Limit  int       // 0: no limit; otherwise the newest Limit, still oldest first
}

// Action states.
const (
	StatePending  = "pending"  // proposed, waiting for policy or approval
	StateApplied  = "applied"  //
	StateFailed   = "failed"   //
	StateUndone   = "undone"   //
	StateRejected = "rejected" // superseded or no longer relevant
)

// Action is the stored form of an engine action.
type Action struct {
	ID          string            `json:"id"`
	Module      string            `json:"module"`
	Kind        string            `json:"kind"`
	Target      string            `json:"target"`
	Description string            `json:"description"`
	Impact      string            `json:"impact,omitempty"`
	Risk        string            `json:"risk"`
	Undo        string            `json:"undo,omitempty"` // how to undo it, for people
	Params      map[string]string `json:"params,omitempty"`
	State       string            `json:"state"`
	Result      string            `json:"result,omitempty"`
	Error       string            `json:"error,omitempty"`
	CreatedAt   time.Time         `json:"created_at"`
	UpdatedAt   time.Time         `json:"updated_at"`
}

// ActionFilter selects actions. Zero fields match everything.
type ActionFilter struct {
	Module string
	State  string
	Since  time.Time // created at or after
	Limit  int       // 0: no limit; otherwise the newest Limit
}

// Baseline is one metric's reference sample for a release.
type Baseline struct {
	Version   string    `json:"version"`
	Metric    string    `json:"metric"`
	Values    []float64 `json:"values"`
	CreatedAt time.Time `json:"created_at"`
}

// Alert is a notification the engine raised.
type Alert struct {
	ID       string            `json:"id"`
	Time     time.Time         `json:"time"`
	Severity string            `json:"severity"` // info, warning, critical
	Source   string            `json:"source"`   // module or "engine"
	Title    string            `json:"title"`
	Detail   string            `json:"detail,omitempty"`
	Labels   map[string]string `json:"labels,omitempty"`
	Resolved bool              `json:"resolved"`
}
