package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/perfengine/perfengine/dbopt"
	"github.com/spf13/cobra"
)

func newDBCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "db",
		Short: "Health and index advice for a PostgreSQL or SQLite database",
		Long: `Health checks (PgHero's, with its thresholds) and workload-wide index advice
for a PostgreSQL database (postgres://…) or a SQLite file (sqlite:PATH).`,
	}
	cmd.AddCommand(newDBHealthCmd(), newDBAdviseCmd())
	return cmd
}

func openDB(cmd *cobra.Command, dsn string) (*dbopt.Optimizer, error) {
	if dsn == "" {
		return nil, errors.New("--dsn is required: postgres://… or sqlite:PATH")
	}
	o, err := dbopt.New(dsn)
	if err != nil {
		return nil, err
	}
	d, _ := dbopt.ParseDSN(dsn)
	progressf(cmd, "connecting to %s", d)
	if err := o.Initialize(cmd.Context()); err != nil {
		o.Close()
		return nil, err
	}
	return o, nil
}

func newDBHealthCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "health --dsn DSN",
		Short: "Report a database's health",
		Example: `  perfengine db health --dsn postgres://postgres@127.0.0.1:5432/shop
  perfengine db health --dsn sqlite:app.db --json`,
		Args: cobra.NoArgs,
	}
	dsn := cmd.Flags().String("dsn", "", "database: postgres://… or sqlite:PATH")
	asJSON := addJSONFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		o, err := openDB(cmd, *dsn)
		if err != nil {
			return err
		}
		defer o.Close()
		r, err := o.Health(cmd.Context())
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(cmd.OutOrStdout(), r)
		}
		printHealth(cmd.OutOrStdout(), r)
		return nil
	}
	return cmd
}

func printHealth(w io.Writer, r *dbopt.Report) {
	fmt.Fprintf(w, "%s %s (%s): %s\n", r.Kind, r.Database, r.Version, strings.ToUpper(r.Status))
	for _, c := range r.Checks {
		fmt.Fprintf(w, "  %-9s %-26s %s\n", c.Status, c.Name, c.Summary)
		for _, it := range c.Items {
			fmt.Fprintf(w, "            - %s: %s\n", it.Object, it.Detail)
			if it.Fix != "" {
				fmt.Fprintf(w, "              fix: %s\n", it.Fix)
			}
		}
	}
}

// adviseOutput is `db advise --json`: the advice, and what --apply did.
type adviseOutput struct {
	*dbopt.Advice
	Applied []*dbopt.Applied `json:"applied,omitempty"`
	Failed  []dbopt.Skipped  `json:"apply_failed,omitempty"`
}

func newDBAdviseCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "advise --dsn DSN [--queries FILE] [--budget SIZE] [--apply]",
		Short: "Suggest indexes for a workload, with their estimated savings",
		Long: `Suggest the indexes that most reduce the cost of a workload, chosen across all
its queries, weighted by calls × time. The workload is pg_stat_statements (or
--queries FILE: SQL statements separated by semicolons). --apply creates the
suggestions: CREATE INDEX CONCURRENTLY under lock and statement timeouts, a
validity check, and an EXPLAIN showing the planner uses each.`,
		Example: `  perfengine db advise --dsn postgres://postgres@127.0.0.1:5432/shop --json
  perfengine db advise --dsn postgres://127.0.0.1/shop --queries workload.sql --budget 500MB
  perfengine db advise --dsn sqlite:app.db --queries queries.sql --apply`,
		Args: cobra.NoArgs,
	}
	dsn := cmd.Flags().String("dsn", "", "database: postgres://… or sqlite:PATH")
	queries := cmd.Flags().String("queries", "", "file of SQL statements to advise on, instead of pg_stat_statements")
	budget := cmd.Flags().String("budget", "", "cap on the total size of suggested indexes, e.g. 500MB, 2GiB")
	apply := cmd.Flags().Bool("apply", false, "create the suggested indexes")
	minSavings := cmd.Flags().Float64("min-savings", 100*dbopt.DefaultMinSavings, "least % of its queries' cost an index must save (more on tables with writes)")
	maxIndexes := cmd.Flags().Int("max-indexes", dbopt.DefaultMaxIndexes, "most indexes to suggest")
	minShare := cmd.Flags().Float64("min-share", 100*dbopt.DefaultMinWorkloadShare, "least % of the whole workload's cost an index must save")
	covering := cmd.Flags().Bool("covering", false, "also try covering indexes (INCLUDE) for queries an index-only scan could answer (PostgreSQL)")
	asJSON := addJSONFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		opt := dbopt.AdviseOptions{MinSavings: *minSavings / 100, MinWorkloadShare: *minShare / 100, MaxIndexes: *maxIndexes, Covering: *covering}
		if *maxIndexes < 1 {
			return errors.New("--max-indexes must be at least 1")
		}
		if opt.MinSavings <= 0 || opt.MinSavings > 1 || opt.MinWorkloadShare <= 0 || opt.MinWorkloadShare > 1 {
			return errors.New("--min-savings and --min-share must be percentages in (0, 100]")
		}
		if *budget != "" {
			b, err := parseSize(*budget)
			if err != nil {
				return fmt.Errorf("--budget: %w", err)
			}
			opt.Budget = b
		}
		var qs []dbopt.Query
		var skipped []dbopt.Skipped
		if *queries != "" {
			f, err := os.Open(*queries)
			if err != nil {
				return fmt.Errorf("--queries: %w", err)
			}
			qs, skipped, err = dbopt.ReadQueries(f)
			f.Close()
			if err != nil {
				return fmt.Errorf("--queries: %w", err)
			}
			progressf(cmd, "read %d queries from %s (%d skipped)", len(qs), *queries, len(skipped))
		}
		o, err := openDB(cmd, *dsn)
		if err != nil {
			return err
		}
		defer o.Close()
		var adv *dbopt.Advice
		if *queries != "" {
			adv, err = o.Advise(cmd.Context(), qs, opt)
		} else {
			if o.Kind() == dbopt.KindSQLite {
				return errors.New("SQLite keeps no query statistics: pass --queries FILE")
			}
			progressf(cmd, "reading the workload from pg_stat_statements")
			qs, err = o.Workload(cmd.Context())
			if err == nil {
				adv, err = o.Advise(cmd.Context(), qs, opt)
			}
		}
		if err != nil {
			return err
		}
		adv.Skipped = append(skipped, adv.Skipped...)
		progressf(cmd, "analyzed %d queries in %s: %d suggestions", adv.Analyzed, adv.Elapsed.Round(1e6), len(adv.Suggestions))
		out := adviseOutput{Advice: adv}
		if *apply {
			for _, s := range adv.Suggestions {
				progressf(cmd, "creating %s", s.Statement)
				a, err := o.AddIndex(cmd.Context(), s)
				if err != nil {
					out.Failed = append(out.Failed, dbopt.Skipped{Query: s.Statement, Reason: err.Error()})
					progressf(cmd, "failed: %v", err)
					continue
				}
				progressf(cmd, "created %s (%d bytes) in %s; used by %d of %d queries", a.Name, a.SizeBytes, a.Duration.Round(1e6), len(a.Used), len(s.Queries))
				out.Applied = append(out.Applied, a)
			}
		}
		if *asJSON {
			if err := writeJSON(cmd.OutOrStdout(), out); err != nil {
				return err
			}
		} else {
			printAdvice(cmd.OutOrStdout(), out)
		}
		if len(out.Failed) > 0 {
			return fmt.Errorf("%d of %d indexes could not be created: %s", len(out.Failed), len(adv.Suggestions), out.Failed[0].Reason)
		}
		return nil
	}
	return cmd
}

