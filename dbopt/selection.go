package dbopt

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// wq is a workload query during advice.
type wq struct {
	Query
	shape  *shape
	uses   map[*table]*usage
	base   float64 // planner cost with the existing indexes
	cur    float64 // with the picks so far
	weight float64 // calls × mean time per unit of cost, or calls
}

// evaluator costs queries with hypothetical indexes. Implementations keep
// the picked indexes in place between calls.
type evaluator interface {
	// with returns the costs of the queries with c added to the picks, and
	// c's size in bytes.
	with(ctx context.Context, c *candidate, qs []*wq) (costs []float64, size int64, err error)
	// keep adds c to the picks.
	keep(ctx context.Context, c *candidate) error
	// drop removes a pick again.
	drop(ctx context.Context, c *candidate) error
	// costs returns the queries' costs with the picks in place.
	costs(ctx context.Context, qs []*wq) ([]float64, error)
}

// weigh parses and costs each query of the workload and weighs it by the
// time it stands for. A query that is too long, does not parse, names a
// table that does not exist or cannot be costed is skipped with its reason.
// lookup resolves tables and appends the names it cannot find to *missing.
func weigh(ctx context.Context, queries []Query, parse func(string) (*shape, error),
	lookup func(tableRef) *table, missing *[]string,
	cost func(context.Context, *wq) (float64, error)) (qs []*wq, skipped []Skipped) {
	skip := func(q Query, reason string) {
		skipped = append(skipped, Skipped{Query: Abbrev(q.SQL, 200), Reason: reason})
	}
	for _, q := range queries {
		if len(q.SQL) > MaxQueryBytes {
			skip(q, fmt.Sprintf("longer than %d KiB", MaxQueryBytes>>10))
			continue
		}
		s, err := parse(q.SQL)
		if err != nil {
			skip(q, err.Error())
			continue
		}
		*missing = (*missing)[:0]
		uses := resolve(s, lookup)
		if len(*missing) > 0 {
			skip(q, "table does not exist: "+strings.Join(*missing, ", "))
			continue
		}
		w := &wq{Query: q, shape: s, uses: uses}
		c, err := cost(ctx, w)
		if err != nil {
			skip(q, err.Error())
			continue
		}
		if w.Calls <= 0 {
			w.Calls = 1
		}
		w.base, w.cur = c, c
		w.weight = float64(w.Calls)
		if q.MeanMs > 0 && c > 0 {
			// Time spent is what we save: weigh the planner's cost units
			// by the milliseconds they stood for in this query.
			w.weight = float64(w.Calls) * q.MeanMs / c
		}
		qs = append(qs, w)
	}
	return qs, skipped
}

// pick is a chosen index with what it saves.
type pick struct {
	c      *candidate
	qs     []*wq
	before []float64
	after  []float64
}

// tieTolerance: candidates whose value is within this fraction of the
// best are compared by size, so a narrower index wins at equal value.
const tieTolerance = 0.02

// sizeWeight prices an index's bytes in the workload's cost: an index
// whose size is a fraction f of the tables the workload reads is charged
// sizeWeight × f of the workload's cost, and ranks by its saving less
// that charge. The charge decides between indexes that save nearly the
// same: a two-column index whose char(1) column stops deduplication,
// three times the bytes of its leading column alone, for a few queries'
// last percent. It also refuses an index whose saving is small next to
// its bytes. 0.01: an index as big as the data must save 1 % of the
// workload's cost. On bench/db's four workloads, 0.002 to 0.05 cut the
// bytes to 0.35–0.85 of the size-blind choice; from 0.02 up, the costs
// rose by up to 5 %.
const sizeWeight = 0.01

// costPerByte is the workload's weighted cost per byte of the tables it
// reads, what sizeWeight prices bytes at; 0 when the sizes are unknown
// (SQLite), and then size only breaks ties.
func costPerByte(qs []*wq) float64 {
	bytes := 0.0
	seen := map[*table]bool{}
	for _, q := range qs {
		for t := range q.uses {
			if !seen[t] {
				seen[t] = true
				bytes += t.Bytes
			}
		}
	}
	if bytes <= 0 {
		return 0
	}
	return remaining(qs) / bytes
}

