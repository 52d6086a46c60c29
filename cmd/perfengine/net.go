package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/perfengine/perfengine/netopt"
)

func newNetCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "net",
		Short: "Outbound HTTP through the network optimizer",
	}
	cmd.AddCommand(newNetProbeCmd())
	return cmd
}

// netProbeResult is what `net probe` prints with --json.
type netProbeResult struct {
	Requests        int                     `json:"requests"`
	OK              int                     `json:"ok"`
	Failed          int                     `json:"failed"`
	Errors          []string                `json:"errors,omitempty"` // distinct, at most 5
	Hosts           []netopt.HostMetrics    `json:"hosts"`
	Recommendations []netopt.Recommendation `json:"recommendations,omitempty"`
}

func newNetProbeCmd() *cobra.Command {
	var (
		count, conc int
		timeout     time.Duration
		noHedge     bool
	)
	cmd := &cobra.Command{
		Use:   "probe URL...",
		Short: "Send GETs through the optimized client and report per-host timings",
		Long: `probe sends --count GETs to each URL from --concurrency workers through the
netopt stack (pooled connections, retries under a budget, hedging at the
observed p95, circuit breakers, compression) and reports, per host, latency
percentiles, connection phases (DNS, connect, TLS, time to first byte),
connection reuse, retries, hedges and the breaker's state, with the
optimizer's recommendations. A status of 400 or more counts as failed.`,
		Example: `  perfengine net probe https://example.com/ --count 50
  perfengine net probe http://127.0.0.1:8080/api/products --count 200 --concurrency 8 --json`,
		Args: cobra.MinimumNArgs(1),
	}
	cmd.Flags().IntVar(&count, "count", 20, "GETs per URL")
	cmd.Flags().IntVar(&conc, "concurrency", 4, "concurrent requests")
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Second, "deadline of each request, retries included")
	cmd.Flags().BoolVar(&noHedge, "no-hedge", false, "never send a second copy of a slow request")
	asJSON := addJSONFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if count < 1 || count > 1_000_000 || conc < 1 || conc > 1000 || timeout <= 0 {
			return errors.New("net probe: --count must be in 1..1000000, --concurrency in 1..1000 and --timeout positive")
		}
		for _, a := range args {
			u, err := url.Parse(a)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return fmt.Errorf("net probe: %q is not an absolute http(s) URL", a)
			}
		}
		tr, err := netopt.New(netopt.Config{Hedge: netopt.HedgeConfig{Disabled: noHedge}})
		if err != nil {
			return err
		}
		defer tr.CloseIdleConnections()
		res := probe(cmd.Context(), tr, args, count, conc, timeout, func(done, total int) {
			if done%max(total/10, 1) == 0 || done == total {
				progressf(cmd, "perfengine: %d/%d requests", done, total)
			}
		})
		if err := cmd.Context().Err(); err != nil {
			return err
		}
		if *asJSON {
			if err := writeJSON(cmd.OutOrStdout(), res); err != nil {
				return err
			}
		} else if err := printProbe(cmd.OutOrStdout(), res); err != nil {
			return err
		}
		if res.OK == 0 {
			return fmt.Errorf("net probe: all %d requests failed", res.Requests)
		}
		return nil
	}
	return cmd
}

func probe(ctx context.Context, tr *netopt.Transport, urls []string, count, conc int, timeout time.Duration, progress func(done, total int)) netProbeResult {
	total := count * len(urls)
	var next, ok, done atomic.Int64
	var mu sync.Mutex
	seen := map[string]bool{}
	res := netProbeResult{Requests: total}
	client := tr.Client()
	var wg sync.WaitGroup
	for range min(conc, total) {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(total) || ctx.Err() != nil {
					return
				}
				err := probeGet(ctx, client, urls[int(i)%len(urls)], timeout)
				if err == nil {
					ok.Add(1)
				} else {
					mu.Lock()
					if msg := err.Error(); !seen[msg] && len(seen) < 5 {
						seen[msg] = true
						res.Errors = append(res.Errors, msg)
					}
					mu.Unlock()
				}
				mu.Lock()
				progress(int(done.Add(1)), total)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	res.OK = int(ok.Load())
	res.Failed = int(done.Load()) - res.OK
	res.Hosts = tr.Metrics(ctx).Hosts
	res.Recommendations = tr.Recommendations(ctx)
	return res
}

func probeGet(ctx context.Context, c *http.Client, u string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode >= 400 {
		return fmt.Errorf("%s: %s", u, resp.Status)
	}
	return nil
}

func printProbe(w io.Writer, r netProbeResult) error {
	fmt.Fprintf(w, "%d requests, %d ok, %d failed\n", r.Requests, r.OK, r.Failed)
	for _, e := range r.Errors {
		fmt.Fprintf(w, "  error: %s\n", e)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tP50\tP95\tP99\tTTFB\tDNS\tCONNECT\tTLS\tREUSE\tATTEMPTS\tRETRIES\tHEDGES\tBREAKER")
	d := func(v time.Duration) string { return v.Round(10 * time.Microsecond).String() }
	for _, h := range r.Hosts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.0f%%\t%d\t%d\t%d\t%s\n", h.Host, d(h.P50), d(h.P95), d(h.P99), d(h.TTFB), d(h.DNS), d(h.Connect), d(h.TLS), 100*h.ReuseRatio, h.Attempts, h.Retries, h.Hedges, h.Breaker)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, rec := range r.Recommendations {
		fmt.Fprintf(w, "%s: %s\n", rec.Kind, rec.Reason)
	}
	return nil
}
