package perfengine

import (
	"context"
	"time"

	"github.com/perfengine/perfengine/metrics"
	"github.com/perfengine/perfengine/store"
)

// Module is one layer the engine watches and optimizes. Each optimizer
// package stands alone; the root package adapts it to this interface.
//
// The engine calls Collect every monitoring interval with a per-module
// timeout, and Recommend after thresholds are evaluated. A module that
// panics or errors is reported and retried with backoff; it never stops the
// engine. Implementations must be safe for concurrent use.
type Module interface {
	Name() string
	Collect(ctx context.Context) ([]metrics.Sample, error)
	Recommend(ctx context.Context, snap Snapshot) ([]Action, error)
	Apply(ctx context.Context, a Action) (Result, error)
}

// Undoer is implemented by modules whose applied actions can be reverted.
type Undoer interface {
	Undo(ctx context.Context, a Action) error
}

// Reporter is implemented by modules with findings that are not actions: a
// leak, a slow query, a regression. They appear in Summary and feed alerts.
type Reporter interface {
	Findings() []Finding
}

// Starter is implemented by modules with background work of their own. The
// engine calls Start when it starts and Stop when it stops. The context of
// Start bounds the start itself, not the background work, which runs until
// Stop; Stop waits for it within its context.
type Starter interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
}

// StatusListener is implemented by modules that react to the engine's status,
// for example a rate limiter that tightens while the service is critical.
type StatusListener interface {
	StatusChanged(s Status)
}

// Risk grades how much an action can hurt if it is wrong.
type Risk string

// Risks, from least to most dangerous. With AutoOptimize the engine applies
// safe actions; AggressiveMode adds moderate ones; risky ones (schema
// changes, rollbacks, scaling past limits) need configuration or approval.
const (
	RiskSafe     Risk = "safe"
	RiskModerate Risk = "moderate"
	RiskRisky    Risk = "risky"
)

// ActionState is where an action is in its life.
type ActionState string

// Action states.
const (
	ActionPending  ActionState = "pending"
	ActionApplied  ActionState = "applied"
	ActionFailed   ActionState = "failed"
	ActionUndone   ActionState = "undone"
	ActionRejected ActionState = "rejected"
)

// Action is a change a module proposes. Module and Kind and Target identify
// it: the engine keeps one live action per (Module, Kind, Target), so a
// module may propose the same thing every interval without duplicates.
type Action struct {
	ID          string            `json:"id"`
	Module      string            `json:"module"`
	Kind        string            `json:"kind"`   // e.g. "create_index", "set_gogc"
	Target      string            `json:"target"` // e.g. "public.products(name)"
	Description string            `json:"description"`
	Impact      string            `json:"impact,omitempty"` // expected effect, for people
	Risk        Risk              `json:"risk"`
	Undo        string            `json:"undo,omitempty"` // how to undo it, for people
	Params      map[string]string `json:"params,omitempty"`
	// PreApproved marks a risky action that the module's own configuration
	// allows without a person's approval (database.autoCreateIndexes,
	// regression.autoRollbackEnabled). The engine then applies it under
	// AutoOptimize like a safe one. Modules set it; callers cannot.
	PreApproved bool `json:"pre_approved,omitempty"`
	// Expect is the effect the action promises, which the engine measures
	// after applying it; nil promises nothing it can measure.
	Expect *Expectation `json:"expect,omitempty"`
	// Verification is what the engine measured of the applied action:
	// measuring, verified, no_effect, harmful (then undone) or no_data,
	// with the figures before and after.
	Verification *Verification `json:"verification,omitempty"`
	State        ActionState   `json:"state"`
	Result       string        `json:"result,omitempty"`
	Error        string        `json:"error,omitempty"`
	CreatedAt    time.Time     `json:"created_at"`
	UpdatedAt    time.Time     `json:"updated_at"`
}

// Result is what applying an action did.
type Result struct {
	Message string `json:"message"`
	// Params are merged into the action's Params after it is applied, so an
	// Undo has what it needs (for example the previous value of a setting).
	Params map[string]string `json:"params,omitempty"`
}

// Severity grades findings and alerts.
type Severity string

// Severities.
const (
	SeverityInfo     Severity = "info"
	SeverityWarning  Severity = "warning"
	SeverityCritical Severity = "critical"
)

// Finding is something a module noticed.
type Finding struct {
	Module   string    `json:"module"`
	Kind     string    `json:"kind"` // e.g. "heap_leak", "slow_query", "regression"
	Severity Severity  `json:"severity"`
	Title    string    `json:"title"`
	Detail   string    `json:"detail,omitempty"`
	Time     time.Time `json:"time"`
	// Subject is what the finding is about, stable while it lasts (a
	// route, a query, a metric) where the title carries changing figures:
	// the finding's identity as an alert. Empty means the title.
	Subject string `json:"subject,omitempty"`
	// Target is the daemon target the finding concerns, if any.
	Target string `json:"target,omitempty"`
	// Objects are the things the finding names (tables, say), so that an
	// action on one of them can tell whether it cleared.
	Objects []string `json:"objects,omitempty"`
	// Since is when what the finding reports began, when that is known
	// and earlier than Time: a regression's change point.
	Since time.Time `json:"since,omitzero"`
	// Advice marks a finding about the setup (an index to add, statistics
	// to gather, space to reclaim) rather than a sign that the service is
	// unwell now: it is listed and alerted, but does not raise the status
	// as a warning or critical finding otherwise does.
	Advice bool `json:"advice,omitempty"`
}

// Snapshot is what a module sees when asked for recommendations.
type Snapshot struct {
	Time   time.Time
	Status Status
	// Latest maps series keys (metrics.Sample.Key) to their newest value.
	Latest map[string]float64
	// Config is the engine's configuration at the time.
	Config Config
	// Versions are the running versions the daemon's targets report (a
	// build_info label), by target name.
	Versions map[string]string
	// Store is the engine's store, for modules that keep what they learn
	// there (the regression module's baselines); nil without one.
	Store store.Store
}
