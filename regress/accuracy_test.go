package regress

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/perfengine/perfengine/regress/internal/synth"
)

// Regenerate the annotated series with
//
//	go test ./regress -run TestAccuracy -update
var update = flag.Bool("update", false, "rewrite testdata files")

const (
	synthDir     = "testdata/synth"
	synthSeed    = 20261127
	synthPerCat  = 8
	scoreMargin  = 5
	minOverallF1 = 0.85 // the tuned default reached well above this; see TestAccuracy's log
)

type expected struct {
	Category string `json:"category"`
	Changes  []int  `json:"changes"`
}

func writeSynth(t *testing.T) {
	t.Helper()
	if err := os.MkdirAll(synthDir, 0o755); err != nil {
		t.Fatal(err)
	}
	want := map[string]expected{}
	for _, c := range synth.Generate(synthSeed, synthPerCat) {
		var b strings.Builder
		b.WriteString("value\n")
		for _, v := range c.Values {
			b.WriteString(strconv.FormatFloat(v, 'g', 6, 64))
			b.WriteByte('\n')
		}
		if err := os.WriteFile(filepath.Join(synthDir, c.Name+".csv"), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		want[c.Name] = expected{c.Category, append([]int{}, c.Changes...)}
	}
	data, _ := json.MarshalIndent(want, "", " ")
	if err := os.WriteFile(filepath.Join(synthDir, "expected.json"), append(data, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

type synthCase struct {
	name string
	expected
	values []float64
}

func loadSynth(t testing.TB) []synthCase {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(synthDir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]expected
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	var out []synthCase
	for name, e := range want {
		f, err := os.Open(filepath.Join(synthDir, name+".csv"))
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

type score struct{ f1, p, r float64 }

func evaluate(t testing.TB, cases []synthCase, o DetectOptions) (overall score, byCat map[string]score) {
	sums := map[string]*[4]float64{}
	var tot [4]float64
	for _, c := range cases {
		cps, err := Detect(c.values, o)
		if err != nil {
			t.Fatalf("Detect(%s) = %v", c.name, err)
		}
		pred := make([]int, len(cps))
		for i, cp := range cps {
			pred[i] = cp.Index
		}
		f, p, r := synth.F1(c.Changes, pred, scoreMargin)
		s := sums[c.Category]
		if s == nil {
			s = new([4]float64)
			sums[c.Category] = s
		}
		for i, v := range []float64{f, p, r, 1} {
			s[i] += v
			tot[i] += v
		}
	}
	byCat = map[string]score{}
	for k, s := range sums {
		byCat[k] = score{s[0] / s[3], s[1] / s[3], s[2] / s[3]}
	}
	return score{tot[0] / tot[3], tot[1] / tot[3], tot[2] / tot[3]}, byCat
}

// TestAccuracy scores the default detector, the parameter set `regress
// detect` uses, on the annotated synthetic series: mean F1 over series with
// a 5-point margin, as the Turing change-point benchmark scores. With the
// peers:
//
//	go test ./regress -run TestAccuracy -v -tune
func TestAccuracy(t *testing.T) {
	if *update {
		writeSynth(t)
	}
	cases := loadSynth(t)
	overall, byCat := evaluate(t, cases, DefaultDetectOptions())
	for _, cat := range synth.Categories {
		s := byCat[cat]
		t.Logf("%-10s F1 %.3f  precision %.3f  recall %.3f", cat, s.f1, s.p, s.r)
	}
	t.Logf("overall    F1 %.3f  precision %.3f  recall %.3f  (%d series)", overall.f1, overall.p, overall.r, len(cases))
	// The peers, on the same series, with -tune (they double the test's
	// time): binary segmentation with the same settings, and Apache
	// Otava's e-divisive with its defaults.
	if *tune {
		bs := DefaultDetectOptions()
		bs.Method = MethodBinSeg
		b, _ := evaluate(t, cases, bs)
		e, _ := evaluate(t, cases, DetectOptions{Method: MethodEDivisive})
		t.Logf("peers      binseg F1 %.3f, e-divisive (Otava defaults) F1 %.3f", b.f1, e.f1)
	}
	// Series from another seed were never seen while tuning.
	var held []synthCase
	for _, c := range synth.Generate(synthSeed+1, synthPerCat) {
		held = append(held, synthCase{c.Name, expected{c.Category, c.Changes}, c.Values})
	}
	h, _ := evaluate(t, held, DefaultDetectOptions())
	t.Logf("held-out   F1 %.3f  precision %.3f  recall %.3f  (%d series, seed %d)", h.f1, h.p, h.r, len(held), synthSeed+1)
	if overall.f1 < minOverallF1 || h.f1 < minOverallF1 {
		t.Errorf("overall F1 = %.3f, want ≥ %.2f", overall.f1, minOverallF1)
	}
}

var tune = flag.Bool("tune", false, "grid-search detector parameters on testdata/synth (TestTune) and score the peers (TestAccuracy)")

// TestTune is how DefaultDetectOptions was chosen:
//
//	go test ./regress -run TestTune -tune -v
func TestTune(t *testing.T) {
	if !*tune {
		t.Skip("tuning runs only with -tune")
	}
	cases := loadSynth(t)
	type res struct {
		o DetectOptions
		s score
	}
	var all []res
	for _, m := range []Method{MethodBinSeg, MethodPELT} {
		for _, cost := range []Cost{CostMeanVar, CostMean} {
			for _, pen := range []float64{1, 2, 3, 5} {
				for _, ms := range []int{5} {
					for _, ds := range []float64{0, 4} {
						for _, mp := range []float64{0, 1e-3, 1e-5} {
							for _, me := range []float64{0, 0.5, 1} {
								o := DetectOptions{Method: m, Cost: cost, Penalty: pen, MinSegment: ms, Despike: ds, MaxP: mp, MinEffect: me}
								s, _ := evaluate(t, cases, o)
								all = append(all, res{o, s})
							}
						}
					}
				}
			}
		}
	}
	s, _ := evaluate(t, cases, DetectOptions{Method: MethodEDivisive})
	all = append(all, res{DetectOptions{Method: MethodEDivisive}, s})
	sort.Slice(all, func(i, j int) bool { return all[i].s.f1 > all[j].s.f1 })
	for _, r := range all[:min(25, len(all))] {
		fmt.Printf("%.4f p=%.3f r=%.3f %+v\n", r.s.f1, r.s.p, r.s.r, r.o)
	}
	fmt.Printf("edivisive (Otava defaults): %.4f\n", s.f1)
	_ = math.Abs
}
