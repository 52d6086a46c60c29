package netopt

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/perfengine/perfengine/metrics"
)

// lateServer answers after a delay taken from a seeded schedule by order of
// arrival: schedule[i] is the delay of the i-th request (hedges included),
// zero for an immediate answer. A late answer is abandoned when the client
// cancels.
type lateServer struct {
	*httptest.Server
	schedule []time.Duration
	n        atomic.Int64
	late     atomic.Int64 // late answers started
}

func newLateServer(t testing.TB, schedule []time.Duration) *lateServer {
	s := &lateServer{schedule: schedule}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := s.n.Add(1) - 1
		if d := s.schedule[int(i)%len(s.schedule)]; d > 0 {
			s.late.Add(1)
			tm := time.NewTimer(d)
			defer tm.Stop()
			select {
			case <-tm.C:
			case <-r.Context().Done():
				return
			}
		}
		io.WriteString(w, "ok")
	}))
	t.Cleanup(s.Close)
	return s
}

// spacedSchedule marks a fraction of n slots late, never two in a row: the
// hedge of a late request arrives next, so whether it is answered at once
// depends on the hedging delay alone, not on the luck of the draw.
func spacedSchedule(seed uint64, n int, fraction float64, late time.Duration) []time.Duration {
	rng := rand.New(rand.NewPCG(seed, 17))
	s := make([]time.Duration, n)
	for i := range s {
		if (i == 0 || s[i-1] == 0) && rng.Float64() < fraction {
			s[i] = late
		}
	}
	return s
}

// randomSchedule marks each slot late with probability fraction.
func randomSchedule(seed uint64, n int, fraction float64, late time.Duration) []time.Duration {
	rng := rand.New(rand.NewPCG(seed, 17))
	s := make([]time.Duration, n)
	for i := range s {
		if rng.Float64() < fraction {
			s[i] = late
		}
	}
	return s
}

