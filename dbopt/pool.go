package dbopt

import (
	"math"
	"time"

	"github.com/perfengine/perfengine/metrics"
)

// poolSnapshot is the application pool's counters at one collection.
type poolSnapshot struct {
	t            time.Time
	acquires     int64
	acquireWait  time.Duration
	emptyAcquire int64
	busyMs       float64 // total query time from the recorder
}

// PoolAdvice is a pool-size recommendation from Little's law.
type PoolAdvice struct {
	MaxConns int32 `json:"max_conns"`
	// Recommended is the suggested MaxConns.
	Recommended int `json:"recommended"`
	// InUse is the mean number of connections busy with queries over the
	// interval (L = λ × W).
	InUse float64 `json:"in_use"`
	// AcquireRate is acquires per second (λ).
	AcquireRate float64 `json:"acquire_rate"`
	// AcquireWaitMs is the mean time an acquire waited.
	AcquireWaitMs float64 `json:"acquire_wait_ms"`
	// EmptyAcquires is acquires that found no idle connection during the
	// interval.
	EmptyAcquires int64  `json:"empty_acquires"`
	Reason        string `json:"reason"`
}

// RecommendPoolSize sizes a pool for a mean of inUse busy connections with
// the square-root staffing rule, N = L + 2√L: enough that Poisson-like
// bursts rarely queue, without holding connections the server needs for
// others. It is at least 2.
func RecommendPoolSize(inUse float64) int {
	if inUse <= 0 || math.IsNaN(inUse) || math.IsInf(inUse, 0) {
		return 2
	}
	return max(2, int(math.Ceil(inUse+2*math.Sqrt(inUse))))
}

// PoolAdvice compares the attached application pool now with the last
// call and recommends a size. It needs two calls (the first returns ok
// false) and WithAppPool.
func (o *Optimizer) PoolAdvice() (PoolAdvice, bool) {
	adv, ok, _ := o.poolStep(o.now())
	return adv, ok
}

func (o *Optimizer) poolStep(now time.Time) (PoolAdvice, bool, *poolSnapshot) {
	if o.appPool == nil {
		return PoolAdvice{}, false, nil
	}
	st := o.appPool.Stat()
	cur := &poolSnapshot{t: now, acquires: st.AcquireCount(), acquireWait: st.AcquireDuration(), emptyAcquire: st.EmptyAcquireCount()}
	if o.rec != nil {
		for _, s := range o.rec.Snapshot() {
			cur.busyMs += s.TotalMs
		}
	}
	o.mu.Lock()
	prev := o.pool0
	o.pool0 = cur
	o.mu.Unlock()
	if prev == nil || !cur.t.After(prev.t) {
		return PoolAdvice{}, false, cur
	}
	return poolAdvice(prev, cur, st.MaxConns(), float64(st.AcquiredConns()), o.rec != nil), true, cur
}

func poolAdvice(prev, cur *poolSnapshot, maxConns int32, acquiredNow float64, haveBusy bool) PoolAdvice {
	dt := cur.t.Sub(prev.t).Seconds()
	n := cur.acquires - prev.acquires
	a := PoolAdvice{MaxConns: maxConns, AcquireRate: float64(n) / dt, EmptyAcquires: cur.emptyAcquire - prev.emptyAcquire}
	if n > 0 {
		a.AcquireWaitMs = float64(cur.acquireWait-prev.acquireWait) / float64(time.Millisecond) / float64(n)
	}
	if haveBusy {
		// Little's law: connections busy on average = busy time / elapsed.
		a.InUse = (cur.busyMs - prev.busyMs) / 1000 / dt
		a.Reason = "mean busy connections from query timings over the interval (Little's law)"
	} else {
		a.InUse = acquiredNow
		a.Reason = "connections in use at the sample (attach a querytrace.Tracer for Little's law over the interval)"
	}
	a.Recommended = RecommendPoolSize(a.InUse)
	return a
}

func (o *Optimizer) poolSamples(now time.Time) []metrics.Sample {
	if o.appPool == nil {
		return nil
	}
	st := o.appPool.Stat()
	out := []metrics.Sample{
		{Name: MetricPoolUtilisation, Value: float64(st.AcquiredConns()) / float64(max(st.MaxConns(), 1)), Unit: metrics.UnitRatio, Time: now},
		{Name: MetricPoolEmptyAcquires, Value: float64(st.EmptyAcquireCount()), Unit: metrics.UnitTotal, Time: now},
	}
	if adv, ok, _ := o.poolStep(now); ok {
		out = append(out,
			metrics.Sample{Name: MetricPoolAcquireWaitMs, Value: adv.AcquireWaitMs, Unit: metrics.UnitMilliseconds, Time: now},
			metrics.Sample{Name: MetricPoolRecommended, Value: float64(adv.Recommended), Unit: metrics.UnitCount, Time: now})
	}
	return out
}
