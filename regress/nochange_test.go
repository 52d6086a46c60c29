package regress

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The golden series in testdata/nochange have no change point by
// construction: a smooth curve or a steady season plus noise, each a
// shape the detector used to read as a staircase. Regenerate them with
//
//	go test ./regress -run TestNoChangeGolden -update
var noChangeSeries = map[string]func(i int, rng *rand.Rand) float64{
	// a logistic growth curve, like a population, with noise of 5
	"logistic_growth": func(i int, rng *rand.Rand) float64 {
		return 1000/(1+math.Exp(-float64(i-400)/120)) + 5*rng.NormFloat64()
	},
	// a quadratic trend with unit noise
	"quadratic_trend": func(i int, rng *rand.Rand) float64 {
		x := float64(i) / 100
		return 50 + 8*x*x + rng.NormFloat64()
	},
	// a linear trend with heavy-tailed (Student t, 3 df) noise
	"linear_trend_heavy_tail": func(i int, rng *rand.Rand) float64 {
		t := rng.NormFloat64() / math.Sqrt((sq(rng.NormFloat64())+sq(rng.NormFloat64())+sq(rng.NormFloat64()))/3)
		return 200 + 0.05*float64(i) + 2*t
	},
	// a monthly season of amplitude 10 on a level of 100, unit noise
	"monthly_season": func(i int, rng *rand.Rand) float64 {
		return 100 + 10*math.Sin(2*math.Pi*float64(i)/12) + rng.NormFloat64()
	},
	// a daily cycle of 24 points on a slow trend, with AR(1) noise
	"daily_cycle_trend": func() func(i int, rng *rand.Rand) float64 {
		var e float64
		return func(i int, rng *rand.Rand) float64 {
			e = 0.6*e + rng.NormFloat64()
			return 40 + 0.01*float64(i) + 6*math.Cos(2*math.Pi*float64(i)/24) + e
		}
	}(),
}

func sq(x float64) float64 { return x * x }

func TestNoChangeGolden(t *testing.T) {
	dir := filepath.Join("testdata", "nochange")
	for name, gen := range noChangeSeries {
		path := filepath.Join(dir, name+".csv")
		if *update {
			rng := rand.New(rand.NewPCG(7, uint64(len(name))))
			var b strings.Builder
			b.WriteString("value\n")
			for i := range 800 {
				b.WriteString(strconv.FormatFloat(gen(i, rng), 'g', 8, 64))
				b.WriteByte('\n')
			}
			if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		t.Run(name, func(t *testing.T) {
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			s, err := ReadSeries(f, ReadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			cps, err := Detect(s.Values, DefaultDetectOptions())
			if err != nil {
				t.Fatal(err)
			}
			if len(cps) != 0 {
				idx := make([]int, len(cps))
				for i, c := range cps {
					idx[i] = c.Index
				}
				t.Errorf("Detect(%s) = change points at %v, want none", name, idx)
			}
		})
	}
}
