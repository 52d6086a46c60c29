package perfengine

import (
	"time"

	"github.com/perfengine/perfengine/alert"
	"github.com/perfengine/perfengine/metrics"
	"github.com/perfengine/perfengine/webopt"
)

// Summary is the engine's report, served from memory.
type Summary struct {
	Status Status `json:"status"`
	// Causes say what holds the status at its level, worst first: the
	// thresholds crossed, the findings about the service and the modules
	// failing again and again that raised it.
	Causes  []Cause   `json:"causes"`
	Time    time.Time `json:"time"`
	Version string    `json:"version,omitempty"`
	// Metrics maps series keys to their newest value.
	Metrics map[string]float64 `json:"metrics"`
	// Violations are the thresholds currently crossed.
	Violations []Violation `json:"violations"`
	// Optimizations are the most recent applied, failed or undone actions.
	Optimizations []Action `json:"optimizations"`
	// Recommendations are pending actions and advice for people.
	Recommendations []Recommendation `json:"recommendations"`
	Findings        []Finding        `json:"findings"`
	Modules         []ModuleStatus   `json:"modules"`
	// Scaling is the autoscaler's current and desired instances and the
	// reason; nil when the scaling module is off.
	Scaling *ScalingSummary `json:"scaling,omitempty"`
	// Release is the running release as the regression module sees it:
	// its baseline, the release before, the verdict against it and why a
	// rollback was or was not proposed; nil without the module.
	Release *ReleaseStatus `json:"release,omitempty"`
	// TargetReleases are the daemon targets' running releases, each judged
	// against that target's previous release (its version from a
	// build_info label); empty without targets that report one.
	TargetReleases []ReleaseStatus `json:"target_releases,omitempty"`
	// Alerting is what fires and how each alert channel's deliveries
	// went; nil before Start.
	Alerting *AlertingSummary `json:"alerting,omitempty"`
	// Vitals are the real-user Core Web Vitals p75 per route and device,
	// with their rating; empty without a browser module.
	Vitals []webopt.Vital `json:"vitals,omitempty"`
}

// AlertingSummary counts the alerts the dispatcher holds and reports each
// channel's deliveries, with its last error.
type AlertingSummary struct {
	Active     int                   `json:"active"`
	Suppressed int                   `json:"suppressed"`
	Silences   int                   `json:"silences"` // active or pending
	Channels   []alert.ChannelStatus `json:"channels"`
}

// Violation is one metric past one of its thresholds.
type Violation struct {
	Metric    string  `json:"metric"`
	Value     float64 `json:"value"`
	Level     Status  `json:"level"`
	Threshold float64 `json:"threshold"`
}

// Recommendation is advice: from a pending action, or from a threshold.
type Recommendation struct {
	Module   string   `json:"module"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
	ActionID string   `json:"action_id,omitempty"`
}

// ModuleStatus is how one module fared in the last collections.
type ModuleStatus struct {
	Name string `json:"name"`
	// Enabled is false for a module its modules.* toggle turned off: it
	// stays registered, with its state, and is skipped by the cycle.
	Enabled     bool      `json:"enabled"`
	Healthy     bool      `json:"healthy"`
	LastCollect time.Time `json:"last_collect"`
	LastError   string    `json:"last_error,omitempty"`
	Failures    int       `json:"consecutive_failures"`
	NextRetry   time.Time `json:"next_retry,omitempty"`
	Samples     int       `json:"samples"`
}

// DebugInfo is the engine's detail for people investigating it.
type DebugInfo struct {
	Config  Config          `json:"config"`
	Started time.Time       `json:"started"`
	Cycles  uint64          `json:"cycles"`
	History []Action        `json:"history"` // every action, newest first
	Trends  []metrics.Stats `json:"trends"`
	Modules []ModuleStatus  `json:"modules"`
}
