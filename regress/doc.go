// Package regress finds performance regressions: it tells whether a
// release is slower than its baseline, where a series changed level, and
// rolls back when a release keeps failing.
//
// # Comparing releases
//
// Compare and CompareMetrics put a candidate sample against a baseline with
// the Mann–Whitney U test (exact for small samples without ties, tie
// corrected otherwise), Welch's t-test with an interval of the mean
// difference, the Hodges–Lehmann shift with its interval and a seeded
// bootstrap interval of the median ratio. P-values are corrected across
// metrics (Holm by default, or Benjamini–Hochberg). A metric regresses only
// when the difference is both significant and large: the Sensitivity
// (conservative, moderate, aggressive) sets α and the minimum change of the
// median. WriteReport prints the result the way benchstat does. Judge turns
// comparisons into a 0–100 score per class (performance, stability,
// quality, availability) with Kayenta-style weights and critical metrics,
// and a verdict: pass, marginal, fail, or no_data, which never passes.
//
// # Change points
//
// Detect finds where a series changes, offline: PELT (default, segments of
// at most 1000 points so a series without changes costs O(n), not O(n²);
// binary segmentation above PELTMaxPoints) or binary segmentation under a Gaussian mean-and-variance cost with a
// BIC-scaled penalty, or E-divisive means as Apache Otava runs it. Spikes
// are smoothed away before the search, segments have a minimum length, a
// merge pass drops change points that are not significant or too small, and
// the steps are weighed, by penalised cost, against steps on a linear trend
// and steps on a seasonal profile, so neither a steady trend nor a season
// is read as a staircase of changes. Real series are seldom white noise
// between their changes, so when the residuals of the chosen model are
// strongly autocorrelated (lag-one ρ above 0.5) the search runs again with
// the penalty and the tests scaled by the long-run variance factor
// (1+ρ)/(1−ρ), the BIC under AR(1) noise; and a change point between sloped
// sides must show a jump, a gap between lines fitted on either side (or a
// change of spread around them), so a smooth curve cut into steps keeps no
// cut. A positive seasonal series whose cycle swings in proportion to its
// level (Tukey's spread-versus-level slope above 1/2 over whole cycles) is
// searched on the log scale, where its season is one pattern, not a
// widening funnel read as changes of spread.
// Online is a robust CUSUM for live series, O(1) per point. Both tolerate
// missing values (NaN).
//
// DefaultDetectOptions was tuned for F1 (5-point margin) on the annotated
// synthetic series in testdata/synth (steps in mean and variance, trends,
// heavy tails, outliers, spikes, seasonality, autocorrelation, quantised
// counts, short and long series) and on the real tuning series in
// testdata/real/tuning; testdata/real/validation, real series with
// documented events, was kept apart to score it.
//
// # Baselines and rollback
//
// A Detector keeps baselines per release in a store.Store and compares
// releases or live data against them. A Rollbacker performs rollbacks
// through an Actuator (a command or a webhook), manually or after K failed
// verdicts in a row, with a cooldown, a dry-run mode, a record of each one,
// and a guard against rolling back and forth.
//
// # Example
//
//	base := []float64{101, 99, 103, 98, 100, 102, 97, 100}
//	cand := []float64{121, 118, 125, 119, 122, 120, 124, 117}
//	c, err := regress.Compare("response_time_ms", base, cand, regress.CompareOptions{})
//	if err != nil {
//		return err
//	}
//	fmt.Println(c.Change) // regression
//
//	cps, _ := regress.Detect(latencies, regress.DefaultDetectOptions())
//	for _, cp := range cps {
//		fmt.Printf("at %d: %.1f → %.1f\n", cp.Index, cp.MeanBefore, cp.MeanAfter)
//	}
package regress
