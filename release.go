package perfengine

import (
	"context"
	"fmt"
	"math"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/perfengine/perfengine/metrics"
	"github.com/perfengine/perfengine/regress"
)

// Where the running version came from.
const (
	VersionFromConfig = "config" // the version key or PERFENGINE_VERSION
	VersionFromBuild  = "build"  // the main module's version or VCS revision
	VersionFromLabel  = "label"  // a daemon target's build_info label
)

// RunningVersion is the version of the service the engine watches: the
// configuration's version (PERFENGINE_VERSION), else what the binary says of
// itself (its module version when built from a tagged module, else its VCS
// revision, "-dirty" when built from modified sources), else "" (unknown).
func RunningVersion(c Config) (version, source string) {
	if c.Version != "" {
		return c.Version, VersionFromConfig
	}
	if v := buildVersion(); v != "" {
		return v, VersionFromBuild
	}
	return "", ""
}

var buildVersion = sync.OnceValue(func() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	return versionOfBuild(bi)
})

// versionOfBuild is the main module's version when it was built as a
// tagged module (go install m@v1.2.3), else its VCS revision.
func versionOfBuild(bi *debug.BuildInfo) string {
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev == "" {
		return ""
	}
	rev = rev[:min(len(rev), 12)]
	if modified == "true" {
		rev += "-dirty"
	}
	return rev
}

// ReleaseStatus is what the regression module knows of the running
// release: how long it has run, whether its baseline is saved, how it
// compares with the release before, and why a rollback was or was not
// proposed.
type ReleaseStatus struct {
	// Target is the daemon target the release is of; "" the service.
	Target  string    `json:"target,omitempty"`
	Version string    `json:"version"`
	Source  string    `json:"source,omitempty"` // config or build; "" unknown
	Since   time.Time `json:"since"`
	// Intervals and Requests are what the release has served so far;
	// Requests is -1 when the service reports no throughput to count.
	Intervals int     `json:"intervals"`
	Requests  float64 `json:"requests"`
	// BaselineSaved says the release's own baseline is in the store, saved
	// once it had served regression.baselineAfter of traffic without a
	// regression.
	BaselineSaved bool `json:"baseline_saved"`
	// CleanFor is the traffic time without a regression counted so far
	// towards the baseline.
	CleanFor Duration `json:"clean_for"`
	// Previous is the newest other release with a saved baseline: what this
	// one is judged against and would roll back to.
	Previous string `json:"previous,omitempty"`
	// Verdict and Score are the last judgement against Previous.
	Verdict regress.Verdict `json:"verdict,omitempty"`
	Score   float64         `json:"score,omitempty"`
	// Rollback says why a rollback was or was not proposed.
	Rollback string `json:"rollback"`
}

// release is the module's running tally of the current release.
type release struct {
	ReleaseStatus
	countsRequests bool
	lookedUp       bool
	baseline       map[string][]float64 // the previous release's, once loaded
	worse          []string             // series the last judgement found worse
}

// FindingReleaseRegression is the kind of the findings of a release judged
// worse than the one before.
const FindingReleaseRegression = "release_regression"

// targetBaselinePrefix starts the store's version key of a daemon target's
// baseline, "target:<name>/<version>", so that a target's releases and the
// service's own never mix.
const targetBaselinePrefix = "target:"

// baselineKey is the store's version key of a release of target ("" for the
// service itself).
func baselineKey(target, version string) string {
	if target == "" {
		return version
	}
	return targetBaselinePrefix + target + "/" + version
}

// trackReleases follows the running version of the service and of each
// daemon target that reports one, and starts a release over when its
// version changes: values of one release say nothing of the next. It runs
// under m.mu.
func (m *RegressionModule) trackReleases(ctx context.Context, snap Snapshot) {
	version, source := RunningVersion(snap.Config)
	if version != m.rel.Version || m.rel.Since.IsZero() {
		if !m.rel.Since.IsZero() {
			m.forgetTarget("")
			m.streak = 0
		}
		m.rel = release{ReleaseStatus: ReleaseStatus{Version: version, Source: source, Since: snap.Time, Requests: -1}}
	}
	m.tally(ctx, snap, &m.rel, "")
	for target, version := range snap.Versions {
		r, ok := m.targetRels[target]
		if !ok || r.Version != version {
			if ok {
				m.forgetTarget(target)
			} else if len(m.targetRels) >= maxTargetReleases {
				continue
			}
			r = &release{ReleaseStatus: ReleaseStatus{Target: target, Version: version, Source: VersionFromLabel, Since: snap.Time, Requests: -1,
				Rollback: targetNoRollback}}
			m.targetRels[target] = r
		}
		m.tally(ctx, snap, r, target)
	}
}

// targetNoRollback is why a daemon target's release is never rolled back:
// the engine does not deploy it.
const targetNoRollback = "no rollback proposed from here: the daemon does not deploy this target, so its regressions are findings for the target's own deploys to act on"