func printAdvice(w io.Writer, out adviseOutput) {
	if len(out.Suggestions) == 0 {
		fmt.Fprintf(w, "no index would help the %d queries analyzed\n", out.Analyzed)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, s := range out.Suggestions {
		fmt.Fprintf(tw, "%s\n", s.Statement)
		fmt.Fprintf(tw, "  saves %.1f%% (cost %.1f -> %.1f), size %s, for %d queries:\n", s.SavingsPct, s.CostBefore, s.CostAfter, sizeString(s.SizeBytes), len(s.Queries))
		for _, q := range s.PerQuery {
			fmt.Fprintf(tw, "    %.1f -> %.1f\t%s\n", q.CostBefore, q.CostAfter, dbopt.Abbrev(q.Query, 100))
		}
	}
	tw.Flush()
	if out.CostBefore > 0 {
		fmt.Fprintf(w, "workload cost %.0f -> %.0f (%.1f%% lower)\n", out.CostBefore, out.CostAfter, 100*(out.CostBefore-out.CostAfter)/out.CostBefore)
	}
	for _, q := range out.QueryIssues {
		fmt.Fprintf(w, "%s: %s\n  %s\n  fix: %s\n", q.Kind, dbopt.Abbrev(q.Query, 100), q.Evidence, q.Fix)
	}
	for _, s := range out.Skipped {
		fmt.Fprintf(w, "skipped: %s: %s\n", s.Query, s.Reason)
	}
	for _, a := range out.Applied {
		fmt.Fprintf(w, "created %s; the planner uses it for %d queries\n", a.Name, len(a.Used))
		if a.Plan != "" {
			fmt.Fprintf(w, "%s\n", indent(a.Plan, "    "))
		}
	}
}

func indent(s, pre string) string {
	return pre + strings.ReplaceAll(s, "\n", "\n"+pre)
}

func sizeString(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// parseSize reads 500MB, 2GiB, 100k, 4096. Decimal and binary suffixes
// both mean powers of 1024, as PostgreSQL's own size settings do.
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(strings.ToLower(s))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"tib", 1 << 40}, {"tb", 1 << 40}, {"gib", 1 << 30}, {"gb", 1 << 30}, {"mib", 1 << 20}, {"mb", 1 << 20}, {"kib", 1 << 10}, {"kb", 1 << 10}, {"t", 1 << 40}, {"g", 1 << 30}, {"m", 1 << 20}, {"k", 1 << 10}, {"b", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.m
			break
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v <= 0 || v*float64(mult) > 1<<62 {
		return 0, fmt.Errorf("want a positive size such as 500MB or 2GiB")
	}
	return int64(v * float64(mult)), nil
}
