package regress

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/perfengine/perfengine/metrics"
	"github.com/perfengine/perfengine/store"
)

// Errors of the Detector.
var (
	// ErrNoBaseline means the store has no baseline for a version.
	ErrNoBaseline = errors.New("regress: no baseline")
	// ErrNoStore means baselines were asked of a Detector without a store.
	ErrNoStore = errors.New("regress: no store configured")
)

// Options configure a Detector. The zero value is usable: moderate
// sensitivity, the default online detector, no store.
type Options struct {
	// Store keeps baselines; needed by CreateBaseline and the comparisons
	// of versions.
	Store store.Store
	// Judge configures comparisons of releases; its Sensitivity also
	// applies to the online detector's minimum effect when that is unset.
	Judge JudgeOptions
	// Online configures the live detector of every series Observe sees.
	Online OnlineOptions
	// Clock stamps baselines; default time.Now.
	Clock func() time.Time
}

// Detector watches live series for changes and judges releases against
// their baselines. It is safe for concurrent use.
type Detector struct {
	o Options

	mu     sync.Mutex
	online map[string]*Online
	alarms int
	last   Judgement
	judged bool
}

// NewDetector validates o and returns a Detector. It starts nothing.
func NewDetector(o Options) (*Detector, error) {
	if _, _, err := o.Judge.CompareOptions.withDefaults(); err != nil {
		return nil, err
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Online.MinEffect == 0 {
		lvl, _ := o.Judge.Sensitivity.Level()
		// A live alarm interrupts people: ask for twice the effect a
		// release comparison needs.
		o.Online.MinEffect = 2 * lvl.MinEffect
	}
	return &Detector{o: o, online: map[string]*Online{}}, nil
}

// Observe feeds the newest value of a series to its online detector and
// returns an alarm when the series changed level.
func (d *Detector) Observe(key string, v float64) (Alarm, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	od := d.online[key]
	if od == nil {
		od = NewOnline(d.o.Online)
		d.online[key] = od
	}
	a, ok := od.Add(v)
	if ok {
		d.alarms++
	}
	return a, ok
}

// CreateBaseline stores data (values by metric) as the baseline of version,
// replacing any earlier baseline of the same metrics.
func (d *Detector) CreateBaseline(ctx context.Context, version string, data map[string][]float64) error {
	if d.o.Store == nil {
		return ErrNoStore
	}
	if version == "" {
		return errors.New("create baseline: empty version")
	}
	if len(data) == 0 {
		return fmt.Errorf("create baseline %s: %w", version, ErrEmptySeries)
	}
	now := d.o.Clock()
	for _, m := range slices.Sorted(maps.Keys(data)) {
		vals := dropNaN(data[m])
		if len(vals) == 0 {
			return fmt.Errorf("create baseline %s: metric %s: %w", version, m, ErrEmptySeries)
		}
		if err := checkFinite(vals); err != nil {
			return fmt.Errorf("create baseline %s: metric %s: %w", version, m, err)
		}
		b := store.Baseline{Version: version, Metric: m, Values: vals, CreatedAt: now}
		if err := d.o.Store.SaveBaseline(ctx, b); err != nil {
			return fmt.Errorf("save baseline: %w", err)
		}
	}
	return nil
}

// Baseline returns the stored values by metric of version.
func (d *Detector) Baseline(ctx context.Context, version string) (map[string][]float64, error) {
	if d.o.Store == nil {
		return nil, ErrNoStore
	}
	bs, err := d.o.Store.Baselines(ctx, version)
	if errors.Is(err, store.ErrNotFound) || err == nil && len(bs) == 0 {
		return nil, fmt.Errorf("%w for version %q", ErrNoBaseline, version)
	}
	if err != nil {
		return nil, fmt.Errorf("load baseline: %w", err)
	}
	out := make(map[string][]float64, len(bs))
	for _, b := range bs {
		out[b.Metric] = b.Values
	}
	return out, nil
}

// Versions lists versions with baselines, newest first.
func (d *Detector) Versions(ctx context.Context) ([]string, error) {
	if d.o.Store == nil {
		return nil, ErrNoStore
	}
	return d.o.Store.Versions(ctx)
}

// CompareVersions judges the stored baseline of candidate against that of
// baseline.
func (d *Detector) CompareVersions(ctx context.Context, baseline, candidate string) (Judgement, error) {
	b, err := d.Baseline(ctx, baseline)
	if err != nil {
		return Judgement{}, err
	}
	c, err := d.Baseline(ctx, candidate)
	if err != nil {
		return Judgement{}, err
	}
	return d.judge(b, c)
}

// CompareToBaseline judges live data against the stored baseline of
// version.
func (d *Detector) CompareToBaseline(ctx context.Context, version string, data map[string][]float64) (Judgement, error) {
	b, err := d.Baseline(ctx, version)
	if err != nil {
		return Judgement{}, err
	}
	return d.judge(b, data)
}

// Judge judges candidate against baseline with the Detector's options.
func (d *Detector) Judge(baseline, candidate map[string][]float64) (Judgement, error) {
	return d.judge(baseline, candidate)
}

func (d *Detector) judge(b, c map[string][]float64) (Judgement, error) {
	j, err := Judge(b, c, d.o.Judge)
	if err == nil {
		d.mu.Lock()
		d.last, d.judged = j, true
		d.mu.Unlock()
	}
	return j, err
}

// Metric names the Detector reports.
const (
	MetricAlarmsTotal   = "regress_alarms_total"
	MetricSeriesWatched = "regress_series_watched"
	MetricLastScore     = "regress_last_score"
)

// Metrics returns the Detector's own figures: alarms raised, series
// watched, and the score of the last judgement when there was one.
func (d *Detector) Metrics(ctx context.Context) []metrics.Sample {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.o.Clock()
	out := []metrics.Sample{
		{Name: MetricAlarmsTotal, Value: float64(d.alarms), Unit: metrics.UnitTotal, Time: now},
		{Name: MetricSeriesWatched, Value: float64(len(d.online)), Unit: metrics.UnitCount, Time: now},
	}
	if d.judged {
		out = append(out, metrics.Sample{Name: MetricLastScore, Value: d.last.Score, Unit: metrics.UnitPercent, Time: now})
	}
	return out
}
