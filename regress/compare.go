package regress

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
)

// Sensitivity sets how readily a difference counts as a regression.
type Sensitivity string

// Sensitivities, as the seed configuration names them.
const (
	Conservative Sensitivity = "conservative"
	Moderate     Sensitivity = "moderate"
	Aggressive   Sensitivity = "aggressive"
)

// Level is what a sensitivity means: a difference is a regression when it
// is significant at Alpha (after correction across metrics) and the median
// moved by at least MinEffect (a fraction, 0.05 = 5%).
type Level struct {
	Alpha     float64 `json:"alpha"`
	MinEffect float64 `json:"min_effect"`
}

// Level returns the thresholds of s; the zero Sensitivity is Moderate.
func (s Sensitivity) Level() (Level, error) {
	switch s {
	case Conservative:
		return Level{Alpha: 0.01, MinEffect: 0.10}, nil
	case Moderate, "":
		return Level{Alpha: 0.05, MinEffect: 0.05}, nil
	case Aggressive:
		return Level{Alpha: 0.10, MinEffect: 0.02}, nil
	}
	return Level{}, fmt.Errorf("regress: sensitivity %q must be conservative, moderate or aggressive", s)
}

// Direction says which way a metric gets worse.
type Direction string

// Directions.
const (
	LowerIsBetter  Direction = "lower_is_better" // latency, errors, memory
	HigherIsBetter Direction = "higher_is_better"
)

// DirectionOf guesses a metric's direction from its name: throughput,
// rates of success, hit ratios, uptime and scores are better higher;
// everything else (latencies, errors, sizes) better lower.
func DirectionOf(metric string) Direction {
	m := strings.ToLower(metric)
	for _, w := range []string{"throughput", "rps", "qps", "success", "hit_ratio", "hit_rate", "uptime", "availability", "health", "score", "apdex"} {
		if strings.Contains(m, w) {
			return HigherIsBetter
		}
	}
	return LowerIsBetter
}

// Change is the verdict on one metric.
type Change string

// Changes.
const (
	Regression  Change = "regression"
	Improvement Change = "improvement"
	Unchanged   Change = "unchanged"
	// NoData means too few values on one side to judge; it never passes.
	NoData Change = "no_data"
)

// Correction names a multiple-comparison correction.
type Correction string

// Corrections across the metrics of one comparison.
const (
	CorrectHolm Correction = "holm" // family-wise error rate; the default
	CorrectBH   Correction = "bh"   // false discovery rate
	CorrectNone Correction = "none"
)

// CompareOptions tune Compare. Zero values mean the defaults.
type CompareOptions struct {
	Sensitivity Sensitivity `json:"sensitivity"`
	// Confidence of the intervals; default 0.95.
	Confidence float64 `json:"confidence"`
	// MinSamples is the fewest values each side needs; default 5. Fewer
	// gives NoData.
	MinSamples int        `json:"min_samples"`
	Correction Correction `json:"correction"`
	// Seed of the bootstrap; equal seeds give equal intervals.
	Seed uint64 `json:"seed"`
	// Directions overrides DirectionOf per metric.
	Directions map[string]Direction `json:"directions,omitempty"`
}

// Default comparison settings.
const (
	DefaultConfidence = 0.95
	DefaultMinSamples = 5
)

func (o CompareOptions) withDefaults() (CompareOptions, Level, error) {
	if o.Confidence == 0 {
		o.Confidence = DefaultConfidence
	}
	if o.Confidence <= 0 || o.Confidence >= 1 {
		return o, Level{}, fmt.Errorf("regress: confidence %g must be in (0, 1)", o.Confidence)
	}
	if o.MinSamples <= 0 {
		o.MinSamples = DefaultMinSamples
	}
	if o.MinSamples < 2 {
		o.MinSamples = 2
	}
	switch o.Correction {
	case "":
		o.Correction = CorrectHolm
	case CorrectHolm, CorrectBH, CorrectNone:
	default:
		return o, Level{}, fmt.Errorf("regress: correction %q must be holm, bh or none", o.Correction)
	}
	lvl, err := o.Sensitivity.Level()
	return o, lvl, err
}

// Summary describes one sample: its size, median and the confidence
// interval of the median.
type Summary struct {
	N      int     `json:"n"`
	Median float64 `json:"median"`
	Lo     float64 `json:"lo"`
	Hi     float64 `json:"hi"`
}

func summarize(xs []float64, conf float64) Summary {
	if len(xs) == 0 {
		return Summary{}
	}
	lo, hi := MedianInterval(xs, conf)
	return Summary{N: len(xs), Median: median(xs), Lo: lo, Hi: hi}
}

// Comparison is the verdict on one metric between a baseline and a
// candidate sample.
type Comparison struct {
	Metric    string    `json:"metric"`
	Class     Class     `json:"class"`
	Direction Direction `json:"direction"`
	Baseline  Summary   `json:"baseline"`
	Candidate Summary   `json:"candidate"`
	// DeltaPct is the change of the median in percent (0 when the baseline
	// median is 0).
	DeltaPct    float64           `json:"delta_pct"`
	Ratio       Ratio             `json:"median_ratio"`
	Shift       Shift             `json:"shift"`
	Welch       WelchResult       `json:"welch"`
	MannWhitney MannWhitneyResult `json:"mann_whitney"`
	// P is the Mann–Whitney p-value after correction across the metrics
	// compared together.
	P           float64 `json:"p"`
	Significant bool    `json:"significant"`
	Change      Change  `json:"change"`
	Note        string  `json:"note,omitempty"`
}

