package main

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/perfengine/perfengine/loadtest"
)

// ExitThresholds is the exit status when a run finished but a --threshold
// failed, as k6 does, so CI can tell a slow service from a broken test.
const ExitThresholds = 99

// thresholdError carries ExitThresholds to main.
type thresholdError struct{ failed []string }

func (e *thresholdError) Error() string {
	return "thresholds failed: " + strings.Join(e.failed, ", ")
}

// ExitCode is the process exit status for this error.
func (e *thresholdError) ExitCode() int { return ExitThresholds }

// targetFlags are the flags load and stress share to describe requests.
type targetFlags struct {
	url, method, body, bodyFile, targets, protocol, engine string
	headers                                                []string
	weighted, insecure, quiet                              bool
	timeout                                                time.Duration
	concurrency                                            int
	jsonOut                                                *bool
	report                                                 string
}

func (f *targetFlags) register(cmd *cobra.Command) {
	f.jsonOut = addJSONFlag(cmd)
	fl := cmd.Flags()
	fl.StringVar(&f.url, "url", "", "target URL (http:// or https://)")
	fl.StringVarP(&f.method, "method", "X", "GET", "HTTP method for --url")
	fl.StringArrayVarP(&f.headers, "header", "H", nil, `request header for --url, "Name: value" (repeatable)`)
	fl.StringVar(&f.body, "body", "", "request body for --url")
	fl.StringVar(&f.bodyFile, "body-file", "", "read the request body for --url from a file")
	fl.StringVar(&f.targets, "targets", "", "file of targets, one JSON object a line: {\"method\",\"url\",\"header\",\"body\",\"weight\"}")
	fl.BoolVar(&f.weighted, "weighted", false, "pick targets by their weight instead of round-robin")
	fl.StringVar(&f.protocol, "protocol", "", "client: http1 (lean, default for http://), nethttp, h2c, h2 (default for https:// is net/http with HTTP/2)")
	fl.StringVar(&f.engine, "engine", "", "how connections are driven: eventloop (epoll, default for a closed-model http:// run on Linux) or goroutines")
	fl.BoolVar(&f.insecure, "insecure", false, "accept any TLS certificate")
	fl.DurationVar(&f.timeout, "timeout", loadtest.DefaultTimeout, "per-request timeout")
	fl.StringVar(&f.report, "report", "", "write a self-contained HTML report to this file")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "no progress bar")
}

func (f *targetFlags) plan() (loadtest.Plan, error) {
	p := loadtest.Plan{Timeout: f.timeout, Protocol: loadtest.Protocol(f.protocol), Engine: loadtest.Engine(f.engine), InsecureSkipVerify: f.insecure, Concurrency: f.concurrency}
	if f.weighted {
		p.Selection = loadtest.Weighted
	}
	switch {
	case f.url != "" && f.targets != "":
		return p, errors.New("give --url or --targets, not both")
	case f.targets != "":
		file, err := os.Open(f.targets)
		if err != nil {
			return p, err
		}
		defer file.Close()
		ts, err := loadtest.ReadTargets(file)
		if err != nil {
			return p, fmt.Errorf("%s: %w", f.targets, errors.New(oneLine(err)))
		}
		p.Targets = ts
	case f.url != "":
		t := loadtest.Target{Method: strings.ToUpper(f.method), URL: f.url}
		for _, h := range f.headers {
			k, v, ok := strings.Cut(h, ":")
			if !ok {
				return p, fmt.Errorf("header %q: want \"Name: value\"", h)
			}
			if t.Header == nil {
				t.Header = http.Header{}
			}
			t.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
		}
		switch {
		case f.body != "" && f.bodyFile != "":
			return p, errors.New("give --body or --body-file, not both")
		case f.bodyFile != "":
			b, err := os.ReadFile(f.bodyFile)
			if err != nil {
				return p, err
			}
			t.Body = b
		case f.body != "":
			t.Body = []byte(f.body)
		}
		p.Targets = []loadtest.Target{t}
	default:
		return p, errors.New("--url or --targets is required")
	}
	return p, nil
}

