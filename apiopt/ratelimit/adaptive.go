package ratelimit

import (
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"time"
)

// AdaptiveConfig tunes the Gradient2 concurrency limiter. Zero values mean
// the defaults, which follow Netflix's concurrency-limits.
type AdaptiveConfig struct {
	InitialLimit int     // default 20
	MinLimit     int     // default 4
	MaxLimit     int     // default 1000
	Smoothing    float64 // weight of a new estimate, (0,1]; default 0.2
	// Tolerance is how much the short-term latency may exceed the long-term
	// one before the limit shrinks; default 1.5.
	Tolerance float64
	// Window is how often the limit is recomputed from the samples in it;
	// default 100ms, with at least MinSamples samples.
	Window     time.Duration
	MinSamples int // default 10
	// LongWindow is the number of windows the long-term latency averages;
	// default 600.
	LongWindow int
}

func (c AdaptiveConfig) withDefaults() AdaptiveConfig {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.InitialLimit, 20)
	def(&c.MinLimit, 4)
	def(&c.MaxLimit, 1000)
	def(&c.MinSamples, 10)
	def(&c.LongWindow, 600)
	if c.Smoothing == 0 {
		c.Smoothing = 0.2
	}
	if c.Tolerance == 0 {
		c.Tolerance = 1.5
	}
	if c.Window == 0 {
		c.Window = 100 * time.Millisecond
	}
	return c
}

// Validate names what is out of range.
func (c AdaptiveConfig) Validate() error {
	c = c.withDefaults()
	var errs []error
	if c.MinLimit < 1 || c.MinLimit > c.MaxLimit {
		errs = append(errs, fmt.Errorf("ratelimit: MinLimit %d must be in 1..MaxLimit (%d)", c.MinLimit, c.MaxLimit))
	}
	if c.InitialLimit < c.MinLimit || c.InitialLimit > c.MaxLimit {
		errs = append(errs, fmt.Errorf("ratelimit: InitialLimit %d must be in MinLimit..MaxLimit", c.InitialLimit))
	}
	if c.Smoothing <= 0 || c.Smoothing > 1 {
		errs = append(errs, fmt.Errorf("ratelimit: Smoothing %g must be in (0, 1]", c.Smoothing))
	}
	if c.Tolerance < 1 {
		errs = append(errs, fmt.Errorf("ratelimit: Tolerance %g must be at least 1", c.Tolerance))
	}
	if c.Window < 0 || c.MinSamples < 0 || c.LongWindow < 0 {
		errs = append(errs, errors.New("ratelimit: Window, MinSamples and LongWindow must not be negative"))
	}
	return errors.Join(errs...)
}

// Adaptive limits concurrent requests to a limit it learns with Gradient2:
// while latency stays near its long-term average the limit grows; when
// short-term latency rises (queueing) it shrinks, so excess load is shed
// with 503 before latency collapses. Samples are recorded with atomics and
// one goroutine at a time, chosen by compare-and-swap, recomputes the limit
// at the end of a window: no mutex per request. Safe for concurrent use.
type Adaptive struct {
	cfg      AdaptiveConfig
	now      func() time.Time
	limit    atomic.Uint64 // float64 bits
	pressure atomic.Uint64 // float64 bits scaling MaxLimit
	inflight atomic.Int64

	// the current window
	winStart    atomic.Int64
	sumRTT      atomic.Int64
	count       atomic.Int64
	maxInflight atomic.Int64
	updating    atomic.Bool

	longRTT float64 // nanoseconds; written only by the updater
	shed    atomic.Uint64
}

// AdaptiveOption changes how an Adaptive limiter is built.
type AdaptiveOption func(*Adaptive)

// WithClock sets the limiter's clock; nil keeps time.Now.
func WithClock(now func() time.Time) AdaptiveOption {
	return func(a *Adaptive) {
		if now != nil {
			a.now = now
		}
	}
}

// NewAdaptive builds a limiter.
func NewAdaptive(cfg AdaptiveConfig, opts ...AdaptiveOption) (*Adaptive, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a := &Adaptive{cfg: cfg.withDefaults(), now: time.Now}
	for _, o := range opts {
		o(a)
	}
	a.limit.Store(math.Float64bits(float64(a.cfg.InitialLimit)))
	a.pressure.Store(math.Float64bits(1))
	a.winStart.Store(a.now().UnixNano())
	return a, nil
}

// Limit is the current concurrency limit.
func (a *Adaptive) Limit() int {
	l := math.Float64frombits(a.limit.Load())
	p := math.Float64frombits(a.pressure.Load())
	return max(int(l*p), a.cfg.MinLimit)
}

// Inflight is the number of requests holding a slot.
func (a *Adaptive) Inflight() int { return int(a.inflight.Load()) }

// Shed counts requests refused.
func (a *Adaptive) Shed() uint64 { return a.shed.Load() }

// SetPressure scales the limit by f in (0, 1]; 1 restores it.
func (a *Adaptive) SetPressure(f float64) {
	if !(f > 0 && f <= 1) {
		f = 1
	}
	a.pressure.Store(math.Float64bits(f))
}

// Acquire takes a slot, or reports false when the limit is reached. Every
// true must be followed by one Release.
func (a *Adaptive) Acquire() bool {
	n := a.inflight.Add(1)
	if n > int64(a.Limit()) {
		a.inflight.Add(-1)
		a.shed.Add(1)
		return false
	}
	for {
		m := a.maxInflight.Load()
		if n <= m || a.maxInflight.CompareAndSwap(m, n) {
			break
		}
	}
	return true
}

// Release frees a slot and records the request's latency.
func (a *Adaptive) Release(rtt time.Duration) {
	a.inflight.Add(-1)
	a.sumRTT.Add(int64(rtt))
	count := a.count.Add(1)
	now := a.now().UnixNano()
	if now-a.winStart.Load() < int64(a.cfg.Window) || count < int64(a.cfg.MinSamples) {
		return
	}
	if !a.updating.CompareAndSwap(false, true) {
		return
	}
	defer a.updating.Store(false)
	sum, cnt := a.sumRTT.Swap(0), a.count.Swap(0)
	peak := a.maxInflight.Swap(a.inflight.Load())
	a.winStart.Store(now)
	if cnt == 0 {
		return
	}
	a.update(float64(sum)/float64(cnt), int(peak))
}

// update is Gradient2's step for one window's mean latency.
func (a *Adaptive) update(short float64, peak int) {
	c := a.cfg
	if a.longRTT == 0 {
		a.longRTT = short
	} else {
		alpha := 2 / float64(c.LongWindow+1)
		a.longRTT = a.longRTT*(1-alpha) + short*alpha
	}
	// After a slow spell the long average lags; let it come down faster.
	if a.longRTT/short > 2 {
		a.longRTT *= 0.95
	}
	limit := math.Float64frombits(a.limit.Load())
	// A service that is not using half its limit teaches us nothing about
	// a higher one.
	if float64(peak) < limit/2 && short <= a.longRTT*c.Tolerance {
		return
	}
	gradient := max(0.5, min(1.0, c.Tolerance*a.longRTT/short))
	next := limit*gradient + math.Sqrt(limit)
	next = limit*(1-c.Smoothing) + next*c.Smoothing
	next = max(float64(c.MinLimit), min(float64(c.MaxLimit), next))
	a.limit.Store(math.Float64bits(next))
}
