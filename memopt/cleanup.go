package memopt

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"sync"
	"time"
)

// Pressure is how short of memory the process is.
type Pressure int

// Pressure levels, from the engine's memory thresholds.
const (
	PressureNone Pressure = iota
	PressureWarning
	PressureCritical
)

func (p Pressure) String() string {
	switch p {
	case PressureWarning:
		return "warning"
	case PressureCritical:
		return "critical"
	}
	return "none"
}

// ShrinkFunc sheds memory: an LRU cache trims itself, a pool empties, a
// buffer is released. Under PressureWarning it should shed what is cheap to
// rebuild; under PressureCritical, everything it can. It returns an estimate
// of the bytes it let go (0 if unknown).
type ShrinkFunc func(ctx context.Context, p Pressure) (freed int64, err error)

// Registry holds the shrink functions components register, run in priority
// order under memory pressure. The zero value is ready to use and safe for
// concurrent use.
type Registry struct {
	mu      sync.Mutex
	entries []*shrinker
	seq     int
	// freeOS returns memory to the OS; debug.FreeOSMemory unless a test
	// replaces it (it forces a full GC, which is slow under -race).
	freeOS func()
}

type shrinker struct {
	name     string
	priority int
	seq      int
	fn       ShrinkFunc
}

// Register adds fn under name. Lower priorities shed first: give caches
// that are cheap to refill a low number and state that is expensive to
// rebuild a high one. The returned function unregisters it.
func (r *Registry) Register(name string, priority int, fn ShrinkFunc) (unregister func()) {
	if fn == nil {
		panic("memopt: Register with a nil ShrinkFunc")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	e := &shrinker{name: name, priority: priority, seq: r.seq, fn: fn}
	r.entries = append(r.entries, e)
	return func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.entries = slices.DeleteFunc(r.entries, func(x *shrinker) bool { return x == e })
	}
}

// Len returns how many shrink functions are registered.
func (r *Registry) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.entries)
}

// CleanupStep is what one shrink function (or the final FreeOSMemory) did.
type CleanupStep struct {
	Name     string        `json:"name"`
	Priority int           `json:"priority"`
	Freed    int64         `json:"freed_bytes"`
	Took     time.Duration `json:"took"`
	Error    string        `json:"error,omitempty"`
}

// CleanupReport lists the steps of a cleanup in the order they ran.
type CleanupReport struct {
	Pressure Pressure      `json:"pressure"`
	Steps    []CleanupStep `json:"steps"`
	// Freed sums what the shrink functions reported.
	Freed int64 `json:"freed_bytes"`
	// FreedOS reports that debug.FreeOSMemory ran.
	FreedOS bool `json:"freed_os_memory"`
}

// Shrink runs the shrink functions in priority order (registration order
// within a priority) and, under PressureCritical, returns memory to the OS
// with debug.FreeOSMemory last: it forces a full GC, so it is the last
// resort rather than the first. One failing function does not stop the
// others; the errors are joined. A cancelled ctx stops before the next step.
func (r *Registry) Shrink(ctx context.Context, p Pressure) (CleanupReport, error) {
	rep := CleanupReport{Pressure: p}
	if p == PressureNone {
		return rep, nil
	}
	r.mu.Lock()
	list := slices.Clone(r.entries)
	freeOS := r.freeOS
	r.mu.Unlock()
	slices.SortFunc(list, func(a, b *shrinker) int {
		if c := cmp.Compare(a.priority, b.priority); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	var errs []error
	for _, e := range list {
		if err := ctx.Err(); err != nil {
			return rep, errors.Join(append(errs, err)...)
		}
		start := time.Now()
		freed, err := e.fn(ctx, p)
		st := CleanupStep{Name: e.name, Priority: e.priority, Freed: freed, Took: time.Since(start)}
		if err != nil {
			st.Error = err.Error()
			errs = append(errs, fmt.Errorf("shrink %s: %w", e.name, err))
		}
		rep.Freed += max(freed, 0)
		rep.Steps = append(rep.Steps, st)
	}
	if p >= PressureCritical {
		if err := ctx.Err(); err != nil {
			return rep, errors.Join(append(errs, err)...)
		}
		if freeOS == nil {
			freeOS = debug.FreeOSMemory
		}
		start := time.Now()
		freeOS()
		rep.FreedOS = true
		rep.Steps = append(rep.Steps, CleanupStep{Name: "debug.FreeOSMemory", Priority: int(^uint(0) >> 1), Took: time.Since(start)})
	}
	return rep, errors.Join(errs...)
}
