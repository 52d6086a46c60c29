package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/perfengine/perfengine/webopt/audit"
)

func newWebCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "web",
		Short: "Pages as browsers load them",
	}
	cmd.AddCommand(newWebAuditCmd(), newWebLeaksCmd())
	return cmd
}

func newWebLeaksCmd() *cobra.Command {
	var (
		opts     audit.Options
		insecure bool
		interact string
		repeat   int
	)
	cmd := &cobra.Command{
		Use:   "leaks URL --interact JS",
		Short: "DOM nodes an interaction leaves alive, counted in headless Chromium",
		Long: `leaks loads the page in Debian's Chromium and runs the --interact script
--repeat times (a click that opens and closes a dialog, a route change).
After each round it forces a garbage collection and counts, through the
DevTools protocol, the DOM nodes removed from the document that script
still holds. A count that grows with every round is a detached_dom
finding naming the retained trees. It exits 0 either way; read the
findings, or --json.`,
		Example: `  perfengine web leaks http://127.0.0.1:8080/ --interact "document.querySelector('#open').click()"
  perfengine web leaks http://127.0.0.1:8080/ --interact "history.back()" --repeat 10 --json`,
		Args: cobra.ExactArgs(1),
	}
	cmd.Flags().StringVar(&interact, "interact", "", "JavaScript run once per round (required)")
	cmd.Flags().IntVar(&repeat, "repeat", audit.DefaultRepeats, "rounds of the interaction (1..100)")
	cmd.Flags().DurationVar(&opts.Timeout, "timeout", audit.DefaultTimeout, "deadline of the whole check")
	cmd.Flags().BoolVar(&insecure, "insecure", false, "accept the site's self-signed certificate")
	asJSON := addJSONFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if repeat < 1 {
			return errors.New("web leaks: --repeat must be in 1..100")
		}
		opts.IgnoreCertErrors = insecure
		rep, err := audit.DetachedDOM(cmd.Context(), args[0], interact, repeat, opts)
		if err != nil {
			return fmt.Errorf("web leaks: %w", err)
		}
		if *asJSON {
			return writeJSON(cmd.OutOrStdout(), rep)
		}
		w := cmd.OutOrStdout()
		fmt.Fprintf(w, "%s: %d rounds of the interaction, detached DOM nodes alive after each: %v\n", rep.URL, repeat, rep.Detached)
		if len(rep.Findings) == 0 {
			_, err := fmt.Fprintln(w, "no findings")
			return err
		}
		for _, f := range rep.Findings {
			fmt.Fprintf(w, "  %s %s: %s\n", f.Kind, f.Element, f.Advice)
		}
		return nil
	}
	return cmd
}

func newWebAuditCmd() *cobra.Command {
	var (
		opts     audit.Options
		insecure bool
	)
	cmd := &cobra.Command{
		Use:   "audit URL",
		Short: "Core Web Vitals and findings for a page, measured in headless Chromium",
		Long: `audit loads the page --runs times in Debian's Chromium, each time with a fresh
profile (a cold load), under Lighthouse's mobile throttling (150 ms round
trip, 1.6 Mbps down, 750 kbps up, CPU 4x slower) unless --throttle none.
It reports the medians of LCP (with its element), CLS, TBT (the lab's
stand-in for INP, which needs a real user's input), FCP, TTFB, the hero
image's responseEnd and the bytes fetched before any interaction, and
findings that name the element to fix. When no LCP entry arrives it says
so rather than inventing a figure. $CHROMIUM names another browser.`,
		Example: `  perfengine web audit http://127.0.0.1:8080/
  perfengine web audit https://127.0.0.1:8443/ --runs 9 --throttle none --insecure --json`,
		Args: cobra.ExactArgs(1),
	}
	cmd.Flags().IntVar(&opts.Runs, "runs", audit.DefaultRuns, "cold loads to measure (1..50)")
	cmd.Flags().StringVar(&opts.Throttle, "throttle", audit.ThrottleLighthouse, "lighthouse or none")
	cmd.Flags().DurationVar(&opts.Timeout, "timeout", audit.DefaultTimeout, "deadline of one run")
	cmd.Flags().BoolVar(&insecure, "insecure", false, "accept the site's self-signed certificate")
	asJSON := addJSONFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if opts.Runs < 1 {
			return errors.New("web audit: --runs must be in 1..50")
		}
		opts.IgnoreCertErrors = insecure
		opts.Progress = func(done, total int) { progressf(cmd, "perfengine: run %d/%d", done, total) }
		rep, err := audit.Run(cmd.Context(), args[0], opts)
		if err != nil {
			return fmt.Errorf("web audit: %w", err)
		}
		if *asJSON {
			return writeJSON(cmd.OutOrStdout(), rep)
		}
		return printAudit(cmd.OutOrStdout(), rep)
	}
	return cmd
}

func printAudit(w io.Writer, rep *audit.Report) error {
	m := rep.Median
	fmt.Fprintf(w, "%s: %d runs, throttle %s, medians\n", rep.URL, len(rep.Runs), rep.Throttle)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	ms := func(p *float64) string {
		if p == nil {
			return "none"
		}
		return fmt.Sprintf("%.0f ms", *p)
	}
	lcp := ms(m.LCP)
	if rep.LCPMissing > 0 {
		lcp += fmt.Sprintf(" (no LCP entry in %d of %d runs)", rep.LCPMissing, len(rep.Runs))
	}
	if len(rep.Runs) > 0 && rep.Runs[0].LCPElement != "" {
		lcp += "  " + rep.Runs[0].LCPElement
	}
	fmt.Fprintf(tw, "  LCP\t%s\n", lcp)
	fmt.Fprintf(tw, "  CLS\t%.3f\n", m.CLS)
	fmt.Fprintf(tw, "  TBT (INP stand-in)\t%.0f ms\n", m.TBT)
	fmt.Fprintf(tw, "  FCP\t%s\n", ms(m.FCP))
	fmt.Fprintf(tw, "  TTFB\t%s\n", ms(m.TTFB))
	fmt.Fprintf(tw, "  hero responseEnd\t%s\n", ms(m.HeroResponseEnd))
	fmt.Fprintf(tw, "  bytes before interaction\t%d\n", m.Bytes)
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(rep.Findings) == 0 {
		_, err := fmt.Fprintln(w, "no findings")
		return err
	}
	fmt.Fprintf(w, "%d findings:\n", len(rep.Findings))
	for _, f := range rep.Findings {
		what := strings.TrimSpace(f.Element + " " + f.URL)
		extra := ""
		if f.Bytes > 0 {
			extra = fmt.Sprintf(" (%d bytes)", f.Bytes)
		}
		fmt.Fprintf(w, "  %-16s %s%s: %s\n", f.Kind, what, extra, f.Advice)
	}
	return nil
}
