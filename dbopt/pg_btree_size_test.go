package dbopt

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestBTreeSizeMatchesBuilt sizes B-trees the advisor could suggest, from
// statistics and hypopg, and builds each for real: the estimate is within
// 25 % of pg_relation_size for unique keys, keys with few values (which
// deduplicate), wide text, a type that does not deduplicate, two columns
// and a partial index. hypopg's own figure is logged beside it.
func TestBTreeSizeMatchesBuilt(t *testing.T) {
	dsn, pool := newPG(t)
	mustExec(t, pool, `
CREATE TABLE sized (id bigserial PRIMARY KEY, at timestamptz NOT NULL, kind int NOT NULL, tag text NOT NULL, amount numeric NOT NULL, note text NOT NULL,
  flag char(1) NOT NULL, price numeric(12,2) NOT NULL);
INSERT INTO sized (at, kind, tag, amount, note, flag, price)
  SELECT timestamptz '2026-01-01' + i * interval '1 second', i % 50, (ARRAY['alpha', 'beta', 'gamma'])[1 + i % 3],
         (i % 1000) / 10.0, 'note number ' || (i % 5000) || ' ' || repeat('z', i % 40),
         (ARRAY['A', 'N', 'R'])[1 + i % 3], 900 + (i::bigint * 7919 % 50000000) / 100.0
  FROM generate_series(1, 300000) i;
ANALYZE sized;`)
	o := newOpt(t, dsn)
	ctx := context.Background()
	cfg := o.pool.Config().ConnConfig.Copy()
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	ev := &pgEvaluator{conn: conn, timeout: 10 * time.Second, version: o.pgVersion}
	if err := ev.setup(ctx, o); err != nil {
		t.Fatal(err)
	}
	tbl, err := ev.table(ctx, "sized")
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct {
		cols  []string
		where string
	}{
		{cols: []string{"at"}},
		{cols: []string{"kind"}},
		{cols: []string{"tag"}},
		{cols: []string{"note"}},
		{cols: []string{"amount"}},
		{cols: []string{"kind", "at"}},
		// char(1) keys are never deduplicated (bpchar is not equalimage);
		// numeric keys of 8 to 9 bytes straddle an alignment boundary.
		{cols: []string{"flag"}},
		{cols: []string{"kind", "flag"}},
		{cols: []string{"price"}},
		{cols: []string{"at"}, where: `"kind" = 3`},
	} {
		c := &candidate{Table: tbl, Columns: tc.cols, Where: tc.where}
		oid, est, err := ev.create(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		var hypo int64
		if err := conn.QueryRow(ctx, `SELECT hypopg_relation_size($1)`, oid).Scan(&hypo); err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("sized_%d", i)
		mustExec(t, pool, c.ddl(name, false))
		var built int64
		if err := pool.QueryRow(ctx, `SELECT pg_relation_size($1::regclass)`, name).Scan(&built); err != nil {
			t.Fatal(err)
		}
		ratio := float64(est) / float64(built)
		t.Logf("%-32s built %9d  estimated %9d (%.2f×)  hypopg %9d (%.2f×)", c, built, est, ratio, hypo, float64(hypo)/float64(built))
		if math.Abs(ratio-1) > 0.25 {
			t.Errorf("%s: estimated %d bytes, built %d: off by more than 25 %%", c, est, built)
		}
		mustExec(t, pool, "DROP INDEX "+name)
	}
}
