package perfengine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/perfengine/perfengine/metrics"
	"github.com/perfengine/perfengine/regress"
	"github.com/perfengine/perfengine/store"
)

// Regression module names.
const (
	// ActionRollback is the kind of the rollback action the module proposes.
	ActionRollback = "rollback"
	// FindingRegression is the kind of its findings.
	FindingRegression = "regression"
	// RegressionActive counts key series currently regressed.
	RegressionActive = "regression_active_series"
	// RegressionAlarmsTotal counts changes the live detector confirmed.
	RegressionAlarmsTotal = "regression_alarms_total"
)

// RegressionModule feeds every key series the engine sees (response time,
// throughput, error rate, and per-route latency and error rate)
// to a live change detector. A change for the worse becomes a Finding and a
// rollback Action of risk risky; once the regression has lasted
// ConsecutiveFailures intervals and AutoRollbackEnabled is set, the action
// is pre-approved, so the engine applies it. Applying runs the configured
// command or webhook, or records a dry run when neither is configured. It is
// safe for concurrent use.
type RegressionModule struct {
	now  func() time.Time
	opts []RegressionOption // kept to rebuild the detector on reconfigure
	cfg  RegressionConfig

	mu      sync.Mutex // guards det and rb (replaced by reconfigure) and the fields below
	det     *regress.Detector
	rb      *regress.Rollbacker
	windows map[string][]float64     // recent finite values by key series
	version string                   // running version, from the snapshots
	active  map[string]regress.Alarm // key series regressed, by key
	streak  int                      // consecutive intervals with a regression
	// findings holds one finding per series regressed now: a series that
	// shifts back drops its finding, so Summary lists what is wrong, not
	// every alarm since start.
	findings map[string]Finding
	applied  int
	// rel is the running release; rolledBack the pairs (from, to) a
	// rollback already went between, never proposed again.
	rel        release
	targetRels map[string]*release // by daemon target
	rolledBack map[string]bool
}

var (
	_ Module   = (*RegressionModule)(nil)
	_ Reporter = (*RegressionModule)(nil)
)

// RegressionOption configures a RegressionModule beyond its config section.
type RegressionOption func(*regressionOptions)

type regressionOptions struct {
	now    func() time.Time
	client *http.Client
}

// WithRegressionClock sets the module's clock (tests, replays).
func WithRegressionClock(now func() time.Time) RegressionOption {
	return func(o *regressionOptions) { o.now = now }
}

// WithRegressionHTTPClient sets the client of the rollback webhook.
func WithRegressionHTTPClient(c *http.Client) RegressionOption {
	return func(o *regressionOptions) { o.client = c }
}

// NewRegressionModule builds the module from the engine's regression
// section.
func NewRegressionModule(c RegressionConfig, opts ...RegressionOption) (*RegressionModule, error) {
	var p problems
	c.validate(&p)
	if err := p.err(); err != nil {
		return nil, err
	}
	o := regressionOptions{now: time.Now}
	for _, f := range opts {
		f(&o)
	}
	det, err := regress.NewDetector(regress.Options{
		Judge:  regress.JudgeOptions{CompareOptions: regress.CompareOptions{Sensitivity: regress.Sensitivity(c.Sensitivity)}},
		Online: regress.OnlineOptions{Warmup: c.Warmup},
		Clock:  o.now,
	})
	if err != nil {
		return nil, fmt.Errorf("regression: %w", err)
	}
	var act regress.Actuator
	switch {
	case len(c.RollbackCommand) > 0:
		act = regress.CommandActuator{Command: c.RollbackCommand}
	case c.RollbackWebhookURL != "":
		act = regress.WebhookActuator{URL: c.RollbackWebhookURL, Client: o.client}
	}
	rb := regress.NewRollbacker(regress.RollbackOptions{
		Actuator: act, DryRun: c.DryRun, Cooldown: c.RollbackCooldown.D(),
		Consecutive: c.ConsecutiveFailures, Clock: o.now,
	})
	return &RegressionModule{det: det, rb: rb, now: o.now, opts: opts, cfg: c, active: map[string]regress.Alarm{}, findings: map[string]Finding{}, windows: map[string][]float64{}, rolledBack: map[string]bool{}, targetRels: map[string]*release{}}, nil
}

