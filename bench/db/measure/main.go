// Command measure scores index advice on a workload: the summed planner
// cost of the queries without and with the indexes built for real, and the
// indexes' total size. It reads advice as `perfengine db advise --json`
// output, as Dexter's "Index found:" log lines, or as CREATE INDEX lines,
// builds the indexes, measures, and drops them again.
//
//	go run ./bench/db/measure -dsn postgres://… -queries bench/db/workload.sql -advice ours.json -label perfengine
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/perfengine/perfengine/dbopt"
)

// Result is one line of the report.
type Result struct {
	Label      string   `json:"label"`
	Indexes    []string `json:"indexes"`
	Count      int      `json:"count"`
	SizeBytes  int64    `json:"size_bytes"`
	CostBefore float64  `json:"cost_before"`
	CostAfter  float64  `json:"cost_after"`
	Relative   float64  `json:"relative_cost"`
	// SizeRatios are built / estimated bytes per index, for advice that
	// carries estimates (perfengine JSON), in the order of Indexes.
	SizeRatios []float64 `json:"size_ratios,omitempty"`
}

func main() {
	dsn := flag.String("dsn", "", "PostgreSQL DSN")
	queries := flag.String("queries", "", "workload file")
	advice := flag.String("advice", "", "advice file: perfengine JSON, Dexter log, or CREATE INDEX lines")
	label := flag.String("label", "", "name of the advisor")
	generate := flag.Int("generate", 0, "print this many distinct query templates on the TPC-H-like schema and exit")
	flag.Parse()
	if *generate > 0 {
		for _, q := range templates(*generate) {
			fmt.Println(q + ";")
		}
		return
	}
	if err := run(context.Background(), *dsn, *queries, *advice, *label); err != nil {
		fmt.Fprintln(os.Stderr, "measure:", err)
		os.Exit(1)
	}
}

var dexterLine = regexp.MustCompile(`Index found: ([\w."]+) \(([^)]+)\)`)

// readAdvice returns the CREATE INDEX statements of an advice file and,
// for perfengine JSON, each one's estimated size (else nil).
func readAdvice(path string) ([]string, []int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	if strings.HasPrefix(strings.TrimSpace(string(data)), "{") {
		var a dbopt.Advice
		if err := json.Unmarshal(data, &a); err != nil {
			return nil, nil, err
		}
		var out []string
		var sizes []int64
		for _, s := range a.Suggestions {
			out = append(out, strings.Replace(s.Statement, " CONCURRENTLY", "", 1))
			sizes = append(sizes, s.SizeBytes)
		}
		return out, sizes, nil
	}
	var out []string
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for sc.Scan() {
		line := sc.Text()
		if m := dexterLine.FindStringSubmatch(line); m != nil {
			out = append(out, fmt.Sprintf("CREATE INDEX ON %s (%s)", m[1], m[2]))
		} else if strings.HasPrefix(strings.ToUpper(strings.TrimSpace(line)), "CREATE INDEX") {
			out = append(out, strings.Replace(strings.TrimSpace(line), " CONCURRENTLY", "", 1))
		}
	}
	return out, nil, sc.Err()
}

var verbose = flag.Bool("v", false, "print each query's cost on stderr")

func workloadCost(ctx context.Context, conn *pgx.Conn, qs []dbopt.Query) (float64, error) {
	var total float64
	for _, q := range qs {
		var js string
		if err := conn.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+q.SQL).Scan(&js); err != nil {
			return 0, fmt.Errorf("explain %s: %w", dbopt.Abbrev(q.SQL, 60), err)
		}
		var plans []struct {
			Plan struct {
				TotalCost float64 `json:"Total Cost"`
			} `json:"Plan"`
		}
		if err := json.Unmarshal([]byte(js), &plans); err != nil || len(plans) == 0 {
			return 0, errors.New("read plan")
		}
		total += float64(q.Calls) * plans[0].Plan.TotalCost
		if *verbose {
			fmt.Fprintf(os.Stderr, "%12.1f  %s\n", plans[0].Plan.TotalCost, dbopt.Abbrev(q.SQL, 110))
		}
	}
	return total, nil
}

