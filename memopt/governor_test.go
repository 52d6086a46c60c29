package memopt

import (
	"errors"
	"math"
	"testing"
	"time"
)

type fakeKnobs map[Knob]int64

func (f fakeKnobs) get(k Knob) int64          { return f[k] }
func (f fakeKnobs) set(k Knob, v int64) int64 { old := f[k]; f[k] = v; return old }

func testGovernor(t *testing.T, env map[string]string, knobs fakeKnobs, cgroup uint64) *Governor {
	t.Helper()
	o, err := Options{Getenv: func(k string) string { return env[k] }}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	return newGovernor(o, cgroup, knobs)
}

func defaultKnobs() fakeKnobs { return fakeKnobs{KnobGOGC: 100, KnobMemoryLimit: math.MaxInt64} }

func TestGovernorRecommend(t *testing.T) {
	const gib = 1 << 30
	tests := []struct {
		name   string
		env    map[string]string
		knobs  fakeKnobs
		cgroup uint64
		owned  map[Knob]int64
		in     GovernorInput
		want   []Tuning // Reason ignored
	}{
		{name: "limit from cgroup", knobs: defaultKnobs(), cgroup: gib,
			want: []Tuning{{Knob: KnobMemoryLimit, From: math.MaxInt64, To: gib * 9 / 10}}},
		{name: "no cgroup, nothing to do", knobs: defaultKnobs()},
		{name: "user GOMEMLIMIT in env", env: map[string]string{"GOMEMLIMIT": "500MiB"}, knobs: defaultKnobs(), cgroup: gib},
		{name: "user limit set in code", knobs: fakeKnobs{KnobGOGC: 100, KnobMemoryLimit: 200 << 20}, cgroup: gib},
		{name: "warning lowers GOGC", knobs: defaultKnobs(), in: GovernorInput{Usage: 0.85},
			want: []Tuning{{Knob: KnobGOGC, From: 100, To: 75, Moderate: true}}},
		{name: "critical drops GOGC to the floor", knobs: defaultKnobs(), in: GovernorInput{Usage: 0.97},
			want: []Tuning{{Knob: KnobGOGC, From: 100, To: 50, Moderate: true}}},
		{name: "user GOGC respected under pressure", env: map[string]string{"GOGC": "200"}, knobs: fakeKnobs{KnobGOGC: 200, KnobMemoryLimit: math.MaxInt64}, in: GovernorInput{Usage: 0.97}},
		{name: "high GC CPU, plentiful memory raises GOGC", knobs: defaultKnobs(), in: GovernorInput{Usage: 0.2, GCCPUFraction: 0.2},
			want: []Tuning{{Knob: KnobGOGC, From: 100, To: 150, Moderate: true}}},
		{name: "raise stops at the ceiling", knobs: fakeKnobs{KnobGOGC: 400, KnobMemoryLimit: math.MaxInt64}, in: GovernorInput{Usage: 0.2, GCCPUFraction: 0.2}},
		{name: "thrashing backs off our limit", knobs: defaultKnobs(), cgroup: gib,
			owned: map[Knob]int64{KnobMemoryLimit: gib * 9 / 10}, in: GovernorInput{Usage: 0.9, Thrashing: true},
			want: []Tuning{{Knob: KnobMemoryLimit, From: gib * 9 / 10, To: gib*9/10 + gib/20}}},
		{name: "thrashing restores GOGC", knobs: fakeKnobs{KnobGOGC: 50, KnobMemoryLimit: math.MaxInt64}, in: GovernorInput{Usage: 0.9, Thrashing: true},
			want: nil}, // GOGC 50 at start is the user's (differs from 100)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := testGovernor(t, tc.env, tc.knobs, tc.cgroup)
			for k, v := range tc.owned { // as if the governor had set them
				g.owned[k] = v
				tc.knobs[k] = v
			}
			got := g.Recommend(tc.in)
			if len(got) != len(tc.want) {
				t.Fatalf("Recommend(%+v) = %v, want %v", tc.in, got, tc.want)
			}
			for i := range got {
				w := tc.want[i]
				w.Reason = got[i].Reason
				if got[i] != w || got[i].Reason == "" {
					t.Errorf("Recommend(%+v)[%d] = %+v, want %+v with a reason", tc.in, i, got[i], w)
				}
			}
		})
	}
}