func writeReport(path string, rp loadtest.Report) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := rp.WriteHTML(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// progressBar reports progress on stderr: an mpb bar with the live rate,
// errors and p99 on a terminal, a plain line every few seconds otherwise
// (CI logs). It returns the callback for Plan.Progress and a func to finish.
func progressBar(stderr io.Writer, total time.Duration, quiet bool) (func(loadtest.Progress), func(aborted bool)) {
	if quiet {
		return nil, func(bool) {}
	}
	line := func(pr loadtest.Progress) string {
		step := ""
		if pr.Steps > 0 {
			step = fmt.Sprintf("step %d/%d ", pr.Step, pr.Steps)
		}
		return fmt.Sprintf("%s%5.0fs %8.0f req/s  errors %d  p99 %.1fms", step, pr.Elapsed.Seconds(), pr.Rate, pr.Errors, pr.P99)
	}
	if !isTerminal(stderr) {
		var (
			last     time.Duration
			lastStep = -1
		)
		return func(pr loadtest.Progress) {
			if pr.Step != lastStep || pr.Elapsed-last >= logEvery {
				last, lastStep = pr.Elapsed, pr.Step
				fmt.Fprintln(stderr, "progress: "+line(pr))
			}
		}, func(bool) {}
	}
	var status atomic.Value
	status.Store("starting")
	p := mpb.New(mpb.WithOutput(stderr), mpb.WithWidth(40), mpb.WithRefreshRate(200*time.Millisecond))
	bar := p.AddBar(int64(total/time.Millisecond),
		mpb.PrependDecorators(decor.Any(func(decor.Statistics) string { return status.Load().(string) }, decor.WCSyncSpaceR)),
		mpb.AppendDecorators(decor.Percentage()),
	)
	cb := func(pr loadtest.Progress) {
		status.Store(line(pr))
		if pr.Steps > 0 {
			bar.SetCurrent(int64(pr.Step-1)*int64(pr.Total/time.Millisecond) + int64(pr.Elapsed/time.Millisecond))
		} else {
			bar.SetCurrent(int64(pr.Elapsed / time.Millisecond))
		}
	}
	done := func(aborted bool) {
		if aborted {
			bar.Abort(false)
		} else {
			bar.SetTotal(-1, true)
		}
		p.Wait()
	}
	return cb, done
}

// logEvery spaces the progress lines written when stderr is not a terminal.
const logEvery = 5 * time.Second

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func newLoadCmd() *cobra.Command {
	var (
		tf          targetFlags
		rate        float64
		duration    time.Duration
		maxRequests int64
		maxLag      time.Duration
		stages      string
		thresholds  []string
		baseline    string
	)
	cmd := &cobra.Command{
		Use:   "load --url URL (--rate R | --concurrency C) --duration D",
		Short: "Run a load test: open model (--rate) or closed model (--concurrency)",
		Long: `Run a bounded load test and report throughput, errors and latency.

With --rate (or --stages) requests start on a fixed schedule and latency is
measured from the scheduled start, so queueing in a slow service is not
hidden (corrected and uncorrected percentiles are both reported). With only
--concurrency, C workers each send the next request when the previous one is
answered. Ctrl-C stops the test and prints the partial report.

A failed --threshold exits with status 99.`,
		Example: `  perfengine load --url http://127.0.0.1:8080/api/products --rate 500 --duration 30s
  perfengine load --targets targets.jsonl --concurrency 64 --duration 1m --json
  perfengine load --url http://127.0.0.1:8080/ --rate 200 --duration 1m --threshold 'p99<200ms' --threshold 'errors<1%' --report load.html`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := tf.plan()
			if err != nil {
				return err
			}
			p.Rate, p.Duration, p.MaxRequests, p.MaxLag = rate, duration, maxRequests, maxLag
			if stages != "" {
				if p.Stages, err = parseStages(stages); err != nil {
					return err
				}
			}
			if p.Rate == 0 && len(p.Stages) == 0 && tf.concurrency == 0 {
				return errors.New("give --rate R (open model) or --concurrency C (closed model)")
			}
			var ths []loadtest.Threshold
			for _, s := range thresholds {
				th, err := loadtest.ParseThreshold(s)
				if err != nil {
					return err
				}
				ths = append(ths, th)
			}
			if err := p.Validate(); err != nil {
				return errors.New(oneLine(err))
			}
			total := p.Duration
			if len(p.Stages) > 0 {
				total = 0
				for _, s := range p.Stages {
					total += s.Duration
				}
			}
			if total == 0 {
				total = loadtest.DefaultDuration
			}
			stderr := cmd.ErrOrStderr()
			var finish func(bool)
			p.Progress, finish = progressBar(stderr, total, tf.quiet)
			res, err := loadtest.Run(cmd.Context(), p)
			if err != nil {
				finish(true)
				return err
			}
			finish(res.Aborted)
			out := cmd.OutOrStdout()
			if *tf.jsonOut {
				err = res.WriteJSON(out)
			} else {
				err = res.WriteText(out)
			}
			if err != nil {
				return err
			}
			if tf.report != "" {
				if err := writeReport(tf.report, loadtest.Report{Generated: time.Now(), Load: res}); err != nil {
					return fmt.Errorf("write report: %w", err)
				}
				fmt.Fprintf(stderr, "report written to %s\n", tf.report)
			}
			if baseline != "" {
				if err := saveBaseline(baseline, res); err != nil {
					return err
				}
				fmt.Fprintf(stderr, "baseline (per-second p99 ms) written to %s\n", baseline)
			}
			if res.Aborted {
				return errors.New("interrupted: the report above is partial")
			}
			if res.OK == 0 {
				return fmt.Errorf("no request succeeded (%s)", failureSummary(res))
			}
			if len(ths) > 0 {
				results, ok := loadtest.CheckAll(res, ths)
				var failed []string
				for _, r := range results {
					mark := "ok  "
					if !r.Pass {
						mark = "FAIL"
						failed = append(failed, fmt.Sprintf("%s (actual %.4g)", r.Expr, r.Actual))
					}
					fmt.Fprintf(stderr, "threshold %s %s (actual %.4g)\n", mark, r.Expr, r.Actual)
				}
				if !ok {
					return &thresholdError{failed: failed}
				}
			}
			return nil
		},
	}
	tf.register(cmd)
	fl := cmd.Flags()
	fl.Float64Var(&rate, "rate", 0, "open model: requests started per second")
	fl.IntVarP(&tf.concurrency, "concurrency", "c", 0, "workers (connections); with --rate, the most requests in flight (default 100)")
	fl.DurationVarP(&duration, "duration", "d", loadtest.DefaultDuration, "how long to send (at most 24h)")
	fl.Int64Var(&maxRequests, "max-requests", 0, "stop after this many requests (0: only the duration bounds the run)")
	fl.DurationVar(&maxLag, "max-lag", 0, "open model: drop starts more than this behind schedule instead of sending them late (0: never drop)")
	fl.StringVar(&stages, "stages", "", "open model ramp, DURATION:RATE,... (the rate moves linearly from --rate to each target)")
	fl.StringArrayVar(&thresholds, "threshold", nil, "pass/fail criterion, e.g. 'p99<200ms', 'errors<1%', 'rps>=1000' (repeatable; failure exits 99)")
	fl.StringVar(&baseline, "save-baseline", "", "write the per-second p99 latencies (JSON array, ms) for 'regress compare'")
	return cmd
}

