// Command webbench measures what the browser optimizer does for a real page:
// the demo shop's home page loaded cold in headless Chromium with
// Lighthouse's throttling, before and after the HTML rewriter, and with and
// without 103 Early Hints over HTTP/2, in one run.
//
//	go run ./bench/web -runs 5 [-think 200ms]
//
// -think makes the home page take that long on the server before it is
// written, as a page that runs its queries first does: the time 103 Early
// Hints exist to use. Without it the demo's page is written at once, and
// the hints arrive a few milliseconds before the page itself.
//
// Four demo shops run side by side in this process, without load:
//
//	plain    the rewriter off (the page as the shop writes it), HTTP/1.1
//	rewrite  the rewriter on, HTTP/1.1
//	h2       the rewriter on, HTTPS and HTTP/2, no Early Hints
//	h2+103   the rewriter on, HTTPS and HTTP/2, Early Hints
//
// Each round loads every variant once, in turn, so that a machine getting
// busier or quieter shifts all of them alike; the figures are medians over
// the rounds. Needs Debian's chromium (or $CHROMIUM).
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/perfengine/perfengine"
	"github.com/perfengine/perfengine/internal/demo"
	"github.com/perfengine/perfengine/webopt/audit"
)

type variant struct {
	name    string
	rewrite bool
	tls     bool
	hints   bool

	url  string
	runs []audit.RunResult
}

func main() {
	runs := flag.Int("runs", 5, "cold loads per variant")
	throttle := flag.String("throttle", audit.ThrottleLighthouse, "lighthouse or none")
	asJSON := flag.Bool("json", false, "print every run as JSON")
	think := flag.Duration("think", 0, "server time before the home page is written (a page running its queries), which Early Hints use")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *runs, *throttle, *think, *asJSON); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, runs int, throttle string, think time.Duration, asJSON bool) error {
	variants := []*variant{
		{name: "plain"},
		{name: "rewrite", rewrite: true},
		{name: "h2", rewrite: true, tls: true},
		{name: "h2+103", rewrite: true, tls: true, hints: true},
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, len(variants))
	for _, v := range variants {
		dir, err := os.MkdirTemp("", "webbench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		ready := make(chan string, 1)
		go func() {
			_, err := demo.Run(ctx, demo.RunOptions{
				Addr: "127.0.0.1:0", DashboardAddr: "127.0.0.1:0", DataDir: dir, NoLoad: true,
				Config: v.config(), TLS: v.tls, PageDelay: think,
				Ready: func(demoURL, _ string) { ready <- demoURL },
			})
			done <- err
		}()
		select {
		case v.url = <-ready:
		case err := <-done:
			return fmt.Errorf("%s: %w", v.name, err)
		}
		// One visit first: the rewriter learns the page's resources (what
		// Early Hints announce next time), and the shop's first query is
		// not what a cold browser measures.
		if err := warm(ctx, v.url+"/"); err != nil {
			return fmt.Errorf("%s: %w", v.name, err)
		}
	}

	for round := range runs {
		for _, v := range variants {
			rep, err := audit.Run(ctx, v.url+"/", audit.Options{Runs: 1, Throttle: throttle, IgnoreCertErrors: v.tls})
			if err != nil {
				return fmt.Errorf("%s, round %d: %w", v.name, round+1, err)
			}
			v.runs = append(v.runs, rep.Runs...)
		}
		fmt.Fprintf(os.Stderr, "round %d/%d done\n", round+1, runs)
	}
	cancel()
	for range variants {
		<-done
	}
	if asJSON {
		out := map[string][]audit.RunResult{}
		for _, v := range variants {
			out[v.name] = v.runs
		}
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	report(variants, runs, throttle, think)
	return nil
}

// config is the demo's embedded configuration with the variant's switches.
func (v *variant) config() perfengine.Config {
	cfg := perfengine.DefaultConfig()
	cfg.MonitoringInterval = perfengine.Duration(demo.DefaultInterval)
	cfg.Browser.RewriteDisabled = !v.rewrite
	cfg.Browser.EarlyHints = v.hints
	return cfg
}

func warm(ctx context.Context, url string) error {
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: insecureTLS(), ForceAttemptHTTP2: true}}
	defer c.CloseIdleConnections()
	for range 2 {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s", url, resp.Status)
		}
	}
	return nil
}

// medians of one variant's runs, as an audit of them all would report.
func (v *variant) medians() audit.Report {
	rep := audit.Report{Runs: v.runs}
	rep.Summarize()
	return rep
}

// val reads a median that a run may lack; 0 when none had it.
func val(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}

func report(vs []*variant, runs int, throttle string, think time.Duration) {
	fmt.Printf("demo shop /, %d cold loads per variant, throttle %s, server think time %s, medians\n\n", runs, throttle, think)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "variant\tLCP ms\tCLS\tFCP ms\tTTFB ms\tTBT ms\thero end ms\tKB before input\tno LCP\t")
	type figures struct{ lcp, cls, hero, bytes float64 }
	ms := map[string]figures{}
	for _, v := range vs {
		rep := v.medians()
		m := rep.Median
		ms[v.name] = figures{lcp: val(m.LCP), cls: m.CLS, hero: val(m.HeroResponseEnd), bytes: float64(m.Bytes)}
		fmt.Fprintf(tw, "%s\t%.0f\t%.3f\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%d\t\n", v.name, val(m.LCP), m.CLS, val(m.FCP), val(m.TTFB), m.TBT, val(m.HeroResponseEnd), float64(m.Bytes)/1024, rep.LCPMissing)
	}
	tw.Flush()
	p, r, h2, eh := ms["plain"], ms["rewrite"], ms["h2"], ms["h2+103"]
	fmt.Println()
	fmt.Println(strings.Join([]string{
		fmt.Sprintf("LCP rewrite/plain      %.3f (%+.1f %%)", r.lcp/p.lcp, pct(r.lcp, p.lcp)),
		fmt.Sprintf("bytes rewrite/plain    %.3f (%+.1f %%)", r.bytes/p.bytes, pct(r.bytes, p.bytes)),
		fmt.Sprintf("CLS plain %.3f, rewrite %.3f", p.cls, r.cls),
		fmt.Sprintf("hero end h2+103/h2     %.3f (%+.1f %%)", eh.hero/h2.hero, pct(eh.hero, h2.hero)),
		fmt.Sprintf("LCP h2+103/h2          %.3f (%+.1f %%)", eh.lcp/h2.lcp, pct(eh.lcp, h2.lcp)),
	}, "\n"))
}

func pct(after, before float64) float64 { return 100 * (after - before) / before }

// insecureTLS accepts the demo's self-signed certificate.
func insecureTLS() *tls.Config { return &tls.Config{InsecureSkipVerify: true} }
