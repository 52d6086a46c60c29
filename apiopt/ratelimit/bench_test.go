package ratelimit

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// Run: go test -run='^$' -bench=. -benchtime=1s ./apiopt/ratelimit/

func BenchmarkMemoryAllow(b *testing.B) {
	m, _ := NewMemory(Limit{Rate: 1 << 30, Period: time.Second, Burst: 1 << 20})
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = "10.0.0." + strconv.Itoa(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	now := time.Now()
	for i := 0; b.Loop(); i++ {
		m.AllowAt(keys[i&1023], now)
	}
}

func BenchmarkMemoryAllowParallel(b *testing.B) {
	m, _ := NewMemory(Limit{Rate: 1 << 30, Period: time.Second, Burst: 1 << 20})
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = "10.0.0." + strconv.Itoa(i)
	}
	b.ReportAllocs()
	var seq atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		i := int(seq.Add(1)) * 97
		now := time.Now()
		for pb.Next() {
			m.AllowAt(keys[i&1023], now)
			i++
		}
	})
}

// BenchmarkRedisAllow reports decisions per second against the local Redis
// with 64 concurrent callers (-cpu or SetParallelism change that).
func BenchmarkRedisAllow(b *testing.B) {
	c := redisClient(b)
	prefix := fmt.Sprintf("perfengine-bench:%d:", time.Now().UnixNano())
	cleanPrefix(b, c, prefix)
	lim, _ := NewRedis(c, Limit{Rate: 1 << 30, Period: time.Second, Burst: 1 << 20}, RedisOptions{Prefix: prefix})
	ctx := context.Background()
	b.ReportAllocs()
	b.SetParallelism(32)
	var seq atomic.Int64
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		i := seq.Add(1)
		key := "k" + strconv.FormatInt(i%64, 10)
		for pb.Next() {
			if _, err := lim.Allow(ctx, key, time.Now()); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "decisions/s")
	if lim.Fallbacks() != 0 {
		b.Fatalf("%d decisions fell back to memory", lim.Fallbacks())
	}
}