// Detector returns the wrapped detector, for baselines and comparisons.
func (m *RegressionModule) Detector() *regress.Detector {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.det
}

// Rollbacker returns the module's rollbacker, with its records.
func (m *RegressionModule) Rollbacker() *regress.Rollbacker {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rb
}

// reconfigure applies a new regression section in place. A new detector
// with the new sensitivity and warm-up replaces the old one and is fed the
// recent windows, so it judges at once instead of warming up again; the
// active regressions, findings and streak carry over. The rollbacker, which
// holds the cooldown and the rollback history, is replaced only when a
// rollback setting changed.
func (m *RegressionModule) reconfigure(c RegressionConfig) error {
	fresh, err := NewRegressionModule(c, m.opts...)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range slices.Sorted(maps.Keys(m.windows)) {
		for _, v := range m.windows[k] {
			fresh.det.Observe(k, v)
		}
	}
	m.det = fresh.det
	old := m.cfg
	old.Sensitivity, old.Warmup = c.Sensitivity, c.Warmup
	if !reflect.DeepEqual(old, c) {
		m.rb = fresh.rb
	}
	m.cfg = c
	return nil
}

// Name returns "regression".
func (*RegressionModule) Name() string { return "regression" }

// Collect reports the detector's own figures.
func (m *RegressionModule) Collect(ctx context.Context) ([]metrics.Sample, error) {
	now := m.now()
	m.mu.Lock()
	active, det := len(m.active), m.det
	m.mu.Unlock()
	out := []metrics.Sample{{Name: RegressionActive, Value: float64(active), Unit: metrics.UnitCount, Time: now}}
	for _, s := range det.Metrics(ctx) {
		if s.Name == regress.MetricAlarmsTotal {
			s.Name = RegressionAlarmsTotal
			out = append(out, s)
		}
	}
	return out, nil
}

// keySeries reports whether a series is one the live detector watches: the
// service's latency, throughput and error rate, and their per-route forms.
func keySeries(key string) bool {
	name, _, _ := strings.Cut(key, "{")
	switch name {
	case metrics.ResponseTimeMs, metrics.ThroughputRPS, metrics.ErrorRate,
		APIRouteP95Ms, APIRouteErrorRate:
		// Per-route throughput follows the callers, not the service's
		// health, so it is not judged.
		return true
	}
	return false
}

// minLatencyShiftMs is the smallest latency change worth a person's
// attention, however large relative to a sub-millisecond route.
const minLatencyShiftMs = 5

func tooSmall(name string, a regress.Alarm) bool {
	if name == metrics.ResponseTimeMs || name == APIRouteP95Ms {
		return math.Abs(a.MeanAfter-a.MeanBefore) < minLatencyShiftMs
	}
	return false
}

// recoveryPoints is how many of a series' latest values must be back for a
// regression to count as over.
const recoveryPoints = 5

// recovered reports whether the series has come at least halfway back from
// a's shift over its last recoveryPoints values. The change detector itself
// may never report the way back: it re-baselines after each alarm, and the
// return can come in steps each too small to report.
func recovered(a regress.Alarm, w []float64) bool {
	if len(w) < recoveryPoints {
		return false
	}
	mid := metrics.Select(slices.Clone(w[len(w)-recoveryPoints:]), recoveryPoints/2)
	half := (a.MeanBefore + a.MeanAfter) / 2
	if a.MeanAfter > a.MeanBefore {
		return mid <= half
	}
	return mid >= half
}

// targetOf is the target label of a series key (`name{target="shop",...}`),
// or "" for the engine's own series.
func targetOf(key string) string {
	_, labels, ok := strings.Cut(key, "{")
	if !ok {
		return ""
	}
	for _, kv := range strings.Split(strings.TrimSuffix(labels, "}"), ",") {
		if v, ok := strings.CutPrefix(kv, `target="`); ok {
			return strings.TrimSuffix(v, `"`)
		}
	}
	return ""
}