func run(ctx context.Context, dsn, queries, advice, label string) error {
	f, err := os.Open(queries)
	if err != nil {
		return err
	}
	qs, skipped, err := dbopt.ReadQueries(f)
	f.Close()
	if err != nil {
		return err
	}
	if len(skipped) > 0 {
		return fmt.Errorf("workload has %d statements that do not parse: %v", len(skipped), skipped[0])
	}
	stmts, estimates, err := readAdvice(advice)
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	res := Result{Label: label, Indexes: stmts, Count: len(stmts)}
	if res.CostBefore, err = workloadCost(ctx, conn, qs); err != nil {
		return err
	}
	var created []string
	defer func() {
		for _, name := range created {
			_, _ = conn.Exec(context.WithoutCancel(ctx), "DROP INDEX IF EXISTS "+name)
		}
	}()
	for i, s := range stmts {
		var before []string
		rows, _ := conn.Query(ctx, `SELECT indexrelid::regclass::text FROM pg_index`)
		before, _ = pgx.CollectRows(rows, pgx.RowTo[string])
		if _, err := conn.Exec(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
		rows, _ = conn.Query(ctx, `SELECT indexrelid::regclass::text, pg_relation_size(indexrelid) FROM pg_index`)
		type ix struct {
			name string
			size int64
		}
		after, _ := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ix, error) {
			var x ix
			err := r.Scan(&x.name, &x.size)
			return x, err
		})
		old := map[string]bool{}
		for _, b := range before {
			old[b] = true
		}
		var built int64
		for _, x := range after {
			if !old[x.name] {
				created = append(created, x.name)
				built += x.size
			}
		}
		res.SizeBytes += built
		if estimates != nil {
			res.SizeRatios = append(res.SizeRatios, float64(built)/float64(max(estimates[i], 1)))
		}
	}
	if res.CostAfter, err = workloadCost(ctx, conn, qs); err != nil {
		return err
	}
	if res.CostBefore > 0 {
		res.Relative = res.CostAfter / res.CostBefore
	}
	enc := json.NewEncoder(os.Stdout)
	return enc.Encode(res)
}

// templateCols are filterable columns with a literal each, per table.
var templateCols = []struct {
	table string
	cols  []string // "col op literal"
	order string
}{
	{"orders", []string{"o_custkey = 1234", "o_orderdate = date '1995-01-01'", "o_orderpriority = '1-URGENT'", "o_clerk = 'Clerk#000000088'", "o_orderstatus = 'O'", "o_totalprice > 499000"}, "o_orderdate DESC"},
	{"lineitem", []string{"l_partkey = 4242", "l_suppkey = 77", "l_shipdate = date '1995-09-01'", "l_shipmode = 'AIR'", "l_returnflag = 'R'", "l_quantity = 7", "l_receiptdate = date '1996-01-02'"}, "l_shipdate"},
	{"customer", []string{"c_phone = '20-4567'", "c_nationkey = 7", "c_mktsegment = 'BUILDING'", "c_acctbal > 9990"}, "c_acctbal DESC"},
	{"part", []string{"p_brand = 'Brand#23'", "p_container = 'MED BOX'", "p_size = 12", "p_name = 'c4ca4238a0b923820dcc509a6f75849b'", "p_retailprice > 1890"}, "p_retailprice"},
	{"partsupp", []string{"ps_suppkey = 321", "ps_availqty < 5", "ps_supplycost < 2"}, "ps_supplycost"},
	{"supplier", []string{"s_name = 'Supplier#000000123'", "s_nationkey = 3", "s_acctbal > 9900"}, "s_acctbal DESC"},
}

// templates returns n distinct query shapes: each column alone, each pair
// of columns of a table, then the single-column ones sorted and limited.
func templates(n int) []string {
	var out []string
	for _, t := range templateCols {
		for _, c := range t.cols {
			out = append(out, fmt.Sprintf("SELECT * FROM %s WHERE %s", t.table, c))
		}
	}
	for _, t := range templateCols {
		for i := range t.cols {
			for j := i + 1; j < len(t.cols); j++ {
				out = append(out, fmt.Sprintf("SELECT count(*) FROM %s WHERE %s AND %s", t.table, t.cols[i], t.cols[j]))
			}
		}
	}
	for _, t := range templateCols {
		for _, c := range t.cols {
			out = append(out, fmt.Sprintf("SELECT * FROM %s WHERE %s ORDER BY %s LIMIT 10", t.table, c, t.order))
		}
	}
	if len(out) > n {
		out = out[:n]
	}
	return out
}
