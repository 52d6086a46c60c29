package netopt

import (
	"math"
	"sync/atomic"
)

// budget is gRPC's retry throttling (gRFC A6): a token count that failures
// and hedges spend and successes refill by a ratio. Retries and hedges are
// allowed only while more than half the tokens are left, so when a host
// fails for everyone the extra load stops after a few dozen attempts instead
// of multiplying the outage by the attempt count. Lock-free: the count is a
// fixed-point integer (thousandths of a token) in an atomic.
type budget struct {
	max   int64 // thousandths
	ratio int64 // thousandths given back per success
	cur   atomic.Int64
}

const milli = 1000

func newBudget(tokens, ratio float64) *budget {
	b := &budget{max: int64(math.Round(tokens * milli)), ratio: int64(math.Round(ratio * milli))}
	b.cur.Store(b.max)
	return b
}

// allow reports whether a retry or hedge may be sent now.
func (b *budget) allow() bool { return b.cur.Load() > b.max/2 }

// spend takes one token (a failed attempt or a hedge sent).
func (b *budget) spend() {
	for {
		c := b.cur.Load()
		n := max(c-milli, 0)
		if c == n || b.cur.CompareAndSwap(c, n) {
			return
		}
	}
}

// refill gives back the ratio after a success.
func (b *budget) refill() {
	for {
		c := b.cur.Load()
		n := min(c+b.ratio, b.max)
		if c == n || b.cur.CompareAndSwap(c, n) {
			return
		}
	}
}

// tokens returns the tokens left.
func (b *budget) tokens() float64 { return float64(b.cur.Load()) / milli }