func saveBaseline(path string, res *loadtest.Result) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := res.WriteBaseline(f); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}

func parseStages(s string) ([]loadtest.Stage, error) {
	var out []loadtest.Stage
	for _, part := range strings.Split(s, ",") {
		d, r, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok {
			return nil, fmt.Errorf("stage %q: want DURATION:RATE, e.g. 30s:500", part)
		}
		dur, err := time.ParseDuration(d)
		if err != nil {
			return nil, fmt.Errorf("stage %q: %w", part, err)
		}
		var rate float64
		if _, err := fmt.Sscanf(r, "%g", &rate); err != nil {
			return nil, fmt.Errorf("stage %q: rate %q is not a number", part, r)
		}
		out = append(out, loadtest.Stage{Duration: dur, Target: rate})
	}
	return out, nil
}

func newStressCmd() *cobra.Command {
	var (
		tf                targetFlags
		start, maxLoad    float64
		step              float64
		stepDuration      time.Duration
		sloP99            time.Duration
		maxErrors         string
		closed, keepGoing bool
	)
	cmd := &cobra.Command{
		Use:   "stress --url URL --start S --max M --step N --step-duration D",
		Short: "Step the load up until the service breaks; report the knee",
		Long: `Run load steps from --start to --max by --step, each for --step-duration.
The load is an arrival rate in requests/s (open model), or with --closed a
number of concurrent workers. Each step reports throughput, errors and
latency; the knee is the last step that meets the SLO (--slo-p99 and
--max-errors), the breaking point the first where the service fails to keep
up. The test stops at the breaking point unless --continue.`,
		Example: `  perfengine stress --url http://127.0.0.1:8080/api/products --start 100 --max 2000 --step 100 --step-duration 10s --slo-p99 200ms --max-errors 1%`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := tf.plan()
			if err != nil {
				return err
			}
			me, err := parseRatio(maxErrors)
			if err != nil {
				return fmt.Errorf("--max-errors: %w", err)
			}
			sp := loadtest.StressPlan{Base: p, Start: start, Max: maxLoad, Step: step, StepDuration: stepDuration,
				Closed: closed, SLOP99: sloP99, MaxErrors: me, ContinueAfterBreak: keepGoing}
			if err := sp.Validate(); err != nil {
				return errors.New(oneLine(err))
			}
			stderr := cmd.ErrOrStderr()
			steps := int((maxLoad-start)/step) + 1
			var finish func(bool)
			sp.Base.Progress, finish = progressBar(stderr, time.Duration(steps)*stepDuration, tf.quiet)
			sr, err := loadtest.Stress(cmd.Context(), sp)
			if err != nil {
				finish(true)
				return err
			}
			finish(sr.Aborted)
			out := cmd.OutOrStdout()
			if *tf.jsonOut {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				err = enc.Encode(sr)
			} else {
				err = sr.WriteText(out)
			}
			if err != nil {
				return err
			}
			if tf.report != "" {
				if err := writeReport(tf.report, loadtest.Report{Title: "perfengine stress test", Generated: time.Now(), Stress: sr}); err != nil {
					return fmt.Errorf("write report: %w", err)
				}
				fmt.Fprintf(stderr, "report written to %s\n", tf.report)
			}
			if sr.Aborted {
				return errors.New("interrupted: the report above is partial")
			}
			return nil
		},
	}
	tf.register(cmd)
	fl := cmd.Flags()
	fl.Float64Var(&start, "start", 0, "first step's load: requests/s, or workers with --closed")
	fl.Float64Var(&maxLoad, "max", 0, "last step's load")
	fl.Float64Var(&step, "step", 0, "load added each step")
	fl.DurationVar(&stepDuration, "step-duration", 10*time.Second, "how long each step runs")
	fl.DurationVar(&sloP99, "slo-p99", loadtest.DefaultSLOP99, "SLO: corrected p99 latency a step may not exceed")
	fl.StringVar(&maxErrors, "max-errors", "1%", "SLO: error ratio a step may not exceed, as 1% or 0.01")
	fl.BoolVar(&closed, "closed", false, "step concurrency (closed model) instead of arrival rate")
	fl.IntVarP(&tf.concurrency, "concurrency", "c", 0, "open model: the most requests in flight (default 100)")
	fl.BoolVar(&keepGoing, "continue", false, "keep stepping after the breaking point")
	return cmd
}

