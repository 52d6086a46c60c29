package dbopt

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/perfengine/perfengine/dbopt/querytrace"
)

func TestPoolAdvice(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name        string
		prev, cur   poolSnapshot
		haveBusy    bool
		acquiredNow float64
		wantInUse   float64
		wantRec     int
		wantWaitMs  float64
	}{
		{"little's law", poolSnapshot{t: t0, acquires: 0, busyMs: 0}, poolSnapshot{t: t0.Add(10 * time.Second), acquires: 400, acquireWait: 400 * time.Millisecond, busyMs: 20_000}, true, 0, 2, 5, 1},
		{"idle", poolSnapshot{t: t0}, poolSnapshot{t: t0.Add(time.Second)}, true, 0, 0, 2, 0},
		{"busy", poolSnapshot{t: t0}, poolSnapshot{t: t0.Add(time.Second), acquires: 1000, busyMs: 25_000}, true, 0, 25, 35, 0},
		{"no timings", poolSnapshot{t: t0}, poolSnapshot{t: t0.Add(time.Second), acquires: 10}, false, 4, 4, 8, 0},
		// database/sql counts only the acquires that waited: 5 waited 100 ms in all.
		{"database/sql", poolSnapshot{t: t0, acquires: -1}, poolSnapshot{t: t0.Add(time.Second), acquires: -1, emptyAcquire: 5, acquireWait: 100 * time.Millisecond, busyMs: 1000}, true, 0, 1, 3, 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := poolAdvice(&tc.prev, &tc.cur, 10, tc.acquiredNow, tc.haveBusy)
			if got.InUse != tc.wantInUse || got.Recommended != tc.wantRec || got.AcquireWaitMs != tc.wantWaitMs {
				t.Fatalf("poolAdvice = %+v, want in use %v, recommended %d, wait %v ms", got, tc.wantInUse, tc.wantRec, tc.wantWaitMs)
			}
		})
	}
}

func TestRecommendPoolSize(t *testing.T) {
	tests := []struct {
		inUse float64
		want  int
	}{{0, 2}, {-1, 2}, {0.5, 2}, {1, 3}, {4, 8}, {100, 120}}
	for _, tc := range tests {
		if got := RecommendPoolSize(tc.inUse); got != tc.want {
			t.Errorf("RecommendPoolSize(%v) = %d, want %d", tc.inUse, got, tc.want)
		}
	}
}

func TestPoolAdvicePostgres(t *testing.T) {
	dsn, _ := newPG(t)
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	rec := querytrace.NewRecorder(0)
	cfg.ConnConfig.Tracer = querytrace.NewTracer(rec)
	cfg.MaxConns = 4
	app, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	o := newOpt(t, dsn, WithAppPool(app), WithRecorder(rec), WithClock(func() time.Time { return now }))
	if _, ok := o.PoolAdvice(); ok {
		t.Fatal("first PoolAdvice ok, want a second sample first")
	}
	for range 20 {
		if _, err := app.Exec(ctx, `SELECT pg_sleep(0.005)`); err != nil {
			t.Fatal(err)
		}
	}
	now = now.Add(time.Second)
	adv, ok := o.PoolAdvice()
	if !ok {
		t.Fatal("second PoolAdvice not ok")
	}
	// 20 queries of at least 5 ms in one (injected) second: L ≥ 0.1.
	if adv.AcquireRate != 20 || adv.InUse < 0.1 || adv.Recommended < 2 || adv.MaxConns != 4 {
		t.Fatalf("PoolAdvice = %+v, want 20 acquires/s, ≥ 0.1 in use", adv)
	}
	r, err := o.Health(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c := r.Check("connection_pool"); c == nil || !strings.Contains(c.Summary, "of 4 connections in use") {
		t.Errorf("connection_pool check = %+v", c)
	}
	ms, err := o.Metrics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, m := range ms {
		names[m.Name] = true
	}
	for _, n := range []string{MetricPoolUtilisation, MetricPoolEmptyAcquires, MetricConnections, MetricSizeBytes} {
		if !names[n] {
			t.Errorf("Metrics lacks %s: %v", n, names)
		}
	}
}
