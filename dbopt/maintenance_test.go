package dbopt

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestWindow(t *testing.T) {
	at := func(h, m int) time.Time { return time.Date(2026, 3, 1, h, m, 0, 0, time.UTC) }
	tests := []struct {
		spec string
		t    time.Time
		want bool
	}{
		{"", at(12, 0), true},
		{"02:00-04:00", at(3, 0), true},
		{"02:00-04:00", at(4, 0), false},
		{"02:00-04:00", at(1, 59), false},
		{"22:00-02:00", at(23, 30), true},
		{"22:00-02:00", at(1, 0), true},
		{"22:00-02:00", at(12, 0), false},
	}
	for _, tc := range tests {
		w, err := ParseWindow(tc.spec)
		if err != nil {
			t.Fatalf("ParseWindow(%q): %v", tc.spec, err)
		}
		if got := w.Contains(tc.t); got != tc.want {
			t.Errorf("ParseWindow(%q).Contains(%s) = %v, want %v", tc.spec, tc.t.Format("15:04"), got, tc.want)
		}
	}
	for _, bad := range []string{"2-4", "02:00", "02:00-02:00", "25:00-26:00"} {
		if _, err := ParseWindow(bad); err == nil {
			t.Errorf("ParseWindow(%q) = nil error, want one", bad)
		}
	}
}

func TestMaintenancePostgres(t *testing.T) {
	dsn, pool := newPG(t)
	mustExec(t, pool, `CREATE TABLE churn (id int PRIMARY KEY, v int);
		INSERT INTO churn SELECT i, i FROM generate_series(1, 20000) i;
		ANALYZE churn;
		DELETE FROM churn WHERE id % 2 = 0;
		CREATE TABLE fresh (a int); INSERT INTO fresh SELECT generate_series(1, 5000);
		SELECT pg_stat_force_next_flush();`)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	o := newOpt(t, dsn, WithClock(func() time.Time { return now }))
	ctx := context.Background()
	plan, err := o.MaintenancePlan(ctx)
	if err != nil {
		t.Fatalf("MaintenancePlan: %v", err)
	}
	kinds := map[string]string{}
	for _, p := range plan {
		kinds[p.Table] = p.Kind
	}
	if kinds["public.churn"] != TaskVacuumAnalyze || kinds["public.fresh"] != TaskAnalyze {
		t.Fatalf("MaintenancePlan = %+v, want VACUUM (ANALYZE) churn and ANALYZE fresh", plan)
	}
	night, _ := ParseWindow("02:00-04:00")
	if _, err := o.Maintenance(ctx, night); !errors.Is(err, ErrOutsideWindow) {
		t.Fatalf("Maintenance outside the window = %v, want ErrOutsideWindow", err)
	}
	res, err := o.Maintenance(ctx, Window{})
	if err != nil || len(res) != len(plan) {
		t.Fatalf("Maintenance = %+v, %v", res, err)
	}
	mustExec(t, pool, `SELECT pg_stat_force_next_flush()`)
	var dead int64
	if err := pool.QueryRow(ctx, `SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'churn'`).Scan(&dead); err != nil || dead != 0 {
		t.Errorf("dead tuples after maintenance = %d (%v), want 0", dead, err)
	}
	if _, err := o.RunMaintenance(ctx, Task{Kind: TaskAnalyze, Table: "nope; DROP TABLE churn"}, Window{}); err == nil {
		t.Fatal("RunMaintenance on a bogus table = nil, want an error")
	}
}
