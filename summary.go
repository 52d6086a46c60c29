package perfengine

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync/atomic"
	"time"

	"github.com/perfengine/perfengine/metrics"
)

// recentActions is how many applied, failed or undone actions Summary shows.
const recentActions = 20

// published is what Summary serves: built once per cycle, read lock-free.
type published struct {
	Summary
	samples []metrics.Sample
}

type summaryCache struct{ p atomic.Pointer[published] }

func (c *summaryCache) load() *published {
	if p := c.p.Load(); p != nil {
		return p
	}
	return &published{Summary: Summary{Status: StatusHealthy}}
}

func (s Summary) clone() Summary {
	s.Metrics = maps.Clone(s.Metrics)
	s.Violations = slices.Clone(s.Violations)
	s.Causes = slices.Clone(s.Causes)
	s.TargetReleases = slices.Clone(s.TargetReleases)
	s.Optimizations = cloneActions(s.Optimizations)
	s.Recommendations = slices.Clone(s.Recommendations)
	s.Findings = slices.Clone(s.Findings)
	s.Modules = slices.Clone(s.Modules)
	s.Vitals = slices.Clone(s.Vitals)
	if s.Alerting != nil {
		al := *s.Alerting
		al.Channels = slices.Clone(al.Channels)
		s.Alerting = &al
	}
	if s.Release != nil {
		r := *s.Release
		s.Release = &r
	}
	if s.Scaling != nil {
		sc := *s.Scaling
		sc.Decision.Proposals = slices.Clone(sc.Decision.Proposals)
		s.Scaling = &sc
	}
	return s
}

func cloneActions(in []Action) []Action {
	out := make([]Action, len(in))
	for i, a := range in {
		out[i] = clone(a)
	}
	return out
}

// publish rebuilds the summary from the engine's state.
func (e *Engine) publish(now time.Time) {
	e.mu.RLock()
	cfg := e.cfg
	mods := slices.Clone(e.modules)
	e.mu.RUnlock()

	samples := e.latestSamples()
	latest := make(map[string]float64, len(samples))
	for _, s := range samples {
		latest[s.Key()] = s.Value
	}

	var optimizations []Action
	for _, a := range e.book.list(ActionApplied, ActionFailed, ActionUndone) {
		if len(optimizations) == recentActions {
			break
		}
		optimizations = append(optimizations, a)
	}
	var recs []Recommendation
	for _, a := range e.book.list(ActionPending) {
		sev := SeverityInfo
		if a.Risk != RiskSafe {
			sev = SeverityWarning
		}
		msg := a.Description
		if a.Impact != "" {
			msg += " (" + a.Impact + ")"
		}
		recs = append(recs, Recommendation{Module: a.Module, Severity: sev, Message: msg, ActionID: a.ID})
	}
	recs = append(recs, e.eval.advice()...)

	findings := reportedFindings(cfg, mods)
	persisting(findings, e.book.list(ActionApplied))
	version, _ := RunningVersion(cfg)
	release, targetReleases := e.releaseSummary(cfg)

	// Empty lists are [] in JSON, not null: clients iterate them.
	violations := e.eval.currentViolations()
	if violations == nil {
		violations = []Violation{}
	}
	if optimizations == nil {
		optimizations = []Action{}
	}
	if recs == nil {
		recs = []Recommendation{}
	}
	if findings == nil {
		findings = []Finding{}
	}
	e.summary.p.Store(&published{
		Summary: Summary{
			Status:          e.eval.status(),
			Causes:          e.eval.causes(),
			Time:            now,
			Version:         version,
			Metrics:         latest,
			Violations:      violations,
			Optimizations:   optimizations,
			Recommendations: recs,
			Findings:        findings,
			Modules:         e.moduleStatuses(),
			Scaling:         e.scalingSummary(cfg),
			Release:         release,
			TargetReleases:  targetReleases,
			Alerting:        e.alertingSummary(),
			Vitals:          e.vitals(cfg),
		},
		samples: samples,
	})
}

// reportedFindings gathers the findings of the modules turned on, worst
// first.
func reportedFindings(cfg Config, mods []*moduleState) []Finding {
	var findings []Finding
	for _, ms := range mods {
		r, ok := ms.m.(Reporter)
		if !ok || !cfg.enabled(ms.name) {
			continue
		}
		_ = safely(ms.name, func() error {
			for _, f := range r.Findings() {
				if f.Module == "" {
					f.Module = ms.name
				}
				findings = append(findings, f)
			}
			return nil
		})
	}
	sort.SliceStable(findings, func(i, j int) bool {
		return severityRank(findings[i].Severity) > severityRank(findings[j].Severity)
	})
	return findings
}

// moduleFailingAfter is how many collections in a row a module must fail
// before it holds the status at warning.
const moduleFailingAfter = 3

// statusCauses are what, besides the thresholds, holds the status up: each
// warning or critical finding about the service itself (a daemon target's
// findings are that target's; advice is not trouble) and each module
// failing again and again.
func statusCauses(cfg Config, mods []*moduleState) []Cause {
	var out []Cause
	for _, f := range reportedFindings(cfg, mods) {
		if f.Target != "" || f.Advice || f.Severity == SeverityInfo {
			continue
		}
		level := StatusWarning
		if f.Severity == SeverityCritical {
			level = StatusCritical
		}
		out = append(out, Cause{Level: level, Kind: CauseFinding, Source: f.Module, Subject: cmp.Or(f.Subject, f.Kind), Detail: f.Title})
	}
	for _, ms := range mods {
		if st := ms.status(); st.Failures >= moduleFailingAfter {
			out = append(out, Cause{Level: StatusWarning, Kind: CauseModule, Source: ms.name, Subject: ms.name,
				Detail: fmt.Sprintf("%d collections in a row failed: %s", st.Failures, st.LastError)})
		}
	}
	return out
}

func severityRank(s Severity) int {
	switch s {
	case SeverityCritical:
		return 2
	case SeverityWarning:
		return 1
	}
	return 0
}
