package netopt

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrCircuitOpen is matched (errors.Is) by every *CircuitOpenError.
var ErrCircuitOpen = errors.New("netopt: circuit open")

// CircuitOpenError is returned without sending a request while a host's
// circuit is open. Err is the failure that opened it, so the cause is never
// hidden behind the breaker: errors.Is and errors.As see through to it.
type CircuitOpenError struct {
	Host  string
	Until time.Time // when one probe will be let through
	Err   error     // the failure that opened the circuit
}

func (e *CircuitOpenError) Error() string {
	return fmt.Sprintf("netopt: circuit open for %s until %s: last failure: %v", e.Host, e.Until.Format(time.RFC3339), e.Err)
}

// Unwrap returns ErrCircuitOpen and the original failure.
func (e *CircuitOpenError) Unwrap() []error { return []error{ErrCircuitOpen, e.Err} }

// BreakerState is where a host's circuit is.
type BreakerState string

// Breaker states.
const (
	BreakerClosed   BreakerState = "closed"
	BreakerOpen     BreakerState = "open"
	BreakerHalfOpen BreakerState = "half-open"
)

// breaker is one host's circuit. It counts attempts and failures over a
// fixed window; when the failure ratio reaches the threshold with enough
// attempts, it opens for openFor, then lets a single probe through: success
// closes it, failure opens it again. A ratio rather than consecutive
// failures, because a host failing one request in five would otherwise trip
// a 5-in-a-row breaker a few times per ten thousand requests.
type breaker struct {
	cfg BreakerConfig
	now func() time.Time

	mu          sync.Mutex
	state       BreakerState
	windowStart time.Time
	total, fail int
	openedUntil time.Time
	probing     bool
	lastErr     error
	opens       uint64
}

func newBreaker(cfg BreakerConfig, now func() time.Time) *breaker {
	return &breaker{cfg: cfg, now: now, state: BreakerClosed}
}

// admit reports whether an attempt may be sent, and whether it is the
// half-open probe. While open it returns the error to give the caller.
func (b *breaker) admit(host string) (probe bool, err error) {
	if b.cfg.Disabled {
		return false, nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == BreakerClosed {
		return false, nil
	}
	now := b.now()
	switch b.state {
	case BreakerOpen:
		if now.Before(b.openedUntil) {
			return false, &CircuitOpenError{Host: host, Until: b.openedUntil, Err: b.lastErr}
		}
		b.state = BreakerHalfOpen
		fallthrough
	case BreakerHalfOpen:
		if b.probing {
			return false, &CircuitOpenError{Host: host, Until: now, Err: b.lastErr}
		}
		b.probing = true
		return true, nil
	}
	return false, nil
}

// record adds the outcome of an attempt that ended at now. err is the
// failure (nil: success).
func (b *breaker) record(probe bool, err error, now time.Time) {
	if b.cfg.Disabled {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if probe {
		b.probing = false
		if err == nil {
			b.state = BreakerClosed
			b.windowStart, b.total, b.fail = now, 0, 0
		} else {
			b.trip(now, err)
		}
		return
	}
	if b.state != BreakerClosed {
		return // an attempt admitted before the circuit opened
	}
	if now.Sub(b.windowStart) > b.cfg.Window {
		b.windowStart, b.total, b.fail = now, 0, 0
	}
	b.total++
	if err != nil {
		b.fail++
		if b.total >= b.cfg.MinRequests && float64(b.fail) >= b.cfg.FailureRatio*float64(b.total) {
			b.trip(now, err)
		}
	}
}

func (b *breaker) trip(now time.Time, err error) {
	b.state = BreakerOpen
	b.openedUntil = now.Add(b.cfg.OpenFor)
	b.lastErr = err
	b.opens++
}

// cancelProbe releases the probe slot of an attempt that ended without an
// outcome about the host (the caller cancelled).
func (b *breaker) cancelProbe() {
	b.mu.Lock()
	b.probing = false
	b.mu.Unlock()
}

func (b *breaker) snapshot() (BreakerState, uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.state
	if s == BreakerOpen && !b.now().Before(b.openedUntil) {
		s = BreakerHalfOpen
	}
	return s, b.opens
}

// reset closes the circuit (an operator's decision).
func (b *breaker) reset() {
	b.mu.Lock()
	b.state, b.probing, b.total, b.fail = BreakerClosed, false, 0, 0
	b.mu.Unlock()
}
