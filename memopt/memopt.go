package memopt

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/google/pprof/profile"
)

// maxProfiledGoroutines bounds the goroutine dumps: a debug=2 dump stops
// the world while it walks every stack, which is a pause worth taking once a
// minute for thousands of goroutines but not for hundreds of thousands.
const maxProfiledGoroutines = 20000

// maxSnapshots bounds the profiles kept as baselines per kind.
const maxSnapshots = 8

// Optimizer watches this process's memory: it samples the runtime, finds
// heap and goroutine leaks and names where they grow, proposes GC tunings
// and sheds memory under pressure. Create it with New. Safe for concurrent
// use.
type Optimizer struct {
	o       Options
	sampler *Sampler
	det     *Detector
	gov     *Governor
	reg     Registry
	cgroup  CgroupLimit
	cgErr   error

	captureHeap       func() ([]byte, error)
	captureGoroutines func() ([]byte, error)
	captureLeaked     func() ([]byte, bool, error)

	mu       sync.Mutex
	last     Sample
	hasLast  bool
	heapSnap []heapSnap
	gorSnap  []gorSnap
	lastProf time.Time
	heapDiff siteReport
	gorDiff  siteReport
	leaked   []Site // from the goroutineleak profile
	leakedAt time.Time
	profNote string

	runMu  sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// Baselines are kept small: a heap profile as the compressed bytes the
// runtime wrote (tens of KB; parsed only to diff, when a leak is
// suspected), goroutines as counts per group rather than every stack. Kept
// parsed, eight baselines would themselves show up as heap growth.
type heapSnap struct {
	t   time.Time
	raw []byte
}

type gorSnap struct {
	t      time.Time
	groups map[groupKey]*group
}

type siteReport struct {
	sites []Site
	note  string
}

// New returns an Optimizer with opts' defaults filled in. It reads the
// cgroup memory limit once (a missing limit is normal and reported by
// Metrics, not an error) and starts nothing.
func New(opts Options) (*Optimizer, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	m := &Optimizer{o: o, sampler: NewSampler(o.FS, SampleClock(o.Now))}
	m.cgroup, m.cgErr = ReadCgroupLimit(o.FS)
	m.det, err = NewDetector(o, m.cgroup.Bytes)
	if err != nil {
		return nil, err
	}
	m.gov = newGovernor(o, m.cgroup.Bytes, realKnobs{})
	m.captureHeap = func() ([]byte, error) {
		var b bytes.Buffer
		err := pprof.Lookup("heap").WriteTo(&b, 0)
		return b.Bytes(), err
	}
	m.captureGoroutines = func() ([]byte, error) {
		var b bytes.Buffer
		err := pprof.Lookup("goroutine").WriteTo(&b, 2)
		return b.Bytes(), err
	}
	m.captureLeaked = func() ([]byte, bool, error) {
		// Only runtimes built with the goroutine leak profile have it
		// (GOEXPERIMENT=goroutineleakprofile in Go 1.26); it finds
		// goroutines blocked on channels or locks nothing else can reach.
		p := pprof.Lookup("goroutineleak")
		if p == nil {
			return nil, false, nil
		}
		var b bytes.Buffer
		err := p.WriteTo(&b, 2)
		return b.Bytes(), true, err
	}
	return m, nil
}

// Registry returns the cleanup registry components register with.
func (m *Optimizer) Registry() *Registry { return &m.reg }

// Governor returns the GC governor.
func (m *Optimizer) Governor() *Governor { return m.gov }

// Options returns the options in effect, defaults filled in.
func (m *Optimizer) Options() Options { return m.o }

// StartMonitoring samples every interval (0 means Options.Interval) until
// ctx ends or Stop is called. It returns ErrRunning if already monitoring.
func (m *Optimizer) StartMonitoring(ctx context.Context, interval time.Duration) error {
	if interval == 0 {
		interval = m.o.Interval
	}
	if interval < time.Millisecond {
		return fmt.Errorf("%w: interval %v below 1ms", ErrInvalidOptions, interval)
	}
	m.runMu.Lock()
	defer m.runMu.Unlock()
	if m.done != nil {
		select {
		case <-m.done:
		default:
			return ErrRunning
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	m.cancel = cancel
	m.done = make(chan struct{})
	go m.loop(ctx, interval, m.done)
	return nil
}

func (m *Optimizer) loop(ctx context.Context, interval time.Duration, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(interval)
	defer t.Stop()
	m.Poll(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			m.Poll(ctx)
		}
	}
}

// Stop ends monitoring and waits for the loop to finish, or for ctx.
// Stopping an Optimizer that is not monitoring does nothing.
func (m *Optimizer) Stop(ctx context.Context) error {
	m.runMu.Lock()
	cancel, done := m.cancel, m.done
	m.runMu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Poll takes one sample now, feeds the detectors, and takes profiles when
// one is due or a leak is suspected. Monitoring calls it every interval; an
// embedding loop (the engine's) may call it instead.
func (m *Optimizer) Poll(ctx context.Context) Sample {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.sampler.Read()
	m.observe(s)
	m.profile(ctx, s.Time)
	return s
}

// Observe feeds a sample taken elsewhere (another process, a replay) to
// the detectors. It takes no profiles: they would be of this process.
func (m *Optimizer) Observe(s Sample) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.observe(s)
}

func (m *Optimizer) observe(s Sample) {
	m.det.Add(s)
	m.last, m.hasLast = s, true
}

// profile keeps baseline profiles every ProfileInterval, and while a leak
// is suspected takes a fresh one (at most every quarter interval) and diffs
// it against the oldest baseline in the window.
func (m *Optimizer) profile(ctx context.Context, now time.Time) {
	if m.o.ProfileInterval < 0 || ctx.Err() != nil {
		return
	}
	heapSus, gorSus := m.det.Suspected()
	since := now.Sub(m.lastProf)
	due := m.lastProf.IsZero() || since >= m.o.ProfileInterval
	if !due && !((heapSus || gorSus) && since >= m.o.ProfileInterval/4) {
		return
	}
	m.lastProf = now
	m.profNote = ""
	var notes []string

	if b, err := m.captureHeap(); err != nil {
		notes = append(notes, "heap profile: "+err.Error())
	} else if p, err := ParseHeapProfile(b); err != nil {
		notes = append(notes, err.Error())
	} else {
		m.heapSnap = keepSnap(m.heapSnap, heapSnap{now, bytes.Clone(b)}, now.Add(-m.o.Window), func(s heapSnap) time.Time { return s.t })
		if heapSus && len(m.heapSnap) > 1 {
			m.heapDiff = m.diffHeap(p, now)
		}
	}

	if m.last.Goroutines > maxProfiledGoroutines {
		notes = append(notes, fmt.Sprintf("goroutine dump skipped: %d goroutines, more than %d", m.last.Goroutines, maxProfiledGoroutines))
	} else if b, err := m.captureGoroutines(); err != nil {
		notes = append(notes, "goroutine dump: "+err.Error())
	} else if gs, err := ParseGoroutines(b); err != nil {
		notes = append(notes, err.Error())
	} else {
		groups := groupGoroutines(gs)
		m.gorSnap = keepSnap(m.gorSnap, gorSnap{now, groups}, now.Add(-m.o.Window), func(s gorSnap) time.Time { return s.t })
		if gorSus && len(m.gorSnap) > 1 {
			m.gorDiff = siteReport{sites: diffGroups(m.gorSnap[0].groups, groups, m.o.MaxSites),
				note: fmt.Sprintf("goroutine dumps diffed over %s", now.Sub(m.gorSnap[0].t).Round(time.Second))}
		}
	}

	if due {
		if b, ok, err := m.captureLeaked(); err != nil {
			notes = append(notes, "goroutineleak profile: "+err.Error())
		} else if ok {
			if gs, err := ParseGoroutines(b); err != nil {
				notes = append(notes, "goroutineleak profile: "+err.Error())
			} else {
				m.leaked, m.leakedAt = GroupSites(gs, m.o.MaxSites), now
			}
		}
	}
	if len(notes) > 0 {
		m.profNote = notes[0]
		for _, n := range notes[1:] {
			m.profNote += "; " + n
		}
		m.o.Logger.Warn("memopt profile", "problem", m.profNote)
	}
}

// diffHeap diffs p against the oldest baseline and, when one lies between,
// against the baseline nearest the middle: a site that grew over the whole
// span but not over its second half grew while the process warmed up (a
// histogram made on a route's first request) and is not the leak.
func (m *Optimizer) diffHeap(p *profile.Profile, now time.Time) siteReport {
	base := m.heapSnap[0]
	sites, err := m.diffAgainst(base, p)
	if err != nil {
		return siteReport{note: err.Error()}
	}
	note := fmt.Sprintf("heap profiles diffed over %s", now.Sub(base.t).Round(time.Second))
	half := base.t.Add(now.Sub(base.t) / 2)
	mid := base
	for _, s := range m.heapSnap[1:] {
		if s.t.Before(now) && s.t.Sub(half).Abs() < mid.t.Sub(half).Abs() {
			mid = s
		}
	}
	if mid.t.After(base.t) {
		recent, err := m.diffAgainst(mid, p)
		if err == nil {
			if kept := keepGrowing(sites, recent); len(kept) > 0 {
				sites = kept
				note += fmt.Sprintf(", still growing over the last %s", now.Sub(mid.t).Round(time.Second))
			}
		}
	}
	if len(sites) > m.o.MaxSites {
		sites = sites[:m.o.MaxSites]
	}
	return siteReport{sites: sites, note: note}
}

// diffSites bounds the sites one diff returns before keepGrowing filters
// them: enough that a leak behind many warm-up sites is still among them.
const diffSites = 64

func (m *Optimizer) diffAgainst(base heapSnap, p *profile.Profile) ([]Site, error) {
	bp, err := ParseHeapProfile(base.raw)
	if err != nil {
		return nil, fmt.Errorf("baseline %w", err)
	}
	return DiffHeap(bp, p, diffSites)
}

// keepGrowing returns the sites of total that also grew in recent, in
// total's order.
func keepGrowing(total, recent []Site) []Site {
	grew := make(map[string]bool, len(recent))
	for _, s := range recent {
		grew[s.Function+"@"+s.Location] = true
	}
	var out []Site
	for _, s := range total {
		if grew[s.Function+"@"+s.Location] {
			out = append(out, s)
		}
	}
	return out
}

// keepSnap appends s, drops snapshots older than cut (keeping at least
// one), and past maxSnapshots drops the middle one, so the oldest baseline
// survives while recent ones stay dense.
func keepSnap[T any](list []T, s T, cut time.Time, at func(T) time.Time) []T {
	list = append(list, s)
	drop := 0
	for len(list)-drop > 2 && at(list[drop]).Before(cut) {
		drop++
	}
	out := list[drop:]
	if len(out) > maxSnapshots {
		mid := len(out) / 2
		out = append(out[:mid:mid], out[mid+1:]...)
	}
	if drop > 0 || len(out) < len(list) {
		// Copy, so the dropped snapshots do not stay reachable through the
		// old backing array.
		out = append(make([]T, 0, maxSnapshots+1), out...)
	}
	return out
}

// DetectLeaks returns the leaks confirmed so far, each naming where it
// grows when the profiles could tell. Detection needs history: monitor, or
// call Poll or Observe regularly. With no samples yet it takes one.
func (m *Optimizer) DetectLeaks(ctx context.Context) ([]Leak, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.hasLast {
		m.observe(m.sampler.Read())
	}
	leaks := m.det.Leaks()
	for i := range leaks {
		l := &leaks[i]
		r := m.heapDiff
		if l.Kind == LeakGoroutine {
			r = m.gorDiff
		}
		l.Sites = append([]Site(nil), r.sites...)
		for i := range l.Sites {
			l.Sites[i].Type = classify(l.Kind, l.Sites[i])
		}
		if len(l.Sites) > 0 {
			l.Type = l.Sites[0].Type
		}
		switch {
		case len(r.sites) == 0 && m.profNote != "":
			l.Note = m.profNote
		case len(r.sites) == 0 && m.o.ProfileInterval < 0:
			l.Note = "profiling disabled"
		case len(r.sites) == 0:
			l.Note = "no profile diff yet: sites are named after the next profile"
		default:
			l.Note = r.note
		}
	}
	if len(m.leaked) > 0 {
		n := 0.0
		for _, s := range m.leaked {
			n += s.Current
		}
		sites := append([]Site(nil), m.leaked...)
		for i := range sites {
			sites[i].Type = classify(LeakGoroutine, sites[i])
		}
		leaks = append(leaks, Leak{Kind: LeakGoroutine, Detected: m.leakedAt, Current: n, Sites: sites, Type: LeakBlocked,
			Note: "goroutineleak profile: goroutines blocked on primitives nothing else can reach"})
	}
	return leaks, nil
}

// Metrics is the optimizer's current view.
type Metrics struct {
	Sample Sample `json:"sample"`
	// Usage is memory in use as a fraction of the effective limit (0 when
	// there is no limit): RSS against the cgroup limit, or the runtime's
	// footprint against GOMEMLIMIT, whichever is higher.
	Usage    float64  `json:"usage_ratio"`
	Pressure Pressure `json:"pressure"`
	// HeapTrend and GoroutineTrend are the latest trend tests.
	HeapTrend      Trend `json:"heap_trend"`
	GoroutineTrend Trend `json:"goroutine_trend"`
	// Cgroup is the cgroup limit; CgroupNote says why there is none.
	Cgroup     CgroupLimit `json:"cgroup"`
	CgroupNote string      `json:"cgroup_note,omitempty"`
	// UserGOGC and UserMemoryLimit say why the governor leaves a setting
	// alone, "" when it may move it.
	UserGOGC        string `json:"user_gogc,omitempty"`
	UserMemoryLimit string `json:"user_memory_limit,omitempty"`
	// GoroutineLeakProfile reports whether this runtime has the
	// goroutineleak profile.
	GoroutineLeakProfile bool   `json:"goroutineleak_profile"`
	Leaks                int    `json:"leaks"`
	ProfileNote          string `json:"profile_note,omitempty"`
}

// Metrics returns the current figures, taking a sample if there is none.
func (m *Optimizer) Metrics(ctx context.Context) (Metrics, error) {
	if err := ctx.Err(); err != nil {
		return Metrics{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.hasLast {
		m.observe(m.sampler.Read())
	}
	out := Metrics{Sample: m.last, HeapTrend: m.det.HeapTrend(), GoroutineTrend: m.det.GoroutineTrend(),
		Cgroup: m.cgroup, GoroutineLeakProfile: pprof.Lookup("goroutineleak") != nil,
		Leaks: len(m.det.Leaks()) + min(len(m.leaked), 1), ProfileNote: m.profNote}
	if m.cgErr != nil {
		out.CgroupNote = m.cgErr.Error()
	}
	out.UserGOGC, out.UserMemoryLimit = m.gov.UserSettings()
	out.Usage = usage(m.last, m.cgroup.Bytes)
	out.Pressure = m.pressure(out.Usage)
	return out, nil
}

func usage(s Sample, cgroup uint64) float64 {
	var u float64
	if cgroup > 0 && s.RSS > 0 {
		u = float64(s.RSS) / float64(cgroup)
	}
	if s.MemoryLimit > 0 && s.MemoryLimit < math.MaxInt64 {
		u = max(u, float64(s.RuntimeTotal)/float64(s.MemoryLimit))
	}
	return u
}

func (m *Optimizer) pressure(u float64) Pressure {
	switch {
	case u >= m.o.CriticalRatio:
		return PressureCritical
	case u >= m.o.WarningRatio:
		return PressureWarning
	}
	return PressureNone
}

// Cleanup asks the registered components to shed memory for pressure p, in
// priority order, and under PressureCritical returns memory to the OS last.
func (m *Optimizer) Cleanup(ctx context.Context, p Pressure) (CleanupReport, error) {
	return m.reg.Shrink(ctx, p)
}

// Recommend returns the GC tunings the latest samples call for. usage is
// the memory in use as a fraction of the limit; pass a negative value to
// use the optimizer's own measure.
func (m *Optimizer) Recommend(usageRatio float64) []Tuning {
	m.mu.Lock()
	s := m.last
	if usageRatio < 0 {
		usageRatio = usage(s, m.cgroup.Bytes)
	}
	m.mu.Unlock()
	return m.gov.Recommend(GovernorInput{Usage: usageRatio, GCCPUFraction: s.GCCPUFraction, Thrashing: s.LimiterActive})
}
