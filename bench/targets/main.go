// Command targetsbench measures the daemon watching a fleet: N services on
// loopback, each a client_golang registry with 20 routes of request
// histograms and counters under steady traffic, scraped by `perfengine
// serve` at a 5 s interval. It reports the daemon's CPU as a fraction of
// one core (from /proc, user+system, so a loaded machine does not inflate
// it), its heap (from its own /metrics) and the p50/p99 of the scrape
// durations the daemon reports per target.
//
//	go build -o /tmp/perfengine ./cmd/perfengine
//	go run ./bench/targets -perfengine /tmp/perfengine -targets 50 -measure 60s
//
// The fleet runs in a child process of its own, so its CPU is not counted.
// Linux only (it reads /proc/PID/stat).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

func main() {
	fleet := flag.Int("fleet", 0, "internal: serve this many targets and print their URLs")
	bin := flag.String("perfengine", "perfengine", "the perfengine binary to measure")
	n := flag.Int("targets", 50, "services to watch")
	interval := flag.Duration("interval", 5*time.Second, "scrape interval")
	warmup := flag.Duration("warmup", 20*time.Second, "time before measuring")
	measure := flag.Duration("measure", 60*time.Second, "measuring window")
	flag.Parse()
	if *fleet > 0 {
		serveFleet(*fleet)
		return
	}
	if err := run(*bin, *n, *interval, *warmup, *measure); err != nil {
		log.Fatal(err)
	}
}

// serveFleet starts n instrumented services and prints one URL per line.
func serveFleet(n int) {
	for range n {
		reg := prometheus.NewRegistry()
		dur := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "http_request_duration_seconds", Help: "Latency.", Buckets: prometheus.DefBuckets}, []string{"handler", "code"})
		reqs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "http_requests_total", Help: "Requests."}, []string{"handler", "code"})
		reg.MustRegister(dur, reqs)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			log.Fatal(err)
		}
		go http.Serve(ln, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		go func() {
			for range time.Tick(100 * time.Millisecond) {
				for r := range 20 {
					route := "/api/route" + strconv.Itoa(r)
					code := "200"
					if rand.IntN(100) == 0 {
						code = "500"
					}
					dur.WithLabelValues(route, code).Observe(rand.ExpFloat64() * 0.05)
					reqs.WithLabelValues(route, code).Inc()
				}
			}
		}()
		fmt.Printf("http://%s/metrics\n", ln.Addr())
	}
	select {}
}

func run(bin string, n int, interval, warmup, measure time.Duration) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	fleetCmd := exec.Command(self, "-fleet", strconv.Itoa(n))
	out, err := fleetCmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := fleetCmd.Start(); err != nil {
		return err
	}
	defer fleetCmd.Process.Kill()
	buf := make([]byte, 0, 64*n)
	for strings.Count(string(buf), "\n") < n {
		chunk := make([]byte, 4096)
		k, err := out.Read(chunk)
		if err != nil {
			return fmt.Errorf("fleet: %w", err)
		}
		buf = append(buf, chunk[:k]...)
	}
	urls := strings.Fields(string(buf))

	dir, err := os.MkdirTemp("", "targetsbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var cfg strings.Builder
	cfg.WriteString("monitoringInterval: " + interval.String() + "\ntargets:\n")
	for i, u := range urls {
		fmt.Fprintf(&cfg, "  - {name: svc%02d, type: service, url: '%s', interval: %s}\n", i, u, interval)
	}
	cfgPath := filepath.Join(dir, "targets.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg.String()), 0o644); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := ln.Addr().String()
	ln.Close()
	serve := exec.Command(bin, "serve", "--config", cfgPath, "--addr", addr, "--data-dir", filepath.Join(dir, "store"))
	serve.Stderr = io.Discard
	if err := serve.Start(); err != nil {
		return err
	}
	defer func() { _ = serve.Process.Signal(os.Interrupt); _ = serve.Wait() }()
	base := "http://" + addr

	time.Sleep(warmup)
	cpu0, t0 := cpuSeconds(serve.Process.Pid), time.Now()
	var durations []float64
	var heapPeak float64
	for time.Since(t0) < measure {
		time.Sleep(interval)
		ds, err := scrapeDurations(base)
		if err != nil {
			return err
		}
		durations = append(durations, ds...)
		heapPeak = max(heapPeak, heapInuse(base))
	}
	cpu1, t1 := cpuSeconds(serve.Process.Pid), time.Now()
	slices.Sort(durations)
	q := func(p float64) float64 {
		if len(durations) == 0 {
			return 0
		}
		return durations[min(len(durations)-1, int(p*float64(len(durations))))]
	}
	fmt.Printf("targets %d at %s, measured %s after %s warm-up\n", n, interval, t1.Sub(t0).Round(time.Second), warmup)
	fmt.Printf("daemon CPU      %.2f %% of one core (user+system from /proc)\n", 100*(cpu1-cpu0)/t1.Sub(t0).Seconds())
	fmt.Printf("daemon heap     %.1f MB in use at peak (go_memstats_heap_inuse_bytes)\n", heapPeak/1e6)
	fmt.Printf("scrape duration p50 %.2f ms, p99 %.2f ms over %d scrapes\n", q(0.5), q(0.99), len(durations))
	return nil
}

// cpuSeconds is the process's user+system time.
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		log.Fatal(err)
	}
	// Fields after the command name, which is in parentheses and may hold
	// spaces: utime and stime are the 14th and 15th fields overall.
	rest := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseFloat(rest[11], 64)
	st, _ := strconv.ParseFloat(rest[12], 64)
	const clockTicks = 100 // USER_HZ on Linux
	return (ut + st) / clockTicks
}

// scrapeDurations reads every target's last scrape duration, in ms.
func scrapeDurations(base string) ([]float64, error) {
	resp, err := http.Get(base + "/api/v1/targets")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Targets []struct {
			Up       bool  `json:"up"`
			Duration int64 `json:"duration_ns"`
		} `json:"targets"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, err
	}
	var out []float64
	for _, t := range body.Targets {
		if t.Up {
			out = append(out, float64(t.Duration)/1e6)
		}
	}
	return out, nil
}

func heapInuse(base string) float64 {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "go_memstats_heap_inuse_bytes "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}