func TestGovernorApplyUndo(t *testing.T) {
	knobs := defaultKnobs()
	g := testGovernor(t, nil, knobs, 1<<30)
	ts := g.Recommend(GovernorInput{Usage: 0.85})
	if len(ts) != 2 {
		t.Fatalf("Recommend() = %v, want a limit and a GOGC tuning", ts)
	}
	for _, tu := range ts {
		if _, err := g.Apply(tu); err != nil {
			t.Fatalf("Apply(%v): %v", tu, err)
		}
	}
	if knobs[KnobGOGC] != 75 || knobs[KnobMemoryLimit] != (1<<30)*9/10 {
		t.Fatalf("after Apply knobs = %v", knobs)
	}
	if _, err := g.Apply(ts[1]); !errors.Is(err, ErrStale) {
		t.Errorf("second Apply error = %v, want ErrStale", err)
	}
	// Right after a change, the same pressure proposes nothing more.
	if again := g.Recommend(GovernorInput{Usage: 0.85}); len(again) != 0 {
		t.Errorf("Recommend() during the cooldown = %v, want nothing", again)
	}
	g.o.Now = func() time.Time { return time.Now().Add(2 * time.Minute) }
	// Pressure gone: relaxing walks GOGC back.
	relax := g.Recommend(GovernorInput{Usage: 0.3})
	if len(relax) != 1 || relax[0].To <= 75 || relax[0].To > 100 {
		t.Errorf("Recommend(relaxed) = %v, want GOGC back towards 100", relax)
	}
	for _, tu := range ts {
		if err := g.Undo(tu); err != nil {
			t.Fatalf("Undo(%v): %v", tu, err)
		}
	}
	if knobs[KnobGOGC] != 100 || knobs[KnobMemoryLimit] != math.MaxInt64 {
		t.Errorf("after Undo knobs = %v, want the originals", knobs)
	}
	if err := g.Undo(ts[0]); !errors.Is(err, ErrStale) {
		t.Errorf("second Undo error = %v, want ErrStale", err)
	}
	h := g.History()
	if len(h) != 4 || !h[0].Undone || !h[1].Undone {
		t.Errorf("History() = %+v, want 2 changes marked undone and 2 undo records", h)
	}
}

func TestGovernorRefusesUserSettings(t *testing.T) {
	knobs := fakeKnobs{KnobGOGC: 100, KnobMemoryLimit: math.MaxInt64}
	g := testGovernor(t, map[string]string{"GOGC": "100", "GOMEMLIMIT": "1GiB"}, knobs, 1<<30)
	gogc, lim := g.UserSettings()
	if gogc == "" || lim == "" {
		t.Fatalf("UserSettings() = %q, %q; want both the user's", gogc, lim)
	}
	for _, tu := range []Tuning{{Knob: KnobGOGC, From: 100, To: 50}, {Knob: KnobMemoryLimit, From: math.MaxInt64, To: 1 << 29}} {
		if _, err := g.Apply(tu); !errors.Is(err, ErrUserSetting) {
			t.Errorf("Apply(%v) error = %v, want ErrUserSetting", tu, err)
		}
	}
	if knobs[KnobGOGC] != 100 || knobs[KnobMemoryLimit] != math.MaxInt64 {
		t.Errorf("knobs = %v, want untouched", knobs)
	}
}

func TestGovernorBounds(t *testing.T) {
	g := testGovernor(t, nil, defaultKnobs(), 1<<30)
	for _, tu := range []Tuning{
		{Knob: KnobGOGC, From: 100, To: 5},
		{Knob: KnobGOGC, From: 100, To: 100000},
		{Knob: KnobMemoryLimit, From: math.MaxInt64, To: 1 << 40},
		{Knob: "bogus", From: 1, To: 2},
	} {
		if _, err := g.Apply(tu); err == nil {
			t.Errorf("Apply(%v) = nil error, want out of bounds", tu)
		}
	}
}

// The real runtime: apply and undo a GOGC change, leaving the process as it
// was.
func TestGovernorRealRuntime(t *testing.T) {
	g, err := NewGovernor(Options{Getenv: func(string) string { return "" }}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if gogc, _ := g.UserSettings(); gogc != "" {
		t.Skipf("GOGC is not the default here: %s", gogc)
	}
	tu := Tuning{Knob: KnobGOGC, From: 100, To: 80, Moderate: true, Reason: "test"}
	if _, err := g.Apply(tu); err != nil {
		t.Fatal(err)
	}
	if got := (realKnobs{}).get(KnobGOGC); got != 80 {
		t.Errorf("GOGC after Apply = %d, want 80", got)
	}
	if err := g.Undo(tu); err != nil {
		t.Fatal(err)
	}
	if got := (realKnobs{}).get(KnobGOGC); got != 100 {
		t.Errorf("GOGC after Undo = %d, want 100", got)
	}
}
