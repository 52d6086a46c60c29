package perfengine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/perfengine/perfengine/metrics"
	"github.com/perfengine/perfengine/target"
)

// FindingTargetDown is the kind of the finding of a target that does not
// answer; FindingTargetWarning of one whose answer had problems.
const (
	FindingTargetDown    = "target_down"
	FindingTargetWarning = "target_warning"
	FindingTargetLimit   = "target_threshold"
)

// maxBuffered bounds the samples kept between two engine cycles.
const maxBuffered = 200_000

// TargetSummary is one target's place in the daemon's summary.
type TargetSummary struct {
	target.State
	Status     Status      `json:"status"`
	Violations []Violation `json:"violations"`
}

// TargetsModule is the engine's face of a target.Watcher: every scrape
// is judged against the target's own thresholds, and the engine stores
// its samples (labelled target=<name>) at each cycle. A target that is
// down is critical and a finding. It is safe for concurrent use.
type TargetsModule struct {
	w   *target.Watcher
	cfg map[string]TargetConfig
	// thresholds are each target's own, the global ones filled in.
	thresholds map[string]Thresholds

	mu     sync.Mutex
	buf    []metrics.Sample
	evals  map[string]*evaluator
	status map[string]Status
	viol   map[string][]Violation
}

var (
	_ Module   = (*TargetsModule)(nil)
	_ Reporter = (*TargetsModule)(nil)
	_ Starter  = (*TargetsModule)(nil)
)

// NewTargetsModule builds the watcher of cfg.Targets; database targets get
// one database module per DSN.
func NewTargetsModule(cfg Config, log *slog.Logger, reg prometheus.Registerer) (*TargetsModule, error) {
	m := &TargetsModule{cfg: map[string]TargetConfig{}, thresholds: map[string]Thresholds{}, evals: map[string]*evaluator{}, status: map[string]Status{}, viol: map[string][]Violation{}}
	var specs []target.Spec
	for _, tc := range cfg.Targets {
		s := tc.spec()
		if s.Kind == target.Database {
			src, err := databaseSource(tc, cfg.Database)
			if err != nil {
				return nil, fmt.Errorf("targets: %s: %w", tc.Name, err)
			}
			s.Source = src
		}
		specs = append(specs, s)
		m.cfg[tc.Name] = tc
		m.thresholds[tc.Name] = tc.thresholds(cfg.Thresholds)
		m.evals[tc.Name] = newEvaluator(m.thresholds[tc.Name])
	}
	w, err := target.New(specs, target.Options{Logger: log, Registerer: reg, OnScrape: m.observe})
	if err != nil {
		return nil, fmt.Errorf("targets: %w", err)
	}
	m.w = w
	return m, nil
}

// databaseSource collects every DSN's database module, each sample
// labelled with the DSN's position (db="0", "1", ...).
func databaseSource(tc TargetConfig, base DatabaseConfig) (target.Source, error) {
	var mods []*DatabaseModule
	for _, dsn := range tc.DSNs {
		c := base
		c.DSN = dsn
		dm, err := NewDatabaseModuleFromConfig(c)
		if err != nil {
			return nil, err
		}
		mods = append(mods, dm)
	}
	return target.SourceFunc(func(ctx context.Context, now time.Time) (target.Result, error) {
		var r target.Result
		var errs []error
		for i, dm := range mods {
			ss, err := dm.Collect(ctx)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", redactDSN(tc.DSNs[i]), err))
				continue
			}
			for _, s := range ss {
				l := map[string]string{"db": strconv.Itoa(i)}
				for k, v := range s.Labels {
					l[k] = v
				}
				s.Labels = l
				r.Samples = append(r.Samples, s)
			}
		}
		return r, errors.Join(errs...)
	}), nil
}

func (m *TargetsModule) observe(r target.Report) {
	latest := map[string]float64{}
	for _, s := range r.Result.Samples {
		if len(s.Labels) == 1 { // only the target label: the target's own figures
			latest[s.Name] = s.Value
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.buf)+len(r.Result.Samples) <= maxBuffered {
		m.buf = append(m.buf, r.Result.Samples...)
	}
	st, vs := m.evals[r.Target].evaluate(r.Time, latest)
	if !r.Up() {
		st = StatusCritical
	}
	m.status[r.Target], m.viol[r.Target] = st, vs
}

// Name returns "targets".
func (*TargetsModule) Name() string { return "targets" }

// Start starts the scrapes.
func (m *TargetsModule) Start(ctx context.Context) error { return m.w.Start(ctx) }

// Stop stops them.
func (m *TargetsModule) Stop(ctx context.Context) error { return m.w.Stop(ctx) }

// Collect hands the engine every sample scraped since the last call.
func (m *TargetsModule) Collect(context.Context) ([]metrics.Sample, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := m.buf
	m.buf = nil
	return out, nil
}

// Recommend proposes nothing: targets are watched, not changed.
func (*TargetsModule) Recommend(context.Context, Snapshot) ([]Action, error) { return nil, nil }

// Apply refuses: the module proposes no actions.
func (*TargetsModule) Apply(context.Context, Action) (Result, error) {
	return Result{}, errors.New("targets: no actions to apply")
}

// Targets returns every target's state and status, in configuration order.
func (m *TargetsModule) Targets() []TargetSummary {
	states := m.w.States()
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]TargetSummary, 0, len(states))
	for _, s := range states {
		st, ok := m.status[s.Name]
		if !ok {
			st = StatusHealthy
		}
		vs := m.viol[s.Name]
		if vs == nil {
			vs = []Violation{}
		}
		out = append(out, TargetSummary{State: s, Status: st, Violations: vs})
	}
	return out
}

// Target returns one target's summary.
func (m *TargetsModule) Target(name string) (TargetSummary, bool) {
	for _, t := range m.Targets() {
		if t.Name == name {
			return t, true
		}
	}
	return TargetSummary{}, false
}

// Overall is the worst status of all targets.
func (m *TargetsModule) Overall() Status {
	s := StatusHealthy
	for _, t := range m.Targets() {
		s = worse(s, t.Status)
	}
	return s
}

// Thresholds returns a target's own thresholds (the global ones where it
// sets none), or false for an unknown target.
func (m *TargetsModule) Thresholds(name string) (Thresholds, bool) {
	th, ok := m.thresholds[name] // written only by the constructor
	return th, ok
}

// Findings reports targets that are down, answered with problems, or
// crossed their thresholds.
func (m *TargetsModule) Findings() []Finding {
	var out []Finding
	for _, t := range m.Targets() {
		switch {
		case t.Scrapes > 0 && !t.Up:
			out = append(out, Finding{Kind: FindingTargetDown, Severity: SeverityCritical, Time: t.LastScrape,
				Title: "target " + t.Name + " is down (up 0)", Detail: t.Error, Target: t.Name, Subject: "up"})
		case len(t.Warnings) > 0:
			out = append(out, Finding{Kind: FindingTargetWarning, Severity: SeverityWarning, Time: t.LastScrape,
				Title: "target " + t.Name + " answered with problems", Detail: fmt.Sprint(t.Warnings), Target: t.Name, Subject: "scrape"})
		}
		for _, v := range t.Violations {
			sev := SeverityWarning
			if v.Level == StatusCritical {
				sev = SeverityCritical
			}
			out = append(out, Finding{Kind: FindingTargetLimit, Severity: sev, Time: t.LastScrape,
				Title: "target " + t.Name + ": " + v.String(), Target: t.Name, Subject: v.Metric})
		}
	}
	return out
}