// maxTargetReleases bounds the daemon targets whose releases are followed.
const maxTargetReleases = 1000

// forgetTarget drops what the module holds of one target's series ("" the
// service's own): windows, regressions and findings.
func (m *RegressionModule) forgetTarget(target string) {
	for k := range m.windows {
		if targetOf(k) == target {
			delete(m.windows, k)
			delete(m.active, k)
		}
	}
	for k, f := range m.findings {
		if f.Target == target {
			delete(m.findings, k)
		}
	}
}

// tally counts an interval of a release and, once, finds the release before
// it that has a baseline.
func (m *RegressionModule) tally(ctx context.Context, snap Snapshot, r *release, target string) {
	r.Intervals++
	key := metrics.ThroughputRPS
	if target != "" {
		key = metrics.SeriesKey(metrics.ThroughputRPS, map[string]string{"target": target})
	}
	if rps, ok := snap.Latest[key]; ok && !math.IsNaN(rps) {
		if !r.countsRequests {
			r.countsRequests, r.Requests = true, 0
		}
		r.Requests += rps * snap.Config.MonitoringInterval.D().Seconds()
	}
	if r.Version == "" || snap.Store == nil || r.lookedUp {
		return
	}
	versions, err := snap.Store.Versions(ctx)
	if err != nil {
		return // looked up again next interval
	}
	r.lookedUp = true
	own := baselineKey(target, r.Version)
	r.BaselineSaved = slices.Contains(versions, own)
	for _, v := range versions {
		if v == own {
			continue
		}
		if target == "" && !strings.HasPrefix(v, targetBaselinePrefix) {
			r.Previous = v
			break
		}
		if prev, ok := strings.CutPrefix(v, baselineKey(target, "")); target != "" && ok {
			r.Previous = prev
			break
		}
	}
}

// warmedUp reports whether a release has run long enough to be judged:
// regression.releaseWarmup intervals and regression.releaseMinRequests
// requests (when it reports its throughput).
func warmedUp(r *release, c RegressionConfig) (bool, string) {
	warmup, minReq := c.releaseWarmup(), c.releaseMinRequests()
	if r.Intervals < warmup {
		return false, fmt.Sprintf("release %s is warming up (%d of %d intervals)", r.Version, r.Intervals, warmup)
	}
	if r.countsRequests && r.Requests < float64(minReq) {
		return false, fmt.Sprintf("release %s is warming up (%.0f of %d requests)", r.Version, r.Requests, minReq)
	}
	return true, ""
}

// dataOf is the recent values of one target's key series ("" the
// service's own): what a release's baseline holds.
func (m *RegressionModule) dataOf(target string) map[string][]float64 {
	out := map[string][]float64{}
	for k, w := range m.windows {
		if targetOf(k) == target && len(w) > 0 {
			out[k] = slices.Clone(w)
		}
	}
	return out
}

// judgeReleases judges the service's release and each target's.
func (m *RegressionModule) judgeReleases(ctx context.Context, snap Snapshot) {
	m.judgeRelease(ctx, snap, &m.rel, "")
	for target, r := range m.targetRels {
		m.judgeRelease(ctx, snap, r, target)
	}
}

// judgeRelease compares a release with the previous one's baseline once
// it is warmed up, and keeps one finding per series it finds worse. It
// runs under m.mu.
func (m *RegressionModule) judgeRelease(ctx context.Context, snap Snapshot, r *release, target string) {
	for k, f := range m.findings {
		if f.Kind == FindingReleaseRegression && f.Target == target {
			delete(m.findings, k)
		}
	}
	r.Verdict, r.Score, r.worse = "", 0, nil
	if r.Previous == "" || snap.Store == nil {
		return
	}
	if ok, _ := warmedUp(r, snap.Config.Regression); !ok {
		return
	}
	d, err := regress.NewDetector(regress.Options{Store: snap.Store, Clock: m.now, Judge: regress.JudgeOptions{
		CompareOptions: regress.CompareOptions{Sensitivity: regress.Sensitivity(snap.Config.Regression.Sensitivity)}}})
	if err != nil {
		return
	}
	if r.baseline == nil {
		// Loaded once: the previous release's baseline does not change.
		if r.baseline, err = d.Baseline(ctx, baselineKey(target, r.Previous)); err != nil {
			return
		}
	}
	j, err := d.Judge(r.baseline, m.dataOf(target))
	if err != nil {
		return
	}
	r.Verdict, r.Score = j.Verdict, j.Score
	for _, c := range j.Comparisons {
		name, _, _ := strings.Cut(c.Metric, "{")
		if c.Change != regress.Regression || !c.Significant ||
			(name == metrics.ResponseTimeMs || name == APIRouteP95Ms) && math.Abs(c.Candidate.Median-c.Baseline.Median) < minLatencyShiftMs {
			continue
		}
		r.worse = append(r.worse, c.Metric)
		sev := SeverityWarning
		if j.Verdict == regress.Fail || c.DeltaPct >= 100 || c.DeltaPct <= -50 {
			sev = SeverityCritical
		}
		key := "release:" + c.Metric
		m.findings[key] = Finding{
			Module: m.Name(), Kind: FindingReleaseRegression, Severity: sev,
			Title: fmt.Sprintf("%s: %s release %s is %+.0f%% against %s (median %.4g → %.4g)",
				c.Metric, c.Class, r.Version, c.DeltaPct, r.Previous, c.Baseline.Median, c.Candidate.Median),
			Detail: fmt.Sprintf("judged against the saved baseline of %s: Mann–Whitney p %.3g, score %.0f (%s)",
				r.Previous, c.P, j.Score, j.Verdict),
			Time: snap.Time, Subject: key, Target: target,
		}
	}
}