func parseRatio(s string) (float64, error) {
	var v float64
	p, pct := strings.CutSuffix(strings.TrimSpace(s), "%")
	if _, err := fmt.Sscanf(p, "%g", &v); err != nil {
		return 0, fmt.Errorf("%q is not a ratio (1%% or 0.01)", s)
	}
	if pct {
		v /= 100
	}
	if v < 0 || v > 1 {
		return 0, fmt.Errorf("%q must be between 0%% and 100%%", s)
	}
	return v, nil
}

// failureSummary lists error kinds and failing status codes, most frequent
// first, for the one-line reason of a run where nothing succeeded.
func failureSummary(res *loadtest.Result) string {
	type count struct {
		what string
		n    int64
	}
	var cs []count
	for k, n := range res.Errors {
		cs = append(cs, count{k, n})
	}
	for code, n := range res.StatusCodes {
		if code >= 400 {
			cs = append(cs, count{fmt.Sprintf("status %d", code), n})
		}
	}
	if len(cs) == 0 {
		return "no request completed"
	}
	slices.SortFunc(cs, func(a, b count) int {
		if a.n != b.n {
			return cmp.Compare(b.n, a.n)
		}
		return strings.Compare(a.what, b.what)
	})
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = fmt.Sprintf("%s: %d", c.what, c.n)
	}
	return strings.Join(parts, ", ")
}
