package regress

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/perfengine/perfengine/regress/internal/synth"
)

// The real-world series in testdata/real (see its README for sources,
// licences and the events annotated) are split into a tuning set, the only
// one looked at while choosing DefaultDetectOptions, a validation set kept
// apart to score the choice, and a holdout set added later and scored only
// once a change was settled, as the validation set had been looked at by
// then.
const realDir = "testdata/real"

// Floors below the scores DefaultDetectOptions reaches (logged by
// TestRealSeries), so a change that makes real series worse fails.
const (
	minRealTuningF1     = 0.85
	minRealValidationF1 = 0.85
)

func loadReal(t testing.TB, set string) []synthCase {
	t.Helper()
	dir := filepath.Join(realDir, set)
	data, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]expected
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	var out []synthCase
	for name, e := range want {
		f, err := os.Open(filepath.Join(dir, name+".csv"))
		if err != nil {
			t.Fatal(err)
		}
		s, err := ReadSeries(f, ReadOptions{})
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out = append(out, synthCase{name, e, s.Values})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// cover is the covering metric of the Turing change-point benchmark: the
// mean, weighted by length, over the true segments of the best Jaccard
// overlap with a predicted segment.
func cover(truth, pred []int, n int) float64 {
	segs := func(cps []int) [][2]int {
		b := append(append([]int{0}, cps...), n)
		sort.Ints(b)
		var out [][2]int
		for i := 0; i+1 < len(b); i++ {
			if b[i] < b[i+1] {
				out = append(out, [2]int{b[i], b[i+1]})
			}
		}
		return out
	}
	var total float64
	ps := segs(pred)
	for _, a := range segs(truth) {
		best := 0.0
		for _, p := range ps {
			inter := min(a[1], p[1]) - max(a[0], p[0])
			if inter <= 0 {
				continue
			}
			union := max(a[1], p[1]) - min(a[0], p[0])
			best = max(best, float64(inter)/float64(union))
		}
		total += float64(a[1]-a[0]) * best
	}
	return total / float64(n)
}

type realScore struct{ f1, cover, zeroF1, zeroCover float64 }

func scoreReal(t testing.TB, cases []synthCase, o DetectOptions, logEach bool) realScore {
	var s realScore
	for _, c := range cases {
		cps, err := Detect(c.values, o)
		if err != nil {
			t.Fatalf("Detect(%s) = %v", c.name, err)
		}
		pred := make([]int, len(cps))
		for i, cp := range cps {
			pred[i] = cp.Index
		}
		f, _, _ := synth.F1(c.Changes, pred, scoreMargin)
		cv := cover(c.Changes, pred, len(c.values))
		zf, _, _ := synth.F1(c.Changes, nil, scoreMargin)
		s.f1 += f
		s.cover += cv
		s.zeroF1 += zf
		s.zeroCover += cover(c.Changes, nil, len(c.values))
		if logEach {
			t.(*testing.T).Logf("  %-18s n=%4d truth %v found %v  F1 %.3f cover %.3f", c.name, len(c.values), c.Changes, pred, f, cv)
		}
	}
	k := float64(len(cases))
	return realScore{s.f1 / k, s.cover / k, s.zeroF1 / k, s.zeroCover / k}
}

// TestRealSeries scores the default detector on the real series: mean F1
// (5-point margin, the start counted as a change, each annotation matched
// once, as TCPD scores) and mean cover, next to the "no change at all"
// baseline.
func TestRealSeries(t *testing.T) {
	for _, set := range []string{"tuning", "validation", "holdout"} {
		cases := loadReal(t, set)
		s := scoreReal(t, cases, DefaultDetectOptions(), true)
		t.Logf("%-10s F1 %.3f cover %.3f  (no change: F1 %.3f cover %.3f; %d series)", set, s.f1, s.cover, s.zeroF1, s.zeroCover, len(cases))
		floor := minRealTuningF1
		if set != "tuning" {
			floor = minRealValidationF1
		}
		if s.f1 < floor {
			t.Errorf("%s F1 = %.3f, want ≥ %.2f", set, s.f1, floor)
		}
	}
}
