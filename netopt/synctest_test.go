package netopt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// rtFunc lets synctest drive the stack with in-memory answers: time in a
// bubble is fake, so waits are checked exactly and cost nothing.
type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func answer(r *http.Request, status int, body string, h http.Header) *http.Response {
	if h == nil {
		h = http.Header{}
	}
	return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(strings.NewReader(body)), Request: r, ContentLength: int64(len(body))}
}

func TestRetryAfterHonoured(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int32
		base := rtFunc(func(r *http.Request) (*http.Response, error) {
			if n.Add(1) == 1 {
				return answer(r, 503, "", http.Header{"Retry-After": {"7"}}), nil
			}
			return answer(r, 200, "ok", nil), nil
		})
		tr, err := NewTransport(base, Config{Hedge: HedgeConfig{Disabled: true}})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		resp, err := tr.Client().Get("http://upstream.test/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if waited := time.Since(start); waited != 7*time.Second || resp.StatusCode != 200 {
			t.Errorf("waited %v for status %d, want 7s then 200", waited, resp.StatusCode)
		}
	})
}

func TestBackoffIsFullJitterWithinCap(t *testing.T) {
	tr, _ := NewTransport(rtFunc(nil), Config{Retry: RetryConfig{BackoffBase: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond}})
	for n := range 8 {
		limit := min(50*time.Millisecond, 10*time.Millisecond<<n)
		for range 200 {
			if d := tr.backoff(n); d < 0 || d > limit {
				t.Fatalf("backoff(%d) = %v, want in [0, %v]", n, d, limit)
			}
		}
	}
}

func TestDeadlineStopsRetryWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := rtFunc(func(r *http.Request) (*http.Response, error) {
			return answer(r, 503, "", http.Header{"Retry-After": {"10"}}), nil
		})
		tr, _ := NewTransport(base, Config{Hedge: HedgeConfig{Disabled: true}})
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://upstream.test/", nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 503 || time.Since(time.Unix(946684800, 0)) < 0 {
			t.Errorf("status %d, want the 503 back at once: the wait would pass the deadline", resp.StatusCode)
		}
		if m := tr.Metrics(ctx).Hosts[0]; m.Attempts != 1 {
			t.Errorf("%d attempts, want 1", m.Attempts)
		}
	})
}

func TestHedgeAtObservedQuantile(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int32
		// Every 20th request is slow; the others take 1ms.
		base := rtFunc(func(r *http.Request) (*http.Response, error) {
			d := time.Millisecond
			if n.Add(1)%20 == 0 {
				d = 200 * time.Millisecond
			}
			select {
			case <-time.After(d):
				return answer(r, 200, "ok", nil), nil
			case <-r.Context().Done():
				return nil, r.Context().Err()
			}
		})
		tr, _ := NewTransport(base, Config{Hedge: HedgeConfig{MinSamples: 20}})
		worst := time.Duration(0)
		for i := range 400 {
			start := time.Now()
			resp, err := tr.Client().Get("http://upstream.test/")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if i >= 100 {
				worst = max(worst, time.Since(start))
			}
			time.Sleep(10 * time.Millisecond) // fake time: spreads refreshes
		}
		m := tr.Metrics(t.Context()).Hosts[0]
		if m.HedgeDelay <= 0 || m.HedgeDelay >= 200*time.Millisecond {
			t.Errorf("hedge delay %v, want the fast requests' p95", m.HedgeDelay)
		}
		if worst >= 200*time.Millisecond {
			t.Errorf("worst latency after warm-up %v: slow attempts were not hedged", worst)
		}
		if m.Hedges == 0 || m.HedgeWins == 0 || m.Hedges > 400/5 {
			t.Errorf("hedges %d wins %d for 400 requests", m.Hedges, m.HedgeWins)
		}
	})
}

func TestCoalesceIdenticalGETs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		release := make(chan struct{})
		base := rtFunc(func(r *http.Request) (*http.Response, error) {
			calls.Add(1)
			select {
			case <-release:
			case <-r.Context().Done():
				return nil, r.Context().Err()
			}
			return answer(r, 200, "shared body "+r.Header.Get("Authorization"), http.Header{"X-A": {"1"}}), nil
		})
		tr, _ := NewTransport(base, Config{Hedge: HedgeConfig{Disabled: true}})
		const waiters = 8
		bodies := make([]string, waiters+1)
		var wg sync.WaitGroup
		for i := range waiters + 1 {
			wg.Go(func() {
				req, _ := http.NewRequest("GET", "http://upstream.test/items", nil)
				if i == waiters {
					req.Header.Set("Authorization", "other-user")
				}
				resp, err := tr.OptimizedFetch(t.Context(), req)
				if err != nil {
					t.Error(err)
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				resp.Header.Set("X-A", "changed by one caller")
				bodies[i] = string(b)
			})
		}
		synctest.Wait()
		close(release)
		wg.Wait()
		if c := calls.Load(); c != 2 {
			t.Errorf("%d round trips for %d identical GETs and one of another user, want 2", c, waiters)
		}
		for i, b := range bodies[:waiters] {
			if b != "shared body " {
				t.Errorf("caller %d read %q", i, b)
			}
		}
		if bodies[waiters] != "shared body other-user" {
			t.Errorf("other user's body %q: requests with different headers must not share", bodies[waiters])
		}
		if m := tr.Metrics(t.Context()).Hosts[0]; m.Coalesced != waiters-1 {
			t.Errorf("coalesced %d, want %d", m.Coalesced, waiters-1)
		}
	})
}

