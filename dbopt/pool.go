package dbopt

import (
	"database/sql"
	"errors"
	"math"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

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

// appPool is the application's connection pool as the optimizer reads it:
// a pgx pool or a database/sql one.
type appPool interface {
	// stat returns the counters since the pool was made and the pool's
	// size and connections in use now.
	stat() (s poolStat)
	// resize sets the pool's size; ErrPoolFixed when the pool cannot
	// change it while running.
	resize(n int) error
}

type poolStat struct {
	acquires     int64 // -1 when the pool does not count them (database/sql)
	acquireWait  time.Duration
	emptyAcquire int64 // acquires that found no idle connection (database/sql: that waited)
	maxConns     int32
	inUse        int32
}

// ErrPoolFixed means the attached pool cannot be resized while it runs: a
// pgx pool takes MaxConns at creation only. Attach a *sql.DB (WithSQLPool)
// or size the pgx pool at its next start.
var ErrPoolFixed = errors.New("dbopt: the pgx pool's MaxConns is fixed at creation; restart it with the new size")

type pgxAppPool struct{ p *pgxpool.Pool }

func (a pgxAppPool) stat() poolStat {
	st := a.p.Stat()
	return poolStat{acquires: st.AcquireCount(), acquireWait: st.AcquireDuration(), emptyAcquire: st.EmptyAcquireCount(), maxConns: st.MaxConns(), inUse: st.AcquiredConns()}
}

func (pgxAppPool) resize(int) error { return ErrPoolFixed }

type sqlAppPool struct{ db *sql.DB }

func (a sqlAppPool) stat() poolStat {
	st := a.db.Stats()
	return poolStat{acquires: -1, acquireWait: st.WaitDuration, emptyAcquire: st.WaitCount, maxConns: int32(min(st.MaxOpenConnections, math.MaxInt32)), inUse: int32(min(st.InUse, math.MaxInt32))}
}

// resize sets MaxOpenConns, and MaxIdleConns to match so the pool keeps
// what it may use instead of database/sql's default of 2 idle.
func (a sqlAppPool) resize(n int) error {
	a.db.SetMaxOpenConns(n)
	a.db.SetMaxIdleConns(n)
	return nil
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
	// AcquireWaitMs is the mean time an acquire waited: over every
	// acquire for a pgx pool, over those that waited for a database/sql
	// one (which counts no others).
	AcquireWaitMs float64 `json:"acquire_wait_ms"`
	// EmptyAcquires is acquires that found no idle connection during the
	// interval (database/sql: that waited for one).
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
	st := o.appPool.stat()
	cur := &poolSnapshot{t: now, acquires: st.acquires, acquireWait: st.acquireWait, emptyAcquire: st.emptyAcquire}
	if o.rec != nil {
		for _, s := range o.rec.Snapshot() {
			cur.busyMs += s.TotalMs
		}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	prev := o.pool0
	o.pool0 = cur
	if prev == nil || !cur.t.After(prev.t) {
		return PoolAdvice{}, false, cur
	}
	adv := poolAdvice(prev, cur, st.maxConns, float64(st.inUse), o.rec != nil)
	o.lastPool = &adv
	return adv, true, cur
}

// LastPoolAdvice is the advice of the newest collection (Metrics, Health
// or PoolAdvice), without taking a sample of its own; false before two.
func (o *Optimizer) LastPoolAdvice() (PoolAdvice, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.lastPool == nil {
		return PoolAdvice{}, false
	}
	return *o.lastPool, true
}

// CanResizePool reports whether the attached pool can be resized while it
// runs (a *sql.DB; a pgx pool cannot).
func (o *Optimizer) CanResizePool() bool {
	_, ok := o.appPool.(sqlAppPool)
	return ok
}

// ResizePool sets the attached pool's size and returns the size before:
// an error when no pool is attached or it cannot change (ErrPoolFixed).
func (o *Optimizer) ResizePool(n int) (prev int, err error) {
	if o.appPool == nil {
		return 0, errors.New("dbopt: no application pool attached (WithSQLPool, WithAppPool)")
	}
	if n < 1 {
		return 0, errors.New("dbopt: a pool needs at least one connection")
	}
	prev = int(o.appPool.stat().maxConns)
	if err := o.appPool.resize(n); err != nil {
		return prev, err
	}
	o.log.Info("resized the application pool", "from", prev, "to", n)
	return prev, nil
}

func poolAdvice(prev, cur *poolSnapshot, maxConns int32, acquiredNow float64, haveBusy bool) PoolAdvice {
	dt := cur.t.Sub(prev.t).Seconds()
	n := cur.acquires - prev.acquires
	a := PoolAdvice{MaxConns: maxConns, EmptyAcquires: cur.emptyAcquire - prev.emptyAcquire}
	if cur.acquires < 0 {
		n = a.EmptyAcquires // database/sql: the wait is over those that waited
	} else {
		a.AcquireRate = float64(n) / dt
	}
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
	st := o.appPool.stat()
	out := []metrics.Sample{
		{Name: MetricPoolUtilisation, Value: float64(st.inUse) / float64(max(st.maxConns, 1)), Unit: metrics.UnitRatio, Time: now},
		{Name: MetricPoolEmptyAcquires, Value: float64(st.emptyAcquire), Unit: metrics.UnitTotal, Time: now},
	}
	if adv, ok, _ := o.poolStep(now); ok {
		out = append(out,
			metrics.Sample{Name: MetricPoolAcquireWaitMs, Value: adv.AcquireWaitMs, Unit: metrics.UnitMilliseconds, Time: now},
			metrics.Sample{Name: MetricPoolRecommended, Value: float64(adv.Recommended), Unit: metrics.UnitCount, Time: now})
	}
	return out
}
