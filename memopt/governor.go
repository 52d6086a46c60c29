package memopt

import (
	"fmt"
	"math"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"sync"
	"time"
)

// Knob names a runtime setting the governor moves.
type Knob string

// Knobs.
const (
	KnobGOGC        Knob = "gogc"       // GC percent, debug.SetGCPercent
	KnobMemoryLimit Knob = "gomemlimit" // soft limit in bytes, debug.SetMemoryLimit
)

// Tuning is a change the governor proposes: set Knob from From to To.
type Tuning struct {
	Knob   Knob   `json:"knob"`
	From   int64  `json:"from"`
	To     int64  `json:"to"`
	Reason string `json:"reason"`
	// Moderate is set for changes that trade memory for CPU or back; the
	// rest (sizing the limit from the cgroup, backing off) are safe.
	Moderate bool `json:"moderate"`
}

func (t Tuning) String() string {
	return fmt.Sprintf("set %s %s → %s: %s", t.Knob, knobValue(t.Knob, t.From), knobValue(t.Knob, t.To), t.Reason)
}

func knobValue(k Knob, v int64) string {
	switch {
	case k == KnobMemoryLimit && v == math.MaxInt64:
		return "off"
	case k == KnobMemoryLimit:
		return formatBytes(float64(v))
	case v < 0:
		return "off"
	}
	return strconv.FormatInt(v, 10)
}

// Change is an applied tuning, kept so it can be undone.
type Change struct {
	Tuning
	Time   time.Time `json:"time"`
	Undone bool      `json:"undone"`
}

// runtimeKnobs reads and sets the process's GC settings. Tests substitute
// it: the real settings are process-wide and would leak between tests.
type runtimeKnobs interface {
	get(Knob) int64
	set(Knob, int64) int64
}

type realKnobs struct{}

func (realKnobs) get(k Knob) int64 {
	// runtime/metrics reads both without the set-and-restore dance that
	// debug.SetGCPercent would need, which could race with the user.
	s := []metrics.Sample{{Name: rmGOGC}}
	if k == KnobMemoryLimit {
		s[0].Name = rmMemLimit
	}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		if k == KnobMemoryLimit {
			return debug.SetMemoryLimit(-1)
		}
		return 100
	}
	v := s[0].Value.Uint64()
	if k == KnobGOGC && v > math.MaxInt32 {
		return -1 // GOGC=off reads as a huge percent
	}
	return int64(min(v, math.MaxInt64))
}

func (realKnobs) set(k Knob, v int64) int64 {
	if k == KnobMemoryLimit {
		return debug.SetMemoryLimit(v)
	}
	return int64(debug.SetGCPercent(int(v)))
}

// Governor tunes GOGC and GOMEMLIMIT within bounds. It never touches a
// setting the user chose: GOGC or GOMEMLIMIT in the environment, or a value
// set in code (one that differs from the runtime default when the governor
// was created and that the governor did not set). Every change is recorded
// and can be undone. Safe for concurrent use.
type Governor struct {
	o     Options
	knobs runtimeKnobs
	// cgroup limit in bytes, 0 when none.
	cgroup uint64

	mu       sync.Mutex
	userGOGC string // why GOGC is the user's, "" if it is not
	userLim  string
	origGOGC int64 // GOGC when the governor started
	history  []Change
	owned    map[Knob]int64 // last value the governor set, per knob
	changed  map[Knob]time.Time
}

// NewGovernor returns a governor of this process with o's defaults filled
// in. cgroupLimit is 0 when there is none.
func NewGovernor(o Options, cgroupLimit uint64) (*Governor, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	return newGovernor(o, cgroupLimit, realKnobs{}), nil
}

func newGovernor(o Options, cgroupLimit uint64, k runtimeKnobs) *Governor {
	g := &Governor{o: o, knobs: k, cgroup: cgroupLimit, owned: map[Knob]int64{}, changed: map[Knob]time.Time{}}
	getenv := o.Getenv
	if v := getenv("GOGC"); v != "" {
		g.userGOGC = "GOGC=" + v + " in the environment"
	} else if cur := k.get(KnobGOGC); cur != 100 {
		g.userGOGC = fmt.Sprintf("GOGC set to %s in code", knobValue(KnobGOGC, cur))
	}
	if v := getenv("GOMEMLIMIT"); v != "" {
		g.userLim = "GOMEMLIMIT=" + v + " in the environment"
	} else if cur := k.get(KnobMemoryLimit); cur != math.MaxInt64 {
		g.userLim = "GOMEMLIMIT set to " + knobValue(KnobMemoryLimit, cur) + " in code"
	}
	g.origGOGC = k.get(KnobGOGC)
	return g
}

