package dbopt

import (
	"context"
	"math"
	"sync"
	"time"
)

// stmtTotals are one statement's cumulative figures in pg_stat_statements:
// calls, and the sum and sum of squares of execution time (ms), the last
// two recovered from its mean and population standard deviation.
type stmtTotals struct {
	calls, sum, sumSq float64
}

// queryTimes remembers the last read of pg_stat_statements, so each
// collection measures the statements executed since.
type queryTimes struct {
	mu   sync.Mutex
	prev map[int64]stmtTotals
	at   time.Time // when prev was read
}

// intervalTimes is what pg_stat_statements says of one interval.
type intervalTimes struct {
	p95Ms float64
	// busy is the mean number of backends executing statements over the
	// interval: execution time summed over every statement, divided by
	// the interval (Little's law, L = λW, from the database's side).
	busy float64
}

// component is one statement's execution times over an interval: how many,
// their mean and standard deviation.
type component struct {
	weight, mean, sd float64
}

// pgQueryTimes estimates the p95 of query execution time over the interval
// since the previous call, from pg_stat_statements deltas, and the mean
// number of busy backends. Each statement
// contributes its calls in the interval with their mean and standard
// deviation (from the deltas of the sums), modelled as a log-normal with
// those moments; the p95 is that of the mixture, weighted by calls. ok is
// false on the first call, with no executions since, or without
// pg_stat_statements.
func (o *Optimizer) pgQueryTimes(ctx context.Context) (iv intervalTimes, ok bool) {
	now := o.now()
	rows, err := o.pool.Query(ctx, `
		SELECT queryid, calls, total_exec_time, stddev_exec_time
		FROM pg_stat_statements
		WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND queryid IS NOT NULL`)
	if err != nil {
		o.log.Debug("query times unavailable", "err", err)
		return iv, false
	}
	cur := map[int64]stmtTotals{}
	for rows.Next() {
		var id, calls int64
		var total, sd float64
		if err := rows.Scan(&id, &calls, &total, &sd); err != nil {
			rows.Close()
			o.log.Debug("read pg_stat_statements", "err", err)
			return iv, false
		}
		if calls <= 0 {
			continue
		}
		n := float64(calls)
		mean := total / n
		t := cur[id] // a queryid can repeat across users: add them up
		t.calls += n
		t.sum += total
		t.sumSq += n * (sd*sd + mean*mean)
		cur[id] = t
	}
	rows.Close()
	if rows.Err() != nil {
		return iv, false
	}
	o.qt.mu.Lock()
	prev, prevAt := o.qt.prev, o.qt.at
	o.qt.prev, o.qt.at = cur, now
	o.qt.mu.Unlock()
	if prev == nil || !now.After(prevAt) {
		return iv, false
	}
	var comps []component
	var busyMs float64
	for id, c := range cur {
		p := prev[id]
		if c.calls < p.calls || c.sum < p.sum {
			p = stmtTotals{} // reset (pg_stat_statements_reset, eviction): all of it is new
		}
		dn := c.calls - p.calls
		if dn <= 0 {
			continue
		}
		busyMs += c.sum - p.sum
		mean := (c.sum - p.sum) / dn
		variance := math.Max((c.sumSq-p.sumSq)/dn-mean*mean, 0)
		comps = append(comps, component{weight: dn, mean: mean, sd: math.Sqrt(variance)})
	}
	if len(comps) == 0 {
		return iv, false
	}
	iv.p95Ms = mixtureQuantile(comps, 0.95)
	iv.busy = busyMs / float64(now.Sub(prevAt).Milliseconds()+1)
	return iv, true
}

// mixtureQuantile is the q-quantile of a weighted mixture of log-normals,
// each matched to a component's mean and standard deviation (a point mass
// when the deviation is 0), found by bisection on the mixture's CDF.
func mixtureQuantile(comps []component, q float64) float64 {
	var total, hi float64
	for _, c := range comps {
		total += c.weight
		hi = math.Max(hi, c.mean+10*c.sd)
	}
	cdf := func(x float64) float64 {
		var f float64
		for _, c := range comps {
			f += c.weight * lognormalCDF(x, c.mean, c.sd)
		}
		return f / total
	}
	lo := 0.0
	hi = math.Max(hi, 1e-9)
	for range 100 {
		mid := (lo + hi) / 2
		if cdf(mid) < q {
			lo = mid
		} else {
			hi = mid
		}
		if hi-lo < 1e-6*math.Max(hi, 1) {
			break
		}
	}
	return hi
}

// lognormalCDF is P(X ≤ x) for the log-normal with the given mean and
// standard deviation.
func lognormalCDF(x, mean, sd float64) float64 {
	if mean <= 0 {
		return 1
	}
	if sd == 0 {
		if x >= mean {
			return 1
		}
		return 0
	}
	if x <= 0 {
		return 0
	}
	s2 := math.Log(1 + sd*sd/(mean*mean))
	mu := math.Log(mean) - s2/2
	return 0.5 * math.Erfc(-(math.Log(x)-mu)/math.Sqrt(2*s2))
}