// selectIndexes picks indexes greedily across the workload. Each round
// takes the candidate with the largest weighted saving less the charge for
// its bytes (sizeWeight), given the picks so far (so two indexes serving
// the same query are not both picked), that clears the bars of
// AdviseOptions and fits in the budget. Savings only
// shrink as picks accumulate, so a candidate's last saving bounds its next
// one and most candidates are not re-costed (lazy greedy).
func selectIndexes(ctx context.Context, ev evaluator, qs []*wq, cands []*candidate, opt AdviseOptions) ([]pick, error) {
	for _, c := range cands {
		c.bound = -1 // not evaluated: try first
	}
	var picks []pick
	var used int64
	rate := sizeWeight * costPerByte(qs)
	for len(picks) < opt.MaxIndexes {
		if err := ctx.Err(); err != nil {
			return picks, err
		}
		// The workload-share bar is against what is left to save, not
		// the cost before any pick: once the big scans are indexed, the
		// small queries are what remains, and a cheap index that serves
		// one of them should not be refused for the share it had of a
		// workload that no longer exists.
		total := remaining(qs)
		sort.SliceStable(cands, func(i, j int) bool {
			bi, bj := cands[i].bound, cands[j].bound
			if (bi < 0) != (bj < 0) {
				return bi < 0
			}
			return bi > bj
		})
		var best *pick
		var bestValue float64
		for _, c := range cands {
			if c.dead {
				continue
			}
			// A candidate's value is at most its benefit, which is at
			// most its last benefit.
			if best != nil && c.bound >= 0 && c.bound < bestValue*(1-tieTolerance) {
				break
			}
			aff := affectedBy(c, qs)
			if len(aff) == 0 {
				c.dead = true
				continue
			}
			costs, size, err := ev.with(ctx, c, aff)
			if err != nil {
				c.dead = true
				continue
			}
			c.size = size
			var benefit, affBase float64
			var helped []*wq
			var before, after []float64
			for i, q := range aff {
				d := q.cur - costs[i]
				if d > q.cur*1e-3 {
					benefit += q.weight * d
					affBase += q.weight * q.cur
					helped = append(helped, q)
					before = append(before, q.cur)
					after = append(after, costs[i])
				}
			}
			c.bound = benefit
			if benefit <= 0 {
				c.dead = true
				continue
			}
			if !passes(c, benefit, affBase, total, rate, opt) {
				continue
			}
			if opt.Budget > 0 && used+size > opt.Budget {
				continue
			}
			value := benefit - rate*float64(size)
			if best == nil || value > bestValue*(1+tieTolerance) ||
				(value >= bestValue*(1-tieTolerance) && smaller(c, best.c)) {
				best = &pick{c: c, qs: helped, before: before, after: after}
			}
			bestValue = max(bestValue, value)
		}
		if best == nil {
			break
		}
		if err := ev.keep(ctx, best.c); err != nil {
			return picks, err
		}
		best.c.dead = true
		used += best.c.size
		for i, q := range best.qs {
			q.cur = best.after[i]
		}
		picks = append(picks, *best)
	}
	picks, err := prune(ctx, ev, qs, picks, rate, opt)
	if err != nil {
		return nil, err
	}
	return attribute(ctx, ev, qs, picks)
}

// passes reports whether a saving clears the bars of AdviseOptions and
// is worth the index's bytes at rate (cost per byte).
func passes(c *candidate, benefit, affBase, total, rate float64, opt AdviseOptions) bool {
	bar := opt.MinSavings * (1 + c.Table.WriteShare)
	return benefit > 0 && benefit >= bar*affBase && benefit >= opt.MinWorkloadShare*total &&
		benefit > rate*float64(c.size)
}

// prune removes picks that later picks made redundant: a narrow index
// picked first for a query that a wider pick then served better. Each pick
// in turn is taken out and kept out if, as the last pick, it would no
// longer clear the bars.
func prune(ctx context.Context, ev evaluator, qs []*wq, picks []pick, rate float64, opt AdviseOptions) ([]pick, error) {
	if len(picks) < 2 {
		return picks, nil
	}
	var kept []pick
	for i := 0; i < len(picks); i++ {
		p := picks[i]
		total := remaining(qs)
		aff := affectedBy(p.c, qs)
		if err := ev.drop(ctx, p.c); err != nil {
			return nil, err
		}
		without, err := ev.costs(ctx, aff)
		if err != nil {
			return nil, err
		}
		var benefit, affBase float64
		for i, q := range aff {
			if d := without[i] - q.cur; d > 0 {
				benefit += q.weight * d
				affBase += q.weight * without[i]
			}
		}
		if passes(p.c, benefit, affBase, total+benefit, rate, opt) {
			if err := ev.keep(ctx, p.c); err != nil {
				return nil, err
			}
			kept = append(kept, p)
			continue
		}
		for i, q := range aff {
			q.cur = without[i]
		}
		// The wider index that made p redundant takes its rank, so the
		// picks chosen between them are attributed what they save with
		// it in place, as they were chosen with p in place.
		for j := i + 1; j < len(picks); j++ {
			if extends(picks[j].c, p.c) {
				w := picks[j]
				copy(picks[i+2:j+1], picks[i+1:j])
				picks[i+1] = w
				break
			}
		}
	}
	return kept, nil
}

// extends reports whether a's keys start with all of b's, on the same rows.
func extends(a, b *candidate) bool {
	return a.Table == b.Table && a.Where == b.Where && a.Method == b.Method &&
		len(a.Columns) >= len(b.Columns) && slices.Equal(a.Columns[:len(b.Columns)], b.Columns)
}

// attribute measures what each pick saves with the picks ranked above it
// in place, which is how suggestions report their savings.
func attribute(ctx context.Context, ev evaluator, qs []*wq, picks []pick) ([]pick, error) {
	for _, p := range picks {
		if err := ev.drop(ctx, p.c); err != nil {
			return nil, err
		}
	}
	for _, q := range qs {
		q.cur = q.base
	}
	out := make([]pick, 0, len(picks))
	for _, p := range picks {
		aff := affectedBy(p.c, qs)
		if err := ev.keep(ctx, p.c); err != nil {
			return nil, err
		}
		after, err := ev.costs(ctx, aff)
		if err != nil {
			return nil, err
		}
		np := pick{c: p.c}
		for i, q := range aff {
			if q.cur-after[i] > q.cur*1e-3 {
				np.qs = append(np.qs, q)
				np.before = append(np.before, q.cur)
				np.after = append(np.after, after[i])
			}
			q.cur = min(q.cur, after[i])
		}
		out = append(out, np)
	}
	return out, nil
}

func smaller(a, b *candidate) bool {
	if a.size != b.size {
		return a.size < b.size
	}
	return len(a.Columns) < len(b.Columns)
}

// affectedBy returns the queries that read c's table and use its leading
// column, the only ones a btree on it can help.
func affectedBy(c *candidate, qs []*wq) []*wq {
	var out []*wq
	for _, q := range qs {
		if u := q.uses[c.Table]; u != nil && u.All[c.Columns[0]] {
			out = append(out, q)
		}
	}
	return out
}

// remaining is the workload's weighted cost with the picks so far.
func remaining(qs []*wq) float64 {
	var t float64
	for _, q := range qs {
		t += q.weight * q.cur
	}
	return t
}