// UserSettings reports which settings belong to the user and why; an empty
// string means the governor may move it.
func (g *Governor) UserSettings() (gogc, memlimit string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.userGOGC, g.userLim
}

// GovernorInput is what the governor decides on.
type GovernorInput struct {
	// Usage is memory in use as a fraction of the limit (0 when unknown).
	Usage float64
	// GCCPUFraction is the share of CPU the GC took recently.
	GCCPUFraction float64
	// Thrashing reports the GC CPU limiter engaged recently.
	Thrashing bool
}

// Recommend proposes the tunings the input calls for, at most one per knob.
// It reads the runtime's current values, so a tuning's From is what an
// Apply will check.
func (g *Governor) Recommend(in GovernorInput) []Tuning {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []Tuning
	curLim := g.knobs.get(KnobMemoryLimit)
	curGC := g.knobs.get(KnobGOGC)

	if g.userLim == "" && g.cgroup > 0 {
		want := int64(float64(g.cgroup) * (1 - g.o.LimitHeadroom))
		_, ours := g.owned[KnobMemoryLimit]
		switch {
		case in.Thrashing && ours && curLim < int64(g.cgroup):
			// The limiter engages when the GC would need more than half the
			// CPU to hold the limit: the heap does not fit. Give back half
			// of the headroom rather than let the service crawl.
			to := min(int64(g.cgroup), curLim+int64(float64(g.cgroup)*g.o.LimitHeadroom/2))
			if to > curLim {
				out = append(out, Tuning{Knob: KnobMemoryLimit, From: curLim, To: to,
					Reason: "GC CPU limiter engaged: the heap thrashes against the limit, backing off"})
			}
		case curLim == math.MaxInt64 && !in.Thrashing:
			out = append(out, Tuning{Knob: KnobMemoryLimit, From: curLim, To: want,
				Reason: fmt.Sprintf("cgroup limit %s with %.0f%% headroom", formatBytes(float64(g.cgroup)), 100*g.o.LimitHeadroom)})
		}
	}

	// A GOGC change needs time to show in the samples; without a pause the
	// same pressure would ratchet GOGC to its floor one cycle after another.
	cooling := g.o.Now().Sub(g.changed[KnobGOGC]) < g.o.TuneCooldown
	if g.userGOGC == "" && curGC > 0 && (!cooling || in.Thrashing) {
		lo, hi := int64(g.o.GOGCMin), int64(g.o.GOGCMax)
		switch {
		case in.Thrashing && curGC < g.origGOGC:
			out = append(out, Tuning{Knob: KnobGOGC, From: curGC, To: g.origGOGC,
				Reason: "GC CPU limiter engaged: restoring GOGC rather than collecting harder"})
		case in.Usage >= g.o.CriticalRatio && curGC > lo:
			out = append(out, Tuning{Knob: KnobGOGC, From: curGC, To: lo, Moderate: true,
				Reason: fmt.Sprintf("memory at %.0f%% of the limit (critical): collect more often", 100*in.Usage)})
		case in.Usage >= g.o.WarningRatio && curGC > lo && !in.Thrashing:
			to := max(lo, curGC*3/4)
			out = append(out, Tuning{Knob: KnobGOGC, From: curGC, To: to, Moderate: true,
				Reason: fmt.Sprintf("memory at %.0f%% of the limit (warning): collect more often", 100*in.Usage)})
		case in.GCCPUFraction >= g.o.HighGCCPU && in.Usage > 0 && in.Usage < g.o.PlentifulRatio && curGC < hi:
			to := min(hi, curGC*3/2)
			out = append(out, Tuning{Knob: KnobGOGC, From: curGC, To: to, Moderate: true,
				Reason: fmt.Sprintf("GC takes %.0f%% of CPU while memory is at %.0f%% of the limit: trade memory for CPU", 100*in.GCCPUFraction, 100*in.Usage)})
		case in.Usage > 0 && in.Usage < g.o.WarningRatio*0.9 && in.GCCPUFraction < g.o.HighGCCPU && curGC < g.origGOGC:
			// Pressure passed: walk back towards where we started.
			to := min(g.origGOGC, curGC*4/3+1)
			out = append(out, Tuning{Knob: KnobGOGC, From: curGC, To: to,
				Reason: fmt.Sprintf("memory back at %.0f%% of the limit: relaxing GOGC towards %d", 100*in.Usage, g.origGOGC)})
		}
	}
	return out
}

