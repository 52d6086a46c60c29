package netopt

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Batcher defaults.
const (
	DefaultBatchWait    = 2 * time.Millisecond
	DefaultBatchMaxKeys = 100
)

// Batcher errors.
var (
	ErrNoResult      = errors.New("netopt: batch returned no result for the key")
	ErrBatcherClosed = errors.New("netopt: batcher closed")
)

// BatchFunc loads many keys in one call, such as one GET /items?ids=1,2,3.
// Keys missing from the map get ErrNoResult.
type BatchFunc[K comparable, V any] func(ctx context.Context, keys []K) (map[K]V, error)

// BatchConfig bounds a batch: it is sent when MaxKeys distinct keys are
// waiting or Wait after its first key, whichever comes first.
type BatchConfig struct {
	Wait    time.Duration `yaml:"wait" json:"wait"`       // default 2ms
	MaxKeys int           `yaml:"maxKeys" json:"maxKeys"` // default 100
}

// Batcher collects the keys asked for by concurrent callers and loads them
// with one BatchFunc call, in the manner of Facebook's DataLoader. Callers
// wait on their own context; a batch whose callers have all left is
// cancelled, or not sent at all. It is safe for concurrent use; Close waits
// for batches in flight.
type Batcher[K comparable, V any] struct {
	fn  BatchFunc[K, V]
	cfg BatchConfig

	mu     sync.Mutex
	cur    *batch[K, V]
	closed bool
	wg     sync.WaitGroup
}

type batch[K comparable, V any] struct {
	keys       []K
	seen       map[K]struct{}
	waiters    int
	dispatched bool
	timer      *time.Timer
	ctx        context.Context
	cancel     context.CancelFunc
	done       chan struct{}
	res        map[K]V
	err        error
}

// NewBatcher returns a Batcher calling fn. It panics on a nil fn or a
// negative bound: both are programming errors.
func NewBatcher[K comparable, V any](fn BatchFunc[K, V], cfg BatchConfig) *Batcher[K, V] {
	if fn == nil || cfg.Wait < 0 || cfg.MaxKeys < 0 {
		panic("netopt: NewBatcher needs a function and non-negative bounds")
	}
	if cfg.Wait == 0 {
		cfg.Wait = DefaultBatchWait
	}
	if cfg.MaxKeys == 0 {
		cfg.MaxKeys = DefaultBatchMaxKeys
	}
	return &Batcher[K, V]{fn: fn, cfg: cfg}
}

// Load returns the value of key from the next batch.
func (b *Batcher[K, V]) Load(ctx context.Context, key K) (V, error) {
	var zero V
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return zero, ErrBatcherClosed
	}
	bt := b.cur
	if bt == nil {
		bctx, cancel := context.WithCancel(context.Background())
		bt = &batch[K, V]{seen: map[K]struct{}{}, ctx: bctx, cancel: cancel, done: make(chan struct{})}
		b.cur = bt
		b.wg.Add(1)
		bt.timer = time.AfterFunc(b.cfg.Wait, func() {
			defer b.wg.Done()
			b.dispatch(bt)
		})
	}
	if _, ok := bt.seen[key]; !ok {
		bt.seen[key] = struct{}{}
		bt.keys = append(bt.keys, key)
	}
	bt.waiters++
	if len(bt.keys) >= b.cfg.MaxKeys {
		b.cur = nil
		if bt.timer.Stop() {
			b.wg.Go(func() { b.dispatch(bt) }) // the timer's Done moves here
			b.wg.Done()
		}
	}
	b.mu.Unlock()

	select {
	case <-bt.done:
		if bt.err != nil {
			return zero, bt.err
		}
		v, ok := bt.res[key]
		if !ok {
			return zero, fmt.Errorf("%w: %v", ErrNoResult, key)
		}
		return v, nil
	case <-ctx.Done():
		b.mu.Lock()
		bt.waiters--
		if bt.waiters == 0 {
			bt.cancel()
		}
		b.mu.Unlock()
		return zero, ctx.Err()
	}
}

func (b *Batcher[K, V]) dispatch(bt *batch[K, V]) {
	b.mu.Lock()
	if b.cur == bt {
		b.cur = nil
	}
	if bt.dispatched {
		b.mu.Unlock()
		return
	}
	bt.dispatched = true
	keys := bt.keys
	abandoned := bt.waiters == 0
	b.mu.Unlock()
	defer bt.cancel()
	defer close(bt.done)
	if abandoned {
		bt.err = context.Canceled
		return
	}
	func() {
		defer func() {
			if p := recover(); p != nil {
				bt.err = fmt.Errorf("netopt: batch function panicked: %v", p)
			}
		}()
		bt.res, bt.err = b.fn(bt.ctx, keys)
	}()
}

// Close sends the batch being collected and waits for every batch in
// flight; later Loads fail with ErrBatcherClosed. It returns nil: the
// batches' own errors went to their callers.
func (b *Batcher[K, V]) Close() error {
	b.mu.Lock()
	b.closed = true
	bt := b.cur
	b.cur = nil
	stopped := bt != nil && bt.timer.Stop()
	b.mu.Unlock()
	if stopped {
		b.dispatch(bt)
		b.wg.Done()
	}
	b.wg.Wait()
	return nil
}
