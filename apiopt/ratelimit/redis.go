package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// gcraScript is GCRA for a batch of keys in one round trip. It reads
// Redis's clock, so every instance of a service shares one notion of now,
// and stores each key's theoretical arrival time in microseconds with an
// expiry at the moment its bucket is full again. It returns four integers
// per key: allowed, remaining, retry-after and reset-after (microseconds).
// All keys of a batch must hash to one slot on Redis Cluster; on a single
// node (the usual limiter store) there is no constraint.
var gcraScript = redis.NewScript(`
local burst = tonumber(ARGV[1])
local t = tonumber(ARGV[2])
local now_t = redis.call('TIME')
local now = tonumber(now_t[1]) * 1000000 + tonumber(now_t[2])
local out = {}
for i, key in ipairs(KEYS) do
  local tat = tonumber(redis.call('GET', key))
  if tat == nil or tat < now then tat = now end
  local new_tat = tat + t
  local allow_at = new_tat - burst * t
  if now < allow_at then
    out[#out+1] = 0; out[#out+1] = 0; out[#out+1] = allow_at - now; out[#out+1] = tat - now
  else
    redis.call('SET', key, new_tat, 'PX', math.ceil((new_tat - now) / 1000) + 1)
    out[#out+1] = 1; out[#out+1] = math.floor((now - allow_at) / t); out[#out+1] = 0; out[#out+1] = new_tat - now
  end
end
return out
`)

// maxBatch bounds the keys sent in one script call.
const maxBatch = 256

// Redis is a GCRA limiter shared by every instance through Redis.
//
// Concurrent decisions are grouped: while one script call is in flight,
// new requests queue into the next batch, and the first of them sends it
// when the call returns (group commit, no goroutine of our own and no
// added delay when idle). When Redis fails it decides locally with a
// Memory limiter, counts it, logs at most once a minute, and skips Redis
// for Backoff, so an outage costs one timeout per Backoff rather than one
// per request. It is safe for concurrent use.
type Redis struct {
	client   redis.Scripter
	prefix   string
	limit    Limit
	fallback *Memory
	log      *slog.Logger
	backoff  time.Duration
	timeout  time.Duration

	mu       sync.Mutex
	queue    []*batch // waiting to be sent; only the last takes new keys
	flushing bool

	downUntil atomic.Int64
	lastLog   atomic.Int64
	fallbacks atomic.Uint64
}

type batch struct {
	keys []string
	res  []int64
	err  error
	lead chan struct{} // closed when the owner may send the batch
	done chan struct{} // closed when res or err is set
}

var _ Limiter = (*Redis)(nil)

// RedisOptions configure NewRedis. Zero values mean defaults.
type RedisOptions struct {
	Prefix  string        // key prefix; default "perfengine:rl:"
	Logger  *slog.Logger  // default discards
	Backoff time.Duration // how long to skip Redis after an error; default 1s
	Timeout time.Duration // bound on one script call; default 250ms
}

// NewRedis returns a limiter for l against client.
func NewRedis(client redis.Scripter, l Limit, opts RedisOptions) (*Redis, error) {
	fb, err := NewMemory(l)
	if err != nil {
		return nil, err
	}
	if opts.Prefix == "" {
		opts.Prefix = "perfengine:rl:"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Backoff == 0 {
		opts.Backoff = time.Second
	}
	if opts.Timeout == 0 {
		opts.Timeout = 250 * time.Millisecond
	}
	return &Redis{client: client, prefix: opts.Prefix, limit: l, fallback: fb, log: opts.Logger, backoff: opts.Backoff, timeout: opts.Timeout}, nil
}

// Fallbacks counts decisions made locally because Redis failed.
func (l *Redis) Fallbacks() uint64 { return l.fallbacks.Load() }

// SetPressure scales the sustained rate, in Redis and in the fallback.
func (l *Redis) SetPressure(f float64) { l.fallback.SetPressure(f) }

// Allow implements Limiter. It never returns an error: when Redis fails the
// local decision stands in, and Fallbacks counts it.
func (l *Redis) Allow(ctx context.Context, key string, now time.Time) (Decision, error) {
	if now.UnixNano() < l.downUntil.Load() {
		l.fallbacks.Add(1)
		return l.fallback.AllowAt(key, now), nil
	}
	b, i, owner := l.enqueue(l.prefix + key)
	if owner {
		l.sendLoop(ctx, b)
	}
	select {
	case <-b.done:
	case <-ctx.Done():
		// This caller leaves; its slot in the batch is still decided.
		return Decision{Limit: l.limit.Burst}, ctx.Err()
	}
	if b.err != nil || len(b.res) != 4*len(b.keys) {
		err := b.err
		if err == nil {
			err = fmt.Errorf("unexpected reply of %d values for %d keys", len(b.res), len(b.keys))
		}
		l.downUntil.Store(now.Add(l.backoff).UnixNano())
		l.fallbacks.Add(1)
		if last := l.lastLog.Load(); now.UnixNano()-last > int64(time.Minute) && l.lastLog.CompareAndSwap(last, now.UnixNano()) {
			l.log.Warn("rate limit store unavailable, deciding locally", "err", err)
		}
		return l.fallback.AllowAt(key, now), nil
	}
	r := b.res[4*i : 4*i+4]
	return Decision{
		Allowed:    r[0] == 1,
		Limit:      l.limit.Burst,
		Remaining:  int(r[1]),
		RetryAfter: time.Duration(r[2]) * time.Microsecond,
		ResetAfter: time.Duration(r[3]) * time.Microsecond,
	}, nil
}

// enqueue adds key to the open batch and reports whether the caller owns
// (must send) it.
func (l *Redis) enqueue(key string) (*batch, int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b *batch
	if n := len(l.queue); n > 0 {
		b = l.queue[n-1]
	}
	if b == nil || len(b.keys) >= maxBatch {
		b = &batch{lead: make(chan struct{}), done: make(chan struct{})}
		if !l.flushing {
			l.flushing = true
			close(b.lead)
		}
		l.queue = append(l.queue, b)
		b.keys = append(b.keys, key)
		return b, 0, true
	}
	b.keys = append(b.keys, key)
	return b, len(b.keys) - 1, false
}

// sendLoop waits for the owner's turn, sends its batch, and passes the turn
// to the next batch's owner.
func (l *Redis) sendLoop(ctx context.Context, b *batch) {
	<-b.lead
	l.mu.Lock()
	// The batch with the turn is always the oldest one.
	l.queue[0] = nil
	l.queue = l.queue[1:]
	keys := b.keys // no more appends once it left the queue
	l.mu.Unlock()

	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.timeout)
	t := max(l.limit.interval(l.fallback.Pressure())/int64(time.Microsecond), 1)
	res, err := gcraScript.Run(cctx, l.client, keys, l.limit.Burst, t).Int64Slice()
	cancel()
	if err == nil && len(res) != 4*len(keys) {
		err = errors.New("short reply")
	}
	b.res, b.err = res, err
	close(b.done)

	l.mu.Lock()
	if len(l.queue) > 0 {
		close(l.queue[0].lead) // flushing stays true: the next owner sends
	} else {
		l.flushing = false
	}
	l.mu.Unlock()
}
