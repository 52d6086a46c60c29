package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Limit is a GCRA quota: Rate requests per Period on average, with bursts
// of up to Burst requests at once.
type Limit struct {
	Rate   int
	Period time.Duration
	Burst  int
}

// Validate names what is out of range.
func (l Limit) Validate() error {
	var errs []error
	if l.Rate <= 0 {
		errs = append(errs, fmt.Errorf("ratelimit: Rate %d must be positive", l.Rate))
	}
	if l.Period <= 0 {
		errs = append(errs, fmt.Errorf("ratelimit: Period %v must be positive", l.Period))
	}
	if l.Burst <= 0 {
		errs = append(errs, fmt.Errorf("ratelimit: Burst %d must be positive", l.Burst))
	}
	return errors.Join(errs...)
}

// interval is the emission interval T of GCRA, stretched by a pressure
// factor in (0, 1]: 0.5 halves the sustained rate.
func (l Limit) interval(pressure float64) int64 {
	t := float64(l.Period) / float64(l.Rate)
	if pressure > 0 && pressure < 1 {
		t /= pressure
	}
	return max(int64(t), 1)
}

// Decision is the outcome of one request against a limit.
type Decision struct {
	Allowed bool
	// Limit is the burst size, the quota the headers announce.
	Limit int
	// Remaining requests that would be allowed right now.
	Remaining int
	// RetryAfter is how long a denied request should wait; 0 when allowed.
	RetryAfter time.Duration
	// ResetAfter is how long until the bucket is full again.
	ResetAfter time.Duration
}

// Limiter decides whether the request identified by key may pass at now.
type Limiter interface {
	Allow(ctx context.Context, key string, now time.Time) (Decision, error)
}

// Memory is an in-process GCRA limiter: one int64 (the theoretical arrival
// time) per key, updated with compare-and-swap, no lock on the hot path. The
// zero value is not usable; use NewMemory. It is safe for concurrent use.
type Memory struct {
	limit    Limit
	pressure atomic.Uint64 // float64 bits; 1 means none
	interval atomic.Int64  // GCRA's T at the current pressure, nanoseconds
	keys     sync.Map      // string -> *atomic.Int64 (unix nanos)
	inserts  atomic.Int64
	// sweepEvery new keys, keys whose bucket is full again are dropped, so
	// memory follows the active clients rather than every client ever seen.
	sweepEvery int64
}

var _ Limiter = (*Memory)(nil)

// NewMemory returns an in-memory limiter for l.
func NewMemory(l Limit) (*Memory, error) {
	if err := l.Validate(); err != nil {
		return nil, err
	}
	m := &Memory{limit: l, sweepEvery: 4096}
	m.SetPressure(1)
	return m, nil
}

// SetPressure scales the sustained rate by f in (0, 1]; 1 restores it.
// The engine tightens limits this way while the service is critical.
func (m *Memory) SetPressure(f float64) {
	if !(f > 0 && f <= 1) {
		f = 1
	}
	m.pressure.Store(math.Float64bits(f))
	m.interval.Store(m.limit.interval(f))
}

// Pressure returns the factor set by SetPressure.
func (m *Memory) Pressure() float64 { return math.Float64frombits(m.pressure.Load()) }

// Limit returns the configured limit.
func (m *Memory) Limit() Limit { return m.limit }

// Allow implements Limiter; it never fails.
func (m *Memory) Allow(_ context.Context, key string, now time.Time) (Decision, error) {
	return m.AllowAt(key, now), nil
}

// AllowAt decides one request for key at now. It allocates only for a key
// it has not seen.
func (m *Memory) AllowAt(key string, now time.Time) Decision {
	v, ok := m.keys.Load(key)
	if !ok {
		v, ok = m.keys.LoadOrStore(key, new(atomic.Int64))
		if !ok && m.inserts.Add(1)%m.sweepEvery == 0 {
			m.sweep(now)
		}
	}
	tatp := v.(*atomic.Int64)
	t := m.interval.Load()
	burst := int64(m.limit.Burst)
	n := now.UnixNano()
	for {
		old := tatp.Load()
		tat := max(old, n)
		newTAT := tat + t
		allowAt := newTAT - burst*t
		if n < allowAt {
			return Decision{Limit: m.limit.Burst, RetryAfter: time.Duration(allowAt - n), ResetAfter: time.Duration(tat - n)}
		}
		if tatp.CompareAndSwap(old, newTAT) {
			return Decision{Allowed: true, Limit: m.limit.Burst, Remaining: int((n - allowAt) / t), ResetAfter: time.Duration(newTAT - n)}
		}
	}
}

func (m *Memory) sweep(now time.Time) {
	n := now.UnixNano()
	m.keys.Range(func(k, v any) bool {
		// A zero TAT belongs to a key being inserted right now.
		if t := v.(*atomic.Int64).Load(); t != 0 && t <= n {
			m.keys.Delete(k)
		}
		return true
	})
}