// Apply makes a tuning if the runtime still has t.From, and records it. It
// refuses settings chosen by the user (ErrUserSetting) and settings changed
// since the tuning was proposed (ErrStale).
func (g *Governor) Apply(t Tuning) (Change, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.checkUser(t.Knob); err != nil {
		return Change{}, err
	}
	if err := g.checkBounds(t); err != nil {
		return Change{}, err
	}
	if cur := g.knobs.get(t.Knob); cur != t.From {
		return Change{}, fmt.Errorf("%w: %s is %s, the tuning expected %s", ErrStale, t.Knob, knobValue(t.Knob, cur), knobValue(t.Knob, t.From))
	}
	g.knobs.set(t.Knob, t.To)
	g.owned[t.Knob] = t.To
	c := Change{Tuning: t, Time: g.o.Now()}
	g.changed[t.Knob] = c.Time
	g.history = append(g.history, c)
	return c, nil
}

// Undo restores t.From if the runtime still has t.To.
func (g *Governor) Undo(t Tuning) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.checkUser(t.Knob); err != nil {
		return err
	}
	if cur := g.knobs.get(t.Knob); cur != t.To {
		return fmt.Errorf("%w: %s is %s, not the %s the change set", ErrStale, t.Knob, knobValue(t.Knob, cur), knobValue(t.Knob, t.To))
	}
	g.knobs.set(t.Knob, t.From)
	if t.From == math.MaxInt64 && t.Knob == KnobMemoryLimit || t.Knob == KnobGOGC && t.From == g.origGOGC {
		delete(g.owned, t.Knob)
	} else {
		g.owned[t.Knob] = t.From
	}
	for i := len(g.history) - 1; i >= 0; i-- {
		h := &g.history[i]
		if h.Knob == t.Knob && h.From == t.From && h.To == t.To && !h.Undone {
			h.Undone = true
			break
		}
	}
	g.history = append(g.history, Change{Tuning: Tuning{Knob: t.Knob, From: t.To, To: t.From, Reason: "undo: " + t.Reason}, Time: g.o.Now()})
	return nil
}

func (g *Governor) checkUser(k Knob) error {
	switch {
	case k == KnobGOGC && g.userGOGC != "":
		return fmt.Errorf("%w: %s", ErrUserSetting, g.userGOGC)
	case k == KnobMemoryLimit && g.userLim != "":
		return fmt.Errorf("%w: %s", ErrUserSetting, g.userLim)
	case k != KnobGOGC && k != KnobMemoryLimit:
		return fmt.Errorf("memopt: unknown knob %q", k)
	}
	return nil
}

// checkBounds keeps a tuning that comes back from outside (an approved
// action read from a store) inside what the governor would propose.
func (g *Governor) checkBounds(t Tuning) error {
	switch t.Knob {
	case KnobGOGC:
		if (t.To < int64(g.o.GOGCMin) || t.To > int64(g.o.GOGCMax)) && t.To != g.origGOGC {
			return fmt.Errorf("memopt: GOGC %d outside [%d, %d]", t.To, g.o.GOGCMin, g.o.GOGCMax)
		}
	case KnobMemoryLimit:
		if t.To != math.MaxInt64 && (t.To < 64<<20 || (g.cgroup > 0 && t.To > int64(g.cgroup))) {
			return fmt.Errorf("memopt: memory limit %s outside [64 MiB, cgroup limit]", knobValue(t.Knob, t.To))
		}
	}
	return nil
}

// History returns every change, oldest first.
func (g *Governor) History() []Change {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]Change(nil), g.history...)
}
