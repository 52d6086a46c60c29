// Package rediscache keeps apiopt's cache entries and their surrogate-key
// index in Redis, so every instance of a service shares one cache, with the
// in-process cache in front of it:
//
//	rc := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
//	c, err := cache.New(cache.Config{Shared: rediscache.New(rc, "myapi:")})
//
// Entries are stored with a TTL covering their stale windows; each tag is
// a set of entry keys. Invalidating a tag drops its keys and the set in one
// Lua script, so no instance can read an entry between the two.
package rediscache

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/perfengine/perfengine/apiopt/cache"
)

// Backend implements cache.Backend on Redis. It is safe for concurrent use.
type Backend struct {
	rc     redis.Cmdable
	prefix string
}

var _ cache.Backend = (*Backend)(nil)

// New returns a backend that keeps its keys under prefix (default
// "perfengine:cache:").
func New(rc redis.Cmdable, prefix string) *Backend {
	if prefix == "" {
		prefix = "perfengine:cache:"
	}
	return &Backend{rc: rc, prefix: prefix}
}

func (b *Backend) entryKey(k string) string { return b.prefix + "e:" + k }
func (b *Backend) tagKey(t string) string   { return b.prefix + "t:" + t }

// Get implements cache.Backend.
func (b *Backend) Get(ctx context.Context, key string) ([]byte, error) {
	v, err := b.rc.Get(ctx, b.entryKey(key)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, cache.ErrMiss
	}
	if err != nil {
		return nil, fmt.Errorf("rediscache: get: %w", err)
	}
	return v, nil
}

// Set implements cache.Backend: the entry and its tag memberships in one
// transaction. Tag sets live as long as their longest entry.
func (b *Backend) Set(ctx context.Context, key string, value []byte, ttl time.Duration, tags []string) error {
	_, err := b.rc.TxPipelined(ctx, func(p redis.Pipeliner) error {
		ek := b.entryKey(key)
		p.Set(ctx, ek, value, ttl)
		for _, t := range tags {
			tk := b.tagKey(t)
			p.SAdd(ctx, tk, ek)
			p.ExpireGT(ctx, tk, ttl)
			p.ExpireNX(ctx, tk, ttl)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("rediscache: set: %w", err)
	}
	return nil
}

// Delete implements cache.Backend.
func (b *Backend) Delete(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	ks := make([]string, len(keys))
	for i, k := range keys {
		ks[i] = b.entryKey(k)
	}
	if err := b.rc.Del(ctx, ks...).Err(); err != nil {
		return fmt.Errorf("rediscache: delete: %w", err)
	}
	return nil
}

// dropTags deletes the members of every tag set in KEYS and the sets, and
// returns how many entries existed.
var dropTags = redis.NewScript(`
local n = 0
for _, tag in ipairs(KEYS) do
  local members = redis.call('SMEMBERS', tag)
  for i = 1, #members, 500 do
    n = n + redis.call('DEL', unpack(members, i, math.min(i + 499, #members)))
  end
  redis.call('DEL', tag)
end
return n
`)

// DeleteTags implements cache.Backend.
func (b *Backend) DeleteTags(ctx context.Context, tags ...string) (int, error) {
	if len(tags) == 0 {
		return 0, nil
	}
	ks := make([]string, len(tags))
	for i, t := range tags {
		ks[i] = b.tagKey(t)
	}
	n, err := dropTags.Run(ctx, b.rc, ks).Int()
	if err != nil {
		return 0, fmt.Errorf("rediscache: delete tags: %w", err)
	}
	return n, nil
}
