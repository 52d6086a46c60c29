package netopt_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/perfengine/perfengine/netopt"
)

// A client whose GETs survive a flaky upstream: the first two answers are
// 503, the third is the page.
func ExampleNewClient() {
	var n atomic.Int32
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if n.Add(1) <= 2 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "hello")
	}))
	defer upstream.Close()

	client, err := netopt.NewClient(netopt.Config{})
	if err != nil {
		panic(err)
	}
	defer client.CloseIdleConnections()
	resp, err := client.Get(upstream.URL)
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := client.Transport.(*netopt.Transport).Metrics(context.Background()).Hosts[0]
	fmt.Println(resp.StatusCode, string(body), "attempts:", m.Attempts, "retries:", m.Retries)
	// Output: 200 hello attempts: 3 retries: 2
}

// The stack over a RoundTripper of your own; the breaker's error keeps the
// failure that opened the circuit.
func ExampleNewTransport() {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer upstream.Close()
	base := &http.Transport{}
	defer base.CloseIdleConnections()
	tr, err := netopt.NewTransport(base, netopt.Config{
		Retry:   netopt.RetryConfig{Disabled: true},
		Breaker: netopt.BreakerConfig{MinRequests: 3, OpenFor: time.Minute},
	})
	if err != nil {
		panic(err)
	}
	client := tr.Client()
	for range 3 {
		resp, err := client.Get(upstream.URL)
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
	}
	_, err = client.Get(upstream.URL)
	var cause *netopt.StatusError
	fmt.Println(errors.Is(err, netopt.ErrCircuitOpen), errors.As(err, &cause), cause.StatusCode)
	// Output: true true 502
}

// Ten callers ask for the same page at once; OptimizedFetch makes one
// round trip and gives each its own body.
func ExampleTransport_OptimizedFetch() {
	var hits atomic.Int32
	release := make(chan struct{})
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		<-release
		io.WriteString(w, "catalogue")
	}))
	defer upstream.Close()
	tr, _ := netopt.New(netopt.Config{})
	defer tr.CloseIdleConnections()

	done := make(chan string)
	for range 10 {
		go func() {
			req, _ := http.NewRequest("GET", upstream.URL, nil)
			resp, err := tr.OptimizedFetch(context.Background(), req)
			if err != nil {
				done <- err.Error()
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			done <- string(b)
		}()
	}
	// Wait until the nine followers have joined the first caller's request.
	for {
		if h := tr.Metrics(context.Background()).Hosts; len(h) == 1 && h[0].Coalesced == 9 {
			break
		}
		runtime.Gosched()
	}
	close(release)
	var bodies []string
	for range 10 {
		bodies = append(bodies, <-done)
	}
	fmt.Println(hits.Load(), "round trip,", strings.Count(strings.Join(bodies, " "), "catalogue"), "bodies")
	// Output: 1 round trip, 10 bodies
}

// One batch call serves three concurrent single-key loads.
func ExampleBatcher() {
	var calls atomic.Int32
	b := netopt.NewBatcher(func(_ context.Context, ids []int) (map[int]string, error) {
		calls.Add(1)
		out := map[int]string{}
		for _, id := range ids {
			out[id] = fmt.Sprint("item-", id)
		}
		return out, nil
	}, netopt.BatchConfig{Wait: 10 * time.Millisecond, MaxKeys: 3})
	defer b.Close()
	res := make(chan string, 3)
	for _, id := range []int{1, 2, 3} {
		go func() {
			v, _ := b.Load(context.Background(), id)
			res <- v
		}()
	}
	got := map[string]bool{}
	for range 3 {
		got[<-res] = true
	}
	fmt.Println(len(got), "values from", calls.Load(), "call")
	// Output: 3 values from 1 call
}

// Warm the pool before the first real request.
func ExampleTransport_PreconnectToDomains() {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer upstream.Close()
	tr, _ := netopt.New(netopt.Config{})
	defer tr.CloseIdleConnections()
	if err := tr.PreconnectToDomains(context.Background(), []string{upstream.URL}); err != nil {
		panic(err)
	}
	resp, _ := tr.Client().Get(upstream.URL)
	resp.Body.Close()
	fmt.Printf("reuse ratio %.1f\n", tr.Metrics(context.Background()).Hosts[0].ReuseRatio)
	// Output: reuse ratio 0.5
}

func ExampleParseRetryAfter() {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, v := range []string{"120", "Fri, 02 Jan 2026 03:04:35 GMT", "soon"} {
		d, err := netopt.ParseRetryAfter(v, now)
		fmt.Println(d, err != nil)
	}
	// Output:
	// 2m0s false
	// 30s false
	// 0s true
}

// MustNewClient for a configuration written in the code: a mistake in it is
// a programming error, found at start.
func ExampleMustNewClient() {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "hello") }))
	defer upstream.Close()
	client := netopt.MustNewClient(netopt.Config{})
	defer client.CloseIdleConnections()
	resp, err := client.Get(upstream.URL)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body))
	// Output: 200 hello
}