// sequentialGETs sends n GETs one after another and returns their
// latencies, sorted.
func sequentialGETs(tb testing.TB, c *http.Client, url string, n int) []time.Duration {
	tb.Helper()
	lat := make([]time.Duration, 0, n)
	for range n {
		start := time.Now()
		resp, err := c.Get(url)
		if err != nil {
			tb.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	return lat
}

func quantileOf(sorted []time.Duration, q float64) time.Duration {
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}

// TestHedgeHelpsEverySeed is the probe of issue 17: a loopback server with
// 5 % (and 8 %) of its answers late, where the observed p95 alone often
// lands inside the slow tail and hedges too late to matter. For every seed,
// once the hedge is armed, the p99 of 300 sequential GETs through the
// default stack must be under half the late delay (without hedging it is
// the late delay: at least three of the 300 are late), for at most 15 %
// extra requests.
func TestHedgeHelpsEverySeed(t *testing.T) {
	const (
		late     = 80 * time.Millisecond
		measured = 300
	)
	for _, fraction := range []float64{0.05, 0.08} {
		for seed := range uint64(5) {
			t.Run(fmt.Sprintf("late=%g/seed=%d", fraction, seed), func(t *testing.T) {
				srv := newLateServer(t, spacedSchedule(seed, 4096, fraction, late))
				tr := newTransport(t, Config{})
				c := tr.Client()
				// Warm up until the hedge is armed: MinSamples attempts and
				// one refresh.
				for i := 0; tr.Metrics(t.Context()).Hosts == nil || tr.Metrics(t.Context()).Hosts[0].HedgeDelay == 0; i++ {
					if i == 1000 {
						t.Fatal("hedge not armed after 1000 requests")
					}
					sequentialGETs(t, c, srv.URL, 1)
				}
				before := tr.Metrics(t.Context()).Hosts[0]
				lateBefore := srv.late.Load()
				lat := sequentialGETs(t, c, srv.URL, measured)
				m := tr.Metrics(t.Context()).Hosts[0]
				lateSeen := srv.late.Load() - lateBefore
				extra := float64((m.Attempts-before.Attempts)-(m.Requests-before.Requests)) / measured
				p99 := quantileOf(lat, 0.99)
				t.Logf("hedge delay %v, p50 %v, p99 %v, late answers started %d, extra requests %.1f%%",
					m.HedgeDelay, quantileOf(lat, 0.5), p99, lateSeen, 100*extra)
				if lateSeen < 3 {
					t.Fatalf("only %d late answers among %d requests: the schedule does not test the tail", lateSeen, measured)
				}
				if p99 >= late/2 {
					t.Errorf("p99 %v with %d late answers (hedge delay %v): the hedge did not help", p99, lateSeen, m.HedgeDelay)
				}
				// A loaded machine makes fast answers slower than the hedge
				// delay too, and hedging those is right: the bar is on
				// hedges the observed latencies do not explain.
				slower := 0
				for _, d := range lat {
					if d > m.HedgeDelay {
						slower++
					}
				}
				// The delay is refreshed during the run, so the count
				// against its last value is off by a few answers either way.
				if extra > 0.15 && float64(slower)/measured+0.03 < extra {
					t.Errorf("%.1f%% extra requests, with %d of %d answers slower than the hedge delay: want at most 15%%", 100*extra, slower, measured)
				}
			})
		}
	}
}

func TestHedgeDelayFrom(t *testing.T) {
	fill := func(parts ...any) *metrics.Histogram {
		h := metrics.NewHistogramDigits(hostDigits)
		for i := 0; i < len(parts); i += 2 {
			for range parts[i].(int) {
				h.Record(parts[i+1].(time.Duration))
			}
		}
		return h
	}
	cfg := Config{}.withDefaults().Hedge
	quantileOnly := cfg
	quantileOnly.MedianMultiple = -1
	ms := time.Millisecond
	wide := metrics.NewHistogramDigits(hostDigits)
	for i := 1; i <= 100; i++ { // 1..100 ms, evenly
		wide.Record(time.Duration(i) * ms)
	}
	for _, tc := range []struct {
		name     string
		cfg      HedgeConfig
		w        *metrics.Histogram
		min, max time.Duration
	}{
		// 6 % at 200 ms: p95 is in the tail; 4 × the 1 ms median is not.
		{"tail as large as 1-q", cfg, fill(94, ms, 6, 200*ms), 3 * ms, 5 * ms},
		{"tail as large as 1-q, quantile alone", quantileOnly, fill(94, ms, 6, 200*ms), 190 * ms, 210 * ms},
		// A tail below 5 %: p95 is among the fast answers and is lower.
		{"small tail", cfg, fill(90, ms, 7, 2*ms, 3, 200*ms), 1900 * time.Microsecond, 2100 * time.Microsecond},
		// Evenly spread: 4 × the median is past p95, so p95 it is.
		{"wide", cfg, wide, 94 * ms, 97 * ms},
		// A median of 1 ms with a shoulder at 3 ms: the floor (p85) keeps
		// the hedged share at 15 %.
		{"shoulder", cfg, fill(60, ms, 40, 3*ms), 2900 * time.Microsecond, 3100 * time.Microsecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.cfg.delayFrom(tc.w); got < tc.min || got > tc.max {
				t.Errorf("delayFrom = %v, want in [%v, %v]", got, tc.min, tc.max)
			}
		})
	}
}

// BenchmarkHedgeProbe is the 200 ms probe of issue 17 side by side: 1000
// sequential GETs against a loopback server with 5 % of answers 200 ms late
// (drawn independently, so a hedge can be late too), plain net/http against
// NewClient(Config{}), per seed. It reports both p99s and their ratio, and
// the extra requests the hedges cost. About 11 s per seed:
//
//	go test -run '^$' -bench HedgeProbe -benchtime 1x ./netopt
func BenchmarkHedgeProbe(b *testing.B) {
	const late = 200 * time.Millisecond
	for seed := range uint64(4) {
		b.Run(fmt.Sprintf("seed=%d", seed), func(b *testing.B) {
			for b.Loop() {
				sched := randomSchedule(seed, 1000, 0.05, late)
				plainSrv := newLateServer(b, sched)
				pool := NewPooledTransport(PoolConfig{})
				plain := sequentialGETs(b, &http.Client{Transport: pool}, plainSrv.URL, 1000)
				pool.CloseIdleConnections()

				srv := newLateServer(b, sched)
				tr, _ := New(Config{})
				hedged := sequentialGETs(b, tr.Client(), srv.URL, 1000)
				m := tr.Metrics(b.Context()).Hosts[0]
				tr.CloseIdleConnections()
				pp, hp := quantileOf(plain, 0.99), quantileOf(hedged, 0.99)
				b.ReportMetric(float64(pp)/1e6, "plain-p99-ms")
				b.ReportMetric(float64(hp)/1e6, "hedged-p99-ms")
				b.ReportMetric(float64(pp)/float64(hp), "p99-ratio")
				b.ReportMetric(100*float64(m.Attempts-m.Requests)/float64(m.Requests), "extra-%")
			}
		})
	}
}