// measured maps a reading to what the detector sees: a latency of zero is
// an interval without requests, not a fast one, so it is missing.
func measured(name string, v float64) float64 {
	if v <= 0 && (name == metrics.ResponseTimeMs || name == APIRouteP95Ms) {
		return math.NaN()
	}
	return v
}

// Recommend feeds the snapshot's key series to the detector, judges the
// running release against the previous one's baseline, saves the
// release's own baseline once it has run clean long enough, and proposes a
// rollback while the service is regressed and a rollback can be right.
func (m *RegressionModule) Recommend(ctx context.Context, snap Snapshot) ([]Action, error) {
	keys := make([]string, 0, len(snap.Latest))
	for k := range snap.Latest {
		if keySeries(k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	c := snap.Config.Regression
	m.mu.Lock()
	defer m.mu.Unlock()
	m.trackReleases(ctx, snap)
	m.version = m.rel.Version
	for _, k := range keys {
		name, _, _ := strings.Cut(k, "{")
		v := measured(name, snap.Latest[k])
		if !math.IsNaN(v) {
			w := append(m.windows[k], v)
			if len(w) > baselineWindow {
				w = w[len(w)-baselineWindow:]
			}
			m.windows[k] = w
		}
		a, ok := m.det.Observe(k, v)
		if !ok || tooSmall(name, a) {
			if prev, regressed := m.active[k]; regressed && recovered(prev, m.windows[k]) {
				delete(m.active, k)
				delete(m.findings, k)
			}
			continue
		}
		worse := a.Up == (regress.DirectionOf(name) == regress.LowerIsBetter)
		if !worse {
			// Back to (or better than) where it was.
			delete(m.active, k)
			delete(m.findings, k)
			continue
		}
		m.active[k] = a
		sev := SeverityWarning
		if a.ChangePct >= 100 || a.ChangePct <= -50 {
			sev = SeverityCritical
		}
		m.findings[k] = Finding{
			Module: m.Name(), Kind: FindingRegression, Severity: sev,
			Title:  fmt.Sprintf("%s changed %+.0f%% (%.4g → %.4g)", k, a.ChangePct, a.MeanBefore, a.MeanAfter),
			Detail: fmt.Sprintf("live change detector (CUSUM) confirmed a shift %d intervals after it began; version %s", a.Index-a.Start, cmp.Or(m.rel.Version, "unknown")),
			Time:   snap.Time, Subject: k, Target: targetOf(k),
			Since: snap.Time.Add(-time.Duration(a.Index-a.Start) * snap.Config.MonitoringInterval.D()),
		}
	}
	m.judgeReleases(ctx, snap)
	// A daemon target's regression is that target's finding: rolling back
	// this process's release would not touch it.
	var regressed []string
	for _, k := range slices.Sorted(maps.Keys(m.active)) {
		if targetOf(k) == "" {
			regressed = append(regressed, k)
		}
	}
	for _, k := range m.rel.worse {
		if !slices.Contains(regressed, k) {
			regressed = append(regressed, k)
		}
	}
	m.saveBaselines(ctx, snap, len(regressed) > 0)
	if len(regressed) == 0 {
		m.streak = 0
		m.rel.Rollback = "no rollback proposed: no regression"
		return nil, nil
	}
	m.streak++
	need := c.ConsecutiveFailures
	if need <= 0 {
		need = DefaultRegressionConsecutive
	}
	from := m.rel.Version
	to, why := m.rollbackTarget(c)
	if to == "" {
		m.rel.Rollback = why
		for k, f := range m.findings {
			if i := strings.Index(f.Detail, "; no rollback"); i >= 0 {
				f.Detail = f.Detail[:i]
			}
			if targetOf(k) == "" {
				f.Detail += "; " + why
			}
			m.findings[k] = f
		}
		return nil, nil
	}
	auto := c.AutoRollbackEnabled && m.streak >= need
	dry := m.rb.DryRun()
	desc := fmt.Sprintf("roll back %s to %s: regression in %s", from, to, strings.Join(regressed, ", "))
	if dry {
		desc += " (dry run: recorded, not performed)"
	}
	m.rel.Rollback = "proposed: " + desc
	return []Action{{
		Kind: ActionRollback, Target: from, Description: desc,
		Impact:      "returns the service to the release before the regression",
		Risk:        RiskRisky,
		Undo:        "deploy " + from + " again",
		PreApproved: auto,
		Params: map[string]string{
			"from": from, "to": to, "dry_run": strconv.FormatBool(dry),
			"automatic": strconv.FormatBool(auto), "series": strings.Join(regressed, ","),
			"consecutive": strconv.Itoa(m.streak),
		},
	}}, nil
}

// Apply performs the rollback (or its dry run) through the rollbacker,
// which enforces the cooldown and refuses rollback loops.
func (m *RegressionModule) Apply(ctx context.Context, a Action) (Result, error) {
	if a.Kind != ActionRollback {
		return Result{}, fmt.Errorf("regression: unknown action kind %q", a.Kind)
	}
	reason := a.Params["reason"]
	if reason == "" {
		reason = "regression in " + a.Params["series"]
	}
	rec, err := m.Rollbacker().Rollback(ctx, regress.RollbackRequest{
		From: a.Params["from"], To: a.Params["to"], Reason: reason, Automatic: a.Params["automatic"] == "true",
	})
	if err != nil && rec.ID == "" {
		if errors.Is(err, regress.ErrCooldown) || errors.Is(err, regress.ErrRollbackLoop) {
			return Result{}, fmt.Errorf("%w: %w", ErrRefused, err)
		}
		return Result{}, err
	}
	m.mu.Lock()
	m.applied++
	m.rolledBack[rec.From+"\x00"+rec.To] = true
	clear(m.active) // the service changes under the detector: judge afresh
	m.streak = 0
	m.mu.Unlock()
	msg := fmt.Sprintf("rolled back %s to %s", rec.From, rec.To)
	if rec.Outcome == regress.RollbackDryRun {
		msg = fmt.Sprintf("dry run: would roll back %s to %s", rec.From, rec.To)
	}
	res := Result{Message: msg, Params: map[string]string{"rollback_id": rec.ID, "outcome": rec.Outcome}}
	if err != nil {
		return res, err
	}
	return res, nil
}

// baselineWindow is how many recent intervals of each key series a
// baseline keeps: an hour at the default 30 s interval.
const baselineWindow = 120

// Recent returns the running version and the recent values of every key
// series, as a baseline of that version would hold them.
func (m *RegressionModule) Recent() (version string, data map[string][]float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	data = make(map[string][]float64, len(m.windows))
	for k, w := range m.windows {
		data[k] = slices.Clone(w)
	}
	return m.version, data
}

// SaveBaseline stores the recent values of every key series as the
// baseline of the running version (Config.Version or PERFENGINE_VERSION).
func (m *RegressionModule) SaveBaseline(ctx context.Context, st store.Store) (string, error) {
	version, data := m.Recent()
	if version == "" {
		return "", errors.New("regression: no snapshot seen yet, so no running version")
	}
	d, err := regress.NewDetector(regress.Options{Store: st, Clock: m.now})
	if err != nil {
		return "", err
	}
	if err := d.CreateBaseline(ctx, version, data); err != nil {
		return version, err
	}
	m.mu.Lock()
	if m.rel.Version == version {
		m.rel.BaselineSaved = true
	}
	m.mu.Unlock()
	return version, nil
}

// JudgeAgainst compares the recent values of every key series with the
// stored baseline of version: the release verdict, with scores per class.
func (m *RegressionModule) JudgeAgainst(ctx context.Context, st store.Store, version string) (regress.Judgement, error) {
	_, data := m.Recent()
	d, err := regress.NewDetector(regress.Options{Store: st, Clock: m.now})
	if err != nil {
		return regress.Judgement{}, err
	}
	return d.CompareToBaseline(ctx, version, data)
}

// Findings returns the regressions found, newest last.
func (m *RegressionModule) Findings() []Finding {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := slices.Collect(maps.Values(m.findings))
	slices.SortFunc(out, func(a, b Finding) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Title, b.Title)
	})
	return out
}

// noRollbackUnknownVersion explains a regression without a rollback.
const noRollbackUnknownVersion = "no rollback proposed: the running version is unknown (set version or PERFENGINE_VERSION)"