// Compare judges one metric. It never fails on data: too few or
// non-finite values give NoData with a note; bad options are errors.
func Compare(metric string, base, cand []float64, o CompareOptions) (Comparison, error) {
	cs, err := CompareMetrics(map[string][]float64{metric: base}, map[string][]float64{metric: cand}, o)
	if err != nil {
		return Comparison{}, err
	}
	return cs[0], nil
}

// CompareMetrics judges every metric present on either side, in name
// order, correcting p-values across them.
func CompareMetrics(base, cand map[string][]float64, o CompareOptions) ([]Comparison, error) {
	o, lvl, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(base)+len(cand))
	for k := range base {
		names = append(names, k)
	}
	for k := range cand {
		if _, ok := base[k]; !ok {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	out := make([]Comparison, len(names))
	var ps []float64
	var tested []int
	for i, name := range names {
		c := compareOne(name, dropNaN(base[name]), dropNaN(cand[name]), o)
		out[i] = c
		if c.Change != NoData {
			ps = append(ps, c.MannWhitney.P)
			tested = append(tested, i)
		}
	}
	var adj []float64
	switch o.Correction {
	case CorrectHolm:
		adj = Holm(ps)
	case CorrectBH:
		adj = BenjaminiHochberg(ps)
	default:
		adj = ps
	}
	for j, i := range tested {
		c := &out[i]
		c.P = adj[j]
		c.Significant = c.P <= lvl.Alpha
		large := math.Abs(c.DeltaPct)/100 >= lvl.MinEffect
		if c.Baseline.Median == 0 {
			large = c.Candidate.Median != 0
		}
		switch {
		case !c.Significant || !large:
			c.Change = Unchanged
		case (c.Candidate.Median > c.Baseline.Median) == (c.Direction == LowerIsBetter):
			c.Change = Regression
		default:
			c.Change = Improvement
		}
	}
	return out, nil
}

func dropNaN(xs []float64) []float64 {
	out := make([]float64, 0, len(xs))
	for _, x := range xs {
		if !math.IsNaN(x) {
			out = append(out, x)
		}
	}
	return out
}

func compareOne(name string, a, b []float64, o CompareOptions) Comparison {
	c := Comparison{Metric: name, Class: Classify(name), Direction: DirectionOf(name), P: 1}
	if d, ok := o.Directions[name]; ok {
		c.Direction = d
	}
	c.Baseline, c.Candidate = summarize(a, o.Confidence), summarize(b, o.Confidence)
	if len(a) < o.MinSamples || len(b) < o.MinSamples {
		c.Change = NoData
		c.Note = fmt.Sprintf("need %d values each, have %d and %d", o.MinSamples, len(a), len(b))
		return c
	}
	if err := errorsJoin(checkFinite(a), checkFinite(b)); err != nil {
		c.Change = NoData
		c.Note = err.Error()
		return c
	}
	if c.Baseline.Median != 0 {
		c.DeltaPct = (c.Candidate.Median/c.Baseline.Median - 1) * 100
	}
	c.Welch, _ = Welch(a, b, o.Confidence)
	c.MannWhitney, _ = MannWhitney(a, b)
	c.Shift, _ = HodgesLehmann(a, b, o.Confidence)
	if r, err := MedianRatio(a, b, o.Confidence, 0, o.Seed); err == nil {
		c.Ratio = r
	}
	return c
}

func errorsJoin(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// WriteReport prints comparisons as benchstat does: each side's median ±
// the half-width of its interval in percent, then the change of the median
// with the p-value and sample sizes, or "~" when it is not significant.
func WriteReport(w io.Writer, cs []Comparison) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "metric\tbaseline\tcandidate\tvs base")
	for _, c := range cs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Metric, fmtSummary(c.Baseline), fmtSummary(c.Candidate), fmtDelta(c))
	}
	return tw.Flush()
}

func fmtSummary(s Summary) string {
	if s.N == 0 {
		return "-"
	}
	pm := "∞"
	if s.Median != 0 {
		pm = fmt.Sprintf("%.0f%%", math.Max(s.Hi-s.Median, s.Median-s.Lo)/math.Abs(s.Median)*100)
	}
	return fmt.Sprintf("%.4g ± %s", s.Median, pm)
}

func fmtDelta(c Comparison) string {
	n := fmt.Sprintf("n=%d+%d", c.Baseline.N, c.Candidate.N)
	switch c.Change {
	case NoData:
		return "no data (" + c.Note + ")"
	case Unchanged:
		return fmt.Sprintf("~ (p=%.3f %s)", c.P, n)
	}
	return fmt.Sprintf("%+.2f%% (p=%.3f %s) %s", c.DeltaPct, c.P, n, c.Change)
}
