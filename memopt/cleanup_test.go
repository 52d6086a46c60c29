package memopt

import (
	"context"
	"errors"
	"slices"
	"testing"
)

func TestRegistryShrinkOrder(t *testing.T) {
	var got []string
	var r Registry
	freed := false
	r.freeOS = func() { freed = true; got = append(got, "freeOS") }
	add := func(name string, prio int, err error) func() {
		return r.Register(name, prio, func(_ context.Context, p Pressure) (int64, error) {
			got = append(got, name+"@"+p.String())
			return 100, err
		})
	}
	add("sessions", 20, nil)
	add("http-cache", 10, nil)
	unreg := add("gone", 5, nil)
	add("thumbnails", 10, errors.New("busy"))
	unreg()

	tests := []struct {
		p         Pressure
		want      []string
		wantFreed int64
		freeOS    bool
	}{
		{p: PressureNone},
		{p: PressureWarning, want: []string{"http-cache@warning", "thumbnails@warning", "sessions@warning"}, wantFreed: 300},
		{p: PressureCritical, want: []string{"http-cache@critical", "thumbnails@critical", "sessions@critical", "freeOS"}, wantFreed: 300, freeOS: true},
	}
	for _, tc := range tests {
		t.Run(tc.p.String(), func(t *testing.T) {
			got, freed = nil, false
			rep, err := r.Shrink(context.Background(), tc.p)
			if !slices.Equal(got, tc.want) {
				t.Errorf("Shrink(%v) ran %v, want %v", tc.p, got, tc.want)
			}
			if rep.Freed != tc.wantFreed || rep.FreedOS != tc.freeOS || freed != tc.freeOS {
				t.Errorf("Shrink(%v) = %+v, want freed %d, FreeOSMemory %v", tc.p, rep, tc.wantFreed, tc.freeOS)
			}
			if tc.p != PressureNone && (err == nil || rep.Steps[1].Error != "busy") {
				t.Errorf("Shrink(%v) error = %v, steps %+v; want thumbnails' error reported", tc.p, err, rep.Steps)
			}
		})
	}
	if r.Len() != 3 {
		t.Errorf("Len() = %d, want 3", r.Len())
	}
}

func TestRegistryShrinkCancelled(t *testing.T) {
	var r Registry
	ran := 0
	r.Register("a", 1, func(context.Context, Pressure) (int64, error) { ran++; return 0, nil })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.Shrink(ctx, PressureCritical); !errors.Is(err, context.Canceled) || ran != 0 {
		t.Errorf("Shrink(cancelled) = %v after %d runs, want context.Canceled and none", err, ran)
	}
}
