package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/perfengine/perfengine"
	"github.com/perfengine/perfengine/regress"
	"github.com/perfengine/perfengine/store"
)

func newRegressCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "regress",
		Short: "Change points in a series, and regression verdicts between releases",
		Long: `Find where a series changed level (detect), judge a candidate against a
baseline (compare), and keep release baselines in the store (baseline create).

Series are CSV (a "value" column and an optional "time" column, or one number
a line) or JSON (an array of numbers or of {"time": t, "value": v}); "-" reads
standard input. Empty cells, NaN and null are missing values.`,
	}
	cmd.AddCommand(newRegressDetectCmd(), newRegressCompareCmd(), newRegressBaselineCmd())
	return cmd
}

// readSeriesFile reads a series from a path, or standard input for "-".
func readSeriesFile(cmd *cobra.Command, path string) (regress.Series, error) {
	r, closeFn, err := openInput(cmd, path)
	if err != nil {
		return regress.Series{}, err
	}
	defer closeFn()
	s, err := regress.ReadSeries(r, regress.ReadOptions{})
	if err != nil {
		return regress.Series{}, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// openInput opens --input (- is standard input) with a buffer, so the
// caller can peek at its start.
func openInput(cmd *cobra.Command, path string) (*bufio.Reader, func(), error) {
	if path == "" {
		return nil, nil, errors.New("--input is required (a CSV or JSON file, or - for standard input)")
	}
	if path == "-" {
		return bufio.NewReaderSize(cmd.InOrStdin(), 64<<10), func() {}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	return bufio.NewReaderSize(f, 64<<10), func() { f.Close() }, nil
}

// historyOutput is `regress detect --json` on a file of several metrics.
type historyOutput struct {
	Metrics []string               `json:"metrics"`
	Changes []regress.MetricChange `json:"changes"`
}

func detectHistory(cmd *cobra.Command, path string, r io.Reader, o regress.DetectOptions, asJSON bool) error {
	h, err := regress.ReadHistory(r, regress.ReadOptions{})
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	out := historyOutput{Metrics: []string{}}
	for _, s := range h {
		out.Metrics = append(out.Metrics, s.Name)
	}
	progressf(cmd, "detecting regressions in %d metrics (%s)", len(h), o.Method)
	out.Changes, err = regress.DetectRegressions(h, regress.HistoryOptions{Detect: &o})
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(cmd.OutOrStdout(), out)
	}
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "%d metrics, %d lasting changes\n", len(out.Metrics), len(out.Changes))
	if len(out.Changes) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "metric\ttype\tchange\tat\tmedian before\tmedian after\tdelta\tratio (95% CI)\tp")
	for _, c := range out.Changes {
		at := strconv.Itoa(c.ChangePoint.Index)
		if c.ChangePoint.Time != "" {
			at = c.ChangePoint.Time
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.4g\t%.4g\t%+.1f%%\t%.3f [%.3f, %.3f]\t%.2g\n", c.Metric, c.Class, c.Change, at,
			c.Before.Median, c.After.Median, c.DeltaPct, c.Ratio.Estimate, c.Ratio.Lo, c.Ratio.Hi, c.P)
	}
	return tw.Flush()
}

// detectOutput is the documented shape of `regress detect --json`.
type detectOutput struct {
	N            int                   `json:"n"`
	ChangePoints []regress.ChangePoint `json:"change_points"`
}

func newRegressDetectCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "detect --input FILE",
		Short: "Find the change points of a series, or the regressions of several metrics",
		Long: `Find where a series changes level or spread, with the tuned default detector
(PELT, Gaussian mean/variance cost, spikes smoothed away, significance merge).
Each change point gives the 0-based index of the first point of the new
segment, the means of the segments on either side and a p-value.

A file of several metrics (CSV with a header naming a column per metric and
optionally time, or a JSON object of metric names to arrays) gives each
metric's last lasting change instead: worse (regression) or better
(improvement) by the metric's direction, its type (performance, stability,
quality, availability), the medians on either side, the ratio with its
confidence interval and a p-value corrected across the metrics.`,
		Example: `  perfengine regress detect --input latency.csv
  perfengine regress detect --input series.json --json
  seq 1 100 | perfengine regress detect --input -
  perfengine regress detect --input history.csv   # time,response_time_ms,error_rate,...`,
		Args: cobra.NoArgs,
	}
	input := cmd.Flags().String("input", "", "series file (CSV or JSON), - for standard input")
	method := cmd.Flags().String("method", string(regress.DefaultDetectOptions().Method), "pelt, binseg or edivisive")
	asJSON := addJSONFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		r, closeFn, err := openInput(cmd, *input)
		if err != nil {
			return err
		}
		defer closeFn()
		o := regress.DefaultDetectOptions()
		o.Method = regress.Method(*method)
		if head, _ := r.Peek(4 << 10); regress.IsHistory(head) {
			return detectHistory(cmd, *input, r, o, *asJSON)
		}
		s, err := regress.ReadSeries(r, regress.ReadOptions{})
		if err != nil {
			return fmt.Errorf("%s: %w", *input, err)
		}
		progressf(cmd, "detecting change points in %d points (%s)", len(s.Values), o.Method)
		cps, err := regress.DetectSeries(s, o)
		if err != nil {
			return err
		}
		if cps == nil {
			cps = []regress.ChangePoint{}
		}
		out := detectOutput{N: len(s.Values), ChangePoints: cps}
		if *asJSON {
			return writeJSON(cmd.OutOrStdout(), out)
		}
		printChangePoints(cmd.OutOrStdout(), out)
		return nil
	}
	return cmd
}

func printChangePoints(w io.Writer, out detectOutput) {
	fmt.Fprintf(w, "%d points, %d change points\n", out.N, len(out.ChangePoints))
	if len(out.ChangePoints) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "index\ttime\tmean before\tmean after\tchange\tp")
	for _, c := range out.ChangePoints {
		t := c.Time
		if t == "" {
			t = "-"
		}
		fmt.Fprintf(tw, "%d\t%s\t%.4g\t%.4g\t%+.1f%%\t%.2g\n", c.Index, t, c.MeanBefore, c.MeanAfter, c.ChangePct, c.PValue)
	}
	tw.Flush()
}

// defaultStoreDSN is the embedded store the daemon uses by default.
func defaultStoreDSN() string {
	return "sqlite:" + filepath.Join(perfengine.DefaultDataDir, store.DefaultSQLiteFile)
}

func openStore(cmd *cobra.Command, dsn string) (store.Store, error) {
	progressf(cmd, "opening store %s", dsn)
	return store.Open(cmd.Context(), dsn, store.Retention{})
}

// compareOutput is `regress compare --json`.
type compareOutput struct {
	Baseline  string `json:"baseline"`
	Candidate string `json:"candidate"`
	regress.Judgement
}

func newRegressCompareCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "compare --baseline A --candidate B",
		Short: "Judge a candidate against a baseline",
		Long: `Compare two samples and give a verdict. Each side is a file of samples (CSV or
JSON, one metric named by --metric) or a release version whose baseline is in
the store (every metric of it). A metric regresses when the Mann-Whitney test
is significant after Holm correction and the median moved by at least the
sensitivity's minimum effect (conservative 10% at α 0.01, moderate 5% at
0.05, aggressive 2% at 0.10). The release scores 0-100 and passes, is
marginal, fails, or has no data (never a pass).`,
		Example: `  perfengine regress compare --baseline before.csv --candidate after.csv
  perfengine regress compare --baseline v1.2.0 --candidate v1.3.0 --json
  perfengine regress compare --baseline v1.2.0 --candidate live.csv --metric response_time_ms --exit-code`,
		Args: cobra.NoArgs,
	}
	base := cmd.Flags().String("baseline", "", "baseline: a file of samples or a version in the store")
	cand := cmd.Flags().String("candidate", "", "candidate: a file of samples or a version in the store")
	metric := cmd.Flags().String("metric", "", `metric name for samples read from files (default: the file's column name, else "value")`)
	sens := cmd.Flags().String("sensitivity", string(regress.Moderate), "conservative, moderate or aggressive")
	dsn := cmd.Flags().String("store", defaultStoreDSN(), "store holding release baselines (sqlite:PATH or postgres://…)")
	exitCode := cmd.Flags().Bool("exit-code", false, "exit 1 when the verdict is fail or no_data")
	asJSON := addJSONFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if *base == "" || *cand == "" {
			return errors.New("--baseline and --candidate are both required")
		}
		var st store.Store
		load := func(side string) (map[string][]float64, error) {
			if fi, err := os.Stat(side); (err == nil && !fi.IsDir()) || side == "-" {
				s, err := readSeriesFile(cmd, side)
				if err != nil {
					return nil, err
				}
				name := *metric
				if name == "" {
					name = s.Name
				}
				if name == "" {
					name = "value"
				}
				return map[string][]float64{name: s.Values}, nil
			}
			if strings.ContainsAny(side, `/\`) || strings.HasSuffix(side, ".csv") || strings.HasSuffix(side, ".json") {
				return nil, fmt.Errorf("%s: no such file", side)
			}
			if st == nil {
				var err error
				if st, err = openStore(cmd, *dsn); err != nil {
					return nil, err
				}
			}
			d, err := regress.NewDetector(regress.Options{Store: st})
			if err != nil {
				return nil, err
			}
			return d.Baseline(cmd.Context(), side)
		}
		defer func() {
			if st != nil {
				st.Close()
			}
		}()
		b, err := load(*base)
		if err != nil {
			return err
		}
		c, err := load(*cand)
		if err != nil {
			return err
		}
		progressf(cmd, "comparing %d baseline and %d candidate metrics", len(b), len(c))
		j, err := regress.Judge(b, c, regress.JudgeOptions{CompareOptions: regress.CompareOptions{Sensitivity: regress.Sensitivity(*sens)}})
		if err != nil {
			return err
		}
		if *asJSON {
			if err := writeJSON(cmd.OutOrStdout(), compareOutput{Baseline: *base, Candidate: *cand, Judgement: j}); err != nil {
				return err
			}
		} else {
			if err := regress.WriteReport(cmd.OutOrStdout(), j.Comparisons); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "\nverdict: %s (score %.0f/100)\n", j.Verdict, j.Score)
			for _, r := range j.Reasons {
				fmt.Fprintf(cmd.OutOrStdout(), "  - %s\n", r)
			}
		}
		if *exitCode && (j.Verdict == regress.Fail || j.Verdict == regress.NoDataVerdict) {
			return fmt.Errorf("verdict %s: %s", j.Verdict, strings.Join(j.Reasons, "; "))
		}
		return nil
	}
	return cmd
}

func newRegressBaselineCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "baseline",
		Short: "Manage release baselines in the store",
	}
	create := &cobra.Command{
		Use:   "create --version V --input FILE",
		Short: "Store a file of samples as the baseline of a release",
		Example: `  perfengine regress baseline create --version v1.2.0 --input latency.csv --metric response_time_ms
  PERFENGINE_VERSION=v1.2.0 perfengine regress baseline create --input latency.json`,
		Args: cobra.NoArgs,
	}
	version := create.Flags().String("version", "", "release version (default $PERFENGINE_VERSION)")
	input := create.Flags().String("input", "", "series file (CSV or JSON), - for standard input")
	metric := create.Flags().String("metric", "", `metric name (default: the file's column name, else "value")`)
	dsn := create.Flags().String("store", defaultStoreDSN(), "store (sqlite:PATH or postgres://…)")
	asJSON := addJSONFlag(create)
	create.RunE = func(cmd *cobra.Command, args []string) error {
		v := *version
		if v == "" {
			v = os.Getenv("PERFENGINE_VERSION")
		}
		if v == "" {
			return errors.New("--version is required (or set PERFENGINE_VERSION)")
		}
		s, err := readSeriesFile(cmd, *input)
		if err != nil {
			return err
		}
		name := *metric
		if name == "" {
			name = s.Name
		}
		if name == "" {
			name = "value"
		}
		st, err := openStore(cmd, *dsn)
		if err != nil {
			return err
		}
		defer st.Close()
		d, err := regress.NewDetector(regress.Options{Store: st})
		if err != nil {
			return err
		}
		if err := d.CreateBaseline(cmd.Context(), v, map[string][]float64{name: s.Values}); err != nil {
			return err
		}
		n := 0
		for _, x := range s.Values {
			if !math.IsNaN(x) {
				n++
			}
		}
		res := struct {
			Version string `json:"version"`
			Metric  string `json:"metric"`
			N       int    `json:"n"`
		}{v, name, n}
		if *asJSON {
			return writeJSON(cmd.OutOrStdout(), res)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "baseline %s: %s, %d values\n", v, name, n)
		return nil
	}
	cmd.AddCommand(create)
	return cmd
}