func TestCoalesceWaitersMayLeave(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cancelled := make(chan struct{})
		base := rtFunc(func(r *http.Request) (*http.Response, error) {
			<-r.Context().Done()
			close(cancelled)
			return nil, r.Context().Err()
		})
		tr, _ := NewTransport(base, Config{Hedge: HedgeConfig{Disabled: true}, Coalesce: true})
		ctx1, cancel1 := context.WithCancel(t.Context())
		ctx2, cancel2 := context.WithCancel(t.Context())
		errs := make(chan error, 2)
		for _, ctx := range []context.Context{ctx1, ctx2} {
			go func() {
				req, _ := http.NewRequestWithContext(ctx, "GET", "http://upstream.test/", nil)
				_, err := tr.RoundTrip(req)
				errs <- err
			}()
		}
		synctest.Wait()
		cancel1()
		if err := <-errs; !errors.Is(err, context.Canceled) {
			t.Fatalf("first waiter: %v", err)
		}
		synctest.Wait()
		select {
		case <-cancelled:
			t.Fatal("shared request cancelled while a waiter remained")
		default:
		}
		cancel2()
		<-errs
		<-cancelled
	})
}

func TestBatcher(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls [][]int
		var mu sync.Mutex
		fn := func(ctx context.Context, keys []int) (map[int]string, error) {
			mu.Lock()
			calls = append(calls, append([]int(nil), keys...))
			mu.Unlock()
			out := map[int]string{}
			for _, k := range keys {
				if k != 404 {
					out[k] = fmt.Sprint("v", k)
				}
			}
			return out, nil
		}
		b := NewBatcher(fn, BatchConfig{Wait: 5 * time.Millisecond, MaxKeys: 3})
		defer b.Close()
		load := func(keys ...int) []string {
			out := make([]string, len(keys))
			var wg sync.WaitGroup
			for i, k := range keys {
				wg.Go(func() {
					v, err := b.Load(t.Context(), k)
					if err != nil {
						v = err.Error()
					}
					out[i] = v
				})
			}
			wg.Wait()
			return out
		}
		start := time.Now()
		got := load(1, 2, 2)
		if fmt.Sprint(got) != "[v1 v2 v2]" || len(calls) != 1 || len(calls[0]) != 2 {
			t.Errorf("Load(1,2,2) = %v in calls %v, want one call with keys 1 and 2", got, calls)
		}
		if w := time.Since(start); w != 5*time.Millisecond {
			t.Errorf("batch of 2 keys waited %v, want the 5ms window", w)
		}
		start = time.Now()
		load(4, 5, 6)
		if w := time.Since(start); w != 0 {
			t.Errorf("a full batch (MaxKeys) waited %v, want none", w)
		}
		if got := load(404); !strings.Contains(got[0], "no result") {
			t.Errorf("missing key: %q, want ErrNoResult", got[0])
		}
	})
}

func TestBatcherCallerLeavesAndPanics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		called := false
		b := NewBatcher(func(ctx context.Context, keys []string) (map[string]int, error) {
			called = true
			panic("boom")
		}, BatchConfig{Wait: time.Second})
		ctx, cancel := context.WithCancel(t.Context())
		errc := make(chan error)
		go func() { _, err := b.Load(ctx, "a"); errc <- err }()
		synctest.Wait()
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("left caller: %v", err)
		}
		time.Sleep(2 * time.Second)
		if called {
			t.Error("a batch whose callers all left was still sent")
		}
		go func() { _, err := b.Load(t.Context(), "b"); errc <- err }()
		if err := <-errc; err == nil || !strings.Contains(err.Error(), "panicked") {
			t.Errorf("panicking batch: %v", err)
		}
		b.Close()
		if _, err := b.Load(t.Context(), "c"); !errors.Is(err, ErrBatcherClosed) {
			t.Errorf("after Close: %v", err)
		}
	})
}

func TestHedgesBoundedByBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := rtFunc(func(r *http.Request) (*http.Response, error) {
			select {
			case <-time.After(10 * time.Millisecond):
				return answer(r, 200, "ok", nil), nil
			case <-r.Context().Done():
				return nil, r.Context().Err()
			}
		})
		tr, _ := NewTransport(base, Config{
			Retry: RetryConfig{BudgetTokens: 2, BudgetRatio: 0.001},
			Hedge: HedgeConfig{Delay: time.Millisecond},
		})
		for range 10 {
			resp, err := tr.Client().Get("http://upstream.test/")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
		synctest.Wait() // the losers are reaped
		// 2 tokens: the first hedge leaves 1 (not more than half), the
		// first success gives back 0.001, which allows one more hedge.
		if m := tr.Metrics(t.Context()).Hosts[0]; m.Hedges != 2 || m.Attempts != 12 {
			t.Errorf("hedges %d attempts %d for 10 slow requests with 2 tokens, want 2 and 12", m.Hedges, m.Attempts)
		}
	})
}