// saveBaselines saves the baseline of each release that has run clean long
// enough; regressed says the service's own series are regressed now.
func (m *RegressionModule) saveBaselines(ctx context.Context, snap Snapshot, regressed bool) {
	m.saveBaseline(ctx, snap, &m.rel, "", regressed)
	for target, r := range m.targetRels {
		active := false
		for k := range m.active {
			active = active || targetOf(k) == target
		}
		m.saveBaseline(ctx, snap, r, target, active)
	}
}

// saveBaseline stores a release's baseline once it has served
// regression.baselineAfter of traffic without a regression. It runs under
// m.mu.
func (m *RegressionModule) saveBaseline(ctx context.Context, snap Snapshot, r *release, target string, regressed bool) {
	c := snap.Config.Regression
	if r.Version == "" || r.BaselineSaved || snap.Store == nil || !c.AutoBaseline {
		return
	}
	rpsKey := metrics.ThroughputRPS
	if target != "" {
		rpsKey = metrics.SeriesKey(metrics.ThroughputRPS, map[string]string{"target": target})
	}
	idle := r.countsRequests && snap.Latest[rpsKey] <= 0
	if regressed || len(r.worse) > 0 || r.Verdict == regress.Fail || r.Verdict == regress.Marginal {
		r.CleanFor = 0
		return
	}
	if r.Previous != "" && r.Verdict != regress.Pass {
		return // not judged against the release before yet: not clean
	}
	if !idle {
		r.CleanFor += snap.Config.MonitoringInterval
	}
	if r.CleanFor.D() < c.baselineAfter() {
		return
	}
	d, err := regress.NewDetector(regress.Options{Store: snap.Store, Clock: m.now})
	if err != nil {
		return
	}
	if err := d.CreateBaseline(ctx, baselineKey(target, r.Version), m.dataOf(target)); err == nil {
		r.BaselineSaved = true
	}
}

// rollbackTarget is the release a rollback returns to, or why there is
// none that can be right: rollbacks go to a known release, a configured
// one or the previous release with a saved baseline, after the running
// release's warm-up, and never twice between the same pair.
func (m *RegressionModule) rollbackTarget(c RegressionConfig) (string, string) {
	r := m.rel
	if r.Version == "" {
		return "", noRollbackUnknownVersion
	}
	to := c.RollbackTo
	if to == "" || to == DefaultRollbackTarget {
		to = r.Previous
	}
	if to == "" {
		return "", "no rollback proposed: no earlier release has a saved baseline to return to (a release saves its own after regression.baselineAfter of clean traffic)"
	}
	if to == r.Version {
		return "", "no rollback proposed: the release to return to, " + to + ", is the one running"
	}
	if ok, why := warmedUp(&m.rel, c); !ok {
		return "", "no rollback proposed yet: " + why
	}
	if m.rolledBack[r.Version+"\x00"+to] {
		return "", fmt.Sprintf("no rollback proposed: %s was already rolled back to %s once", r.Version, to)
	}
	return to, ""
}

// Release returns what the module knows of the running release.
func (m *RegressionModule) Release() ReleaseStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rel.ReleaseStatus
}

// TargetReleases returns what the module knows of each daemon target's
// running release, by target name.
func (m *RegressionModule) TargetReleases() []ReleaseStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]ReleaseStatus, 0, len(m.targetRels))
	for _, r := range m.targetRels {
		out = append(out, r.ReleaseStatus)
	}
	slices.SortFunc(out, func(a, b ReleaseStatus) int { return strings.Compare(a.Target, b.Target) })
	return out
}

// releaseSummary is the regression module's release status of the service
// and of each daemon target for the summary; nil without the module.
func (e *Engine) releaseSummary(cfg Config) (*ReleaseStatus, []ReleaseStatus) {
	ms := e.module("regression")
	if ms == nil || !cfg.enabled("regression") {
		return nil, nil
	}
	rm, ok := ms.m.(*RegressionModule)
	if !ok {
		return nil, nil
	}
	targets := rm.TargetReleases()
	if r := rm.Release(); !r.Since.IsZero() {
		return &r, targets
	}
	return nil, targets
}
