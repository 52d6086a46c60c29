package regress

import (
	"fmt"
	"slices"
	"strings"
)

// Class is one of the seed's four kinds of regression.
type Class string

// Classes.
const (
	ClassPerformance  Class = "performance"  // latency, throughput
	ClassStability    Class = "stability"    // error rate, memory growth
	ClassQuality      Class = "quality"      // Core Web Vitals
	ClassAvailability Class = "availability" // uptime, health
)

// Classify puts a metric in its class by name. Unknown metrics are
// performance metrics, the class with the most weight.
func Classify(metric string) Class {
	m := strings.ToLower(metric)
	if i := strings.IndexByte(m, '{'); i >= 0 {
		m = m[:i]
	}
	has := func(ws ...string) bool {
		for _, w := range ws {
			if strings.Contains(m, w) {
				return true
			}
		}
		return false
	}
	switch {
	case has("uptime", "availability", "health", "up_ratio", "probe"):
		return ClassAvailability
	case has("lcp", "inp", "cls", "fcp", "ttfb", "fid", "web_vital", "largest_contentful", "layout_shift", "interaction_to_next"):
		return ClassQuality
	case has("error", "fail", "5xx", "memory", "heap", "rss", "goroutine", "gc_", "crash", "restart", "leak"):
		return ClassStability
	}
	return ClassPerformance
}

// Verdict is the outcome of judging a release.
type Verdict string

// Verdicts. NoDataVerdict is never a pass: a release with nothing to judge
// is not shown to be good.
const (
	Pass          Verdict = "pass"
	Marginal      Verdict = "marginal"
	Fail          Verdict = "fail"
	NoDataVerdict Verdict = "no_data"
)

// MetricPolicy weighs one metric in the score, as Kayenta's metric
// configuration does.
type MetricPolicy struct {
	// Weight within its class; default 1.
	Weight float64 `yaml:"weight" json:"weight"`
	// Critical fails the whole release when this metric regresses or has
	// no data.
	Critical bool `yaml:"critical" json:"critical"`
}

// JudgeOptions configure Judge. Zero values mean the defaults.
type JudgeOptions struct {
	CompareOptions
	// Policies by metric name.
	Policies map[string]MetricPolicy `json:"policies,omitempty"`
	// ClassWeights weigh the classes in the score; default performance 40,
	// stability 30, quality 15, availability 15.
	ClassWeights map[Class]float64 `json:"class_weights,omitempty"`
	// PassScore and MarginalScore are the score thresholds, 0..100;
	// default 75 and 50.
	PassScore     float64 `json:"pass_score"`
	MarginalScore float64 `json:"marginal_score"`
}

// Default score thresholds.
const (
	DefaultPassScore     = 75
	DefaultMarginalScore = 50
)

// DefaultClassWeights are Kayenta-style group weights.
func DefaultClassWeights() map[Class]float64 {
	return map[Class]float64{ClassPerformance: 40, ClassStability: 30, ClassQuality: 15, ClassAvailability: 15}
}

// ClassScore is one class's share of passing metrics, 0..100.
type ClassScore struct {
	Class   Class   `json:"class"`
	Weight  float64 `json:"weight"`
	Metrics int     `json:"metrics"`
	Passed  int     `json:"passed"`
	Score   float64 `json:"score"`
}

// Judgement is the verdict on a release against its baseline.
type Judgement struct {
	Score       float64      `json:"score"`
	Verdict     Verdict      `json:"verdict"`
	Classes     []ClassScore `json:"classes"`
	Comparisons []Comparison `json:"comparisons"`
	Reasons     []string     `json:"reasons,omitempty"`
}

// Judge compares every metric and scores the release as Kayenta does: a
// class scores the weighted share of its metrics that did not regress, the
// release the class-weighted mean. A metric without data counts as not
// passing; a critical metric that regresses or lacks data fails the
// release outright; a release where no metric has data is NoDataVerdict.
func Judge(base, cand map[string][]float64, o JudgeOptions) (Judgement, error) {
	if o.PassScore == 0 {
		o.PassScore = DefaultPassScore
	}
	if o.MarginalScore == 0 {
		o.MarginalScore = DefaultMarginalScore
	}
	if o.PassScore < o.MarginalScore || o.PassScore > 100 || o.MarginalScore < 0 {
		return Judgement{}, fmt.Errorf("regress: scores must satisfy 0 ≤ marginal (%g) ≤ pass (%g) ≤ 100", o.MarginalScore, o.PassScore)
	}
	cw := o.ClassWeights
	if cw == nil {
		cw = DefaultClassWeights()
	}
	cs, err := CompareMetrics(base, cand, o.CompareOptions)
	if err != nil {
		return Judgement{}, err
	}
	j := Judgement{Comparisons: cs}
	if len(cs) == 0 {
		j.Verdict = NoDataVerdict
		j.Reasons = append(j.Reasons, "no metrics to compare")
		return j, nil
	}
	type acc struct {
		w, passW float64
		n, pass  int
	}
	byClass := map[Class]*acc{}
	withData, criticalFail := 0, false
	for _, c := range cs {
		pol := o.Policies[c.Metric]
		w := pol.Weight
		if w <= 0 {
			w = 1
		}
		a := byClass[c.Class]
		if a == nil {
			a = &acc{}
			byClass[c.Class] = a
		}
		a.n++
		a.w += w
		passed := c.Change == Unchanged || c.Change == Improvement
		if passed {
			a.pass++
			a.passW += w
		}
		if c.Change != NoData {
			withData++
		}
		if !passed {
			j.Reasons = append(j.Reasons, fmt.Sprintf("%s: %s", c.Metric, describe(c)))
			if pol.Critical {
				criticalFail = true
				j.Reasons = append(j.Reasons, fmt.Sprintf("%s is critical", c.Metric))
			}
		}
	}
	classes := make([]Class, 0, len(byClass))
	for k := range byClass {
		classes = append(classes, k)
	}
	slices.Sort(classes)
	var total, totalW float64
	for _, k := range classes {
		a := byClass[k]
		w := cw[k]
		s := 100 * a.passW / a.w
		j.Classes = append(j.Classes, ClassScore{Class: k, Weight: w, Metrics: a.n, Passed: a.pass, Score: s})
		total += w * s
		totalW += w
	}
	if totalW > 0 {
		j.Score = total / totalW
	}
	switch {
	case withData == 0:
		j.Verdict, j.Score = NoDataVerdict, 0
		j.Reasons = append(j.Reasons, "no metric has enough data on both sides")
	case criticalFail:
		j.Verdict, j.Score = Fail, 0
	case j.Score >= o.PassScore:
		j.Verdict = Pass
	case j.Score >= o.MarginalScore:
		j.Verdict = Marginal
	default:
		j.Verdict = Fail
	}
	return j, nil
}

func describe(c Comparison) string {
	if c.Change == NoData {
		return "no data (" + c.Note + ")"
	}
	return fmt.Sprintf("%s of %+.1f%% (p=%.3g)", c.Change, c.DeltaPct, c.P)
}
