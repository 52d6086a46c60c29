package regress

import (
	"math"
	"testing"
)

func TestOnline(t *testing.T) {
	base := func(i int) float64 { return 100 + float64(i%3) } // 100..102
	tests := []struct {
		name      string
		values    func(i int) float64
		n         int
		wantAlarm bool
		atLeast   int // alarm index bounds
		atMost    int
	}{
		{"steady", base, 500, false, 0, 0},
		{"step up 50%", func(i int) float64 {
			if i >= 100 {
				return 150 + base(i)
			}
			return base(i)
		}, 200, true, 100, 104},
		{"single spike", func(i int) float64 {
			if i == 50 {
				return 10_000
			}
			return base(i)
		}, 200, false, 0, 0},
		{"two spikes", func(i int) float64 {
			if i == 50 || i == 120 {
				return 10_000
			}
			return base(i)
		}, 200, false, 0, 0},
		{"missing values", func(i int) float64 {
			if i%5 == 0 {
				return math.NaN()
			}
			if i >= 100 {
				return 300
			}
			return base(i)
		}, 200, true, 100, 106},
		// +3% is real but below the 10% minimum effect.
		{"small drift", func(i int) float64 {
			if i >= 100 {
				return base(i) + 3
			}
			return base(i)
		}, 300, false, 0, 0},
		// The small shift is followed silently; the large one after it is
		// measured from the new level.
		{"small then large", func(i int) float64 {
			switch {
			case i >= 150:
				return 160 + base(i)
			case i >= 60:
				return 4 + base(i)
			}
			return base(i)
		}, 250, true, 150, 154},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := NewOnline(OnlineOptions{})
			var got []Alarm
			for i := range tc.n {
				if a, ok := d.Add(tc.values(i)); ok {
					got = append(got, a)
				}
			}
			if !tc.wantAlarm {
				if len(got) > 0 {
					t.Fatalf("alarms %+v, want none", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("alarms %+v, want one", got)
			}
			a := got[0]
			if a.Index < tc.atLeast || a.Index > tc.atMost || !a.Up || a.Start < tc.atLeast-1 || a.Start > a.Index {
				t.Errorf("alarm %+v, want up, confirmed in [%d, %d]", a, tc.atLeast, tc.atMost)
			}
		})
	}
}

func TestOnlineRelearns(t *testing.T) {
	d := NewOnline(OnlineOptions{Warmup: 5})
	var alarms []Alarm
	for i := range 300 {
		v := 10.0
		switch {
		case i >= 200:
			v = 40
		case i >= 100:
			v = 20
		}
		v += float64(i%2) * 0.1
		if a, ok := d.Add(v); ok {
			alarms = append(alarms, a)
		}
	}
	if len(alarms) != 2 || abs(alarms[0].Start-100) > 1 || abs(alarms[1].Start-200) > 1 {
		t.Fatalf("alarms %+v, want changes starting at 100 and 200", alarms)
	}
	if lvl, _ := d.Reference(); lvl < 39 || lvl > 41 {
		t.Errorf("reference %g after the second change, want ≈40", lvl)
	}
}
