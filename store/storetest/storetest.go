// Package storetest is the conformance suite every store.Store backend
// passes: one body of tests, run against SQLite and PostgreSQL, so the
// backends cannot drift apart.
//
//	func TestSQLite(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store {
//			s, err := store.OpenSQLite(filepath.Join(t.TempDir(), "s.db"), store.Retention{})
//			if err != nil {
//				t.Fatal(err)
//			}
//			return s
//		})
//	}
package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/perfengine/perfengine/metrics"
	"github.com/perfengine/perfengine/store"
)

// Run runs the suite. open is called once per subtest and must return an
// empty store with the default Retention; Run closes it when the subtest
// ends.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Samples", testSamples},
		{"SamplesInvalid", testSamplesInvalid},
		{"SamplesBatch", testSamplesBatch},
		{"SamplesUnitChange", testSamplesUnitChange},
		{"Compact", testCompact},
		{"CompactLateSample", testCompactLateSample},
		{"Actions", testActions},
		{"ActionsList", testActionsList},
		{"Baselines", testBaselines},
		{"Alerts", testAlerts},
		{"State", testState},
		{"Concurrent", testConcurrent},
		{"ConcurrentNewSeries", testConcurrentNewSeries},
		{"Canceled", testCanceled},
		{"Closed", testClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close() = %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
}

// base is an instant with nanoseconds, an hour ago: within the default raw
// retention, and precise enough to catch a backend rounding times.
func base() time.Time { return time.Now().Add(-time.Hour).Truncate(time.Second).Add(123456789) }

func sample(name string, v float64, at time.Time, labels map[string]string) metrics.Sample {
	return metrics.Sample{Name: name, Value: v, Unit: metrics.UnitMilliseconds, Labels: labels, Time: at}
}

func write(t *testing.T, s store.Store, samples ...metrics.Sample) {
	t.Helper()
	if err := s.WriteSamples(context.Background(), samples); err != nil {
		t.Fatalf("WriteSamples(%d samples) = %v", len(samples), err)
	}
}

func query(t *testing.T, s store.Store, q store.SampleQuery) []metrics.Sample {
	t.Helper()
	got, err := s.QuerySamples(context.Background(), q)
	if err != nil {
		t.Fatalf("QuerySamples(%+v) = %v", q, err)
	}
	return got
}

func sameSamples(t *testing.T, what string, got, want []metrics.Sample) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d samples, want %d\ngot:  %s\nwant: %s", what, len(got), len(want), fmtSamples(got), fmtSamples(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Name != w.Name || math.Abs(g.Value-w.Value) > 1e-9 || g.Unit != w.Unit ||
			!g.Time.Equal(w.Time) || !sameLabels(g.Labels, w.Labels) {
			t.Fatalf("%s: sample %d differs\ngot:  %s\nwant: %s", what, i, fmtSamples(got), fmtSamples(want))
		}
	}
}

func sameLabels(a, b map[string]string) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return reflect.DeepEqual(a, b)
}

func fmtSamples(ss []metrics.Sample) string {
	var b strings.Builder
	for _, s := range ss {
		fmt.Fprintf(&b, "[%s=%g %s @%s] ", s.Key(), s.Value, s.Unit, s.Time.UTC().Format(time.RFC3339Nano))
	}
	return b.String()
}

func testSamples(t *testing.T, s store.Store) {
	t0 := base()
	get := map[string]string{"route": "GET /a"}
	post := map[string]string{"route": "POST /a", "code": "2xx"}
	all := []metrics.Sample{
		sample("lat", 1, t0, get),
		sample("lat", 2, t0.Add(time.Second), post),
		sample("lat", 3, t0.Add(2*time.Second), nil),
		sample("lat", 4, t0.Add(3*time.Second), get),
		sample("other", 9, t0.Add(time.Second), get),
	}
	// Written out of order, in two batches: reads come back in time order.
	write(t, s, all[3], all[0])
	write(t, s, all[2], all[1], all[4])

	tests := []struct {
		name string
		q    store.SampleQuery
		want []metrics.Sample
	}{
		{"any labels", store.SampleQuery{Name: "lat"}, all[:4]},
		{"exact labels", store.SampleQuery{Name: "lat", Labels: get}, []metrics.Sample{all[0], all[3]}},
		{"labels in other order", store.SampleQuery{Name: "lat", Labels: map[string]string{"code": "2xx", "route": "POST /a"}}, all[1:2]},
		{"subset of labels is not a match", store.SampleQuery{Name: "lat", Labels: map[string]string{"route": "POST /a"}}, nil},
		{"empty labels means unlabelled", store.SampleQuery{Name: "lat", Labels: map[string]string{}}, all[2:3]},
		{"from inclusive", store.SampleQuery{Name: "lat", From: t0.Add(time.Second)}, all[1:4]},
		{"to exclusive", store.SampleQuery{Name: "lat", To: t0.Add(2 * time.Second)}, all[:2]},
		{"window", store.SampleQuery{Name: "lat", From: t0.Add(time.Second), To: t0.Add(3 * time.Second)}, all[1:3]},
		{"limit keeps the newest", store.SampleQuery{Name: "lat", Limit: 2}, all[2:4]},
		{"limit above count", store.SampleQuery{Name: "lat", Limit: 10}, all[:4]},
		{"to in the past excludes now", store.SampleQuery{Name: "lat", To: t0}, nil},
		{"unknown name", store.SampleQuery{Name: "nope"}, nil},
		{"other series", store.SampleQuery{Name: "other"}, all[4:5]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sameSamples(t, tc.name, query(t, s, tc.q), tc.want)
		})
	}

	// The store hands out copies: changing a result changes nothing else.
	got := query(t, s, store.SampleQuery{Name: "lat", Labels: get})
	got[0].Labels["route"] = "changed"
	if got[1].Labels["route"] != "GET /a" {
		t.Errorf("samples of one series share a labels map")
	}
}

func testSamplesInvalid(t *testing.T, s store.Store) {
	ctx := context.Background()
	t0 := base()
	good := sample("ok", 1, t0, nil)
	tests := []struct {
		name string
		bad  metrics.Sample
	}{
		{"no name", sample("", 1, t0, nil)},
		{"no time", sample("x", 1, time.Time{}, nil)},
		{"NaN", sample("x", math.NaN(), t0, nil)},
		{"+Inf", sample("x", math.Inf(1), t0, nil)},
		{"-Inf", sample("x", math.Inf(-1), t0, nil)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.WriteSamples(ctx, []metrics.Sample{good, tc.bad})
			if !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("WriteSamples(%s) = %v, want ErrInvalid", tc.name, err)
			}
		})
	}
	// A rejected batch is rejected whole.
	sameSamples(t, "after rejected batches", query(t, s, store.SampleQuery{Name: "ok"}), nil)
	if err := s.WriteSamples(ctx, nil); err != nil {
		t.Errorf("WriteSamples(nil) = %v, want nil", err)
	}
	for _, q := range []store.SampleQuery{{}, {Name: "ok", Limit: -1}} {
		if _, err := s.QuerySamples(ctx, q); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("QuerySamples(%+v) = %v, want ErrInvalid", q, err)
		}
	}
}

func testSamplesBatch(t *testing.T, s store.Store) {
	t0 := base()
	const n = 1000
	batch := make([]metrics.Sample, n)
	for i := range batch {
		batch[i] = sample("batch", float64(i), t0.Add(time.Duration(i)*time.Millisecond),
			map[string]string{"worker": fmt.Sprint(i % 4)})
	}
	write(t, s, batch...)
	sameSamples(t, "batch", query(t, s, store.SampleQuery{Name: "batch"}), batch)
}

func testSamplesUnitChange(t *testing.T, s store.Store) {
	t0 := base()
	a := sample("u", 1, t0, nil)
	b := sample("u", 2, t0.Add(time.Second), nil)
	b.Unit = metrics.UnitSeconds
	write(t, s, a)
	write(t, s, b)
	got := query(t, s, store.SampleQuery{Name: "u"})
	// A series has one unit: the latest written.
	want := []metrics.Sample{a, b}
	want[0].Unit = metrics.UnitSeconds
	sameSamples(t, "unit change", got, want)
}

// testCompact checks folding and retention with the default retentions
// (24 h raw, 30 days of aggregates) at an injected now.
func testCompact(t *testing.T, s store.Store) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 30, 0, time.UTC)
	old := now.Add(-48 * time.Hour).Truncate(time.Minute) // a minute well past raw retention
	lbl := map[string]string{"host": "a"}
	rawEdge := now.Add(-24 * time.Hour) // 12:00:30 the day before
	in := []metrics.Sample{
		sample("c", 1, old.Add(1*time.Second), lbl),
		sample("c", 2, old.Add(2*time.Second), lbl),
		sample("c", 3, old.Add(3*time.Second), lbl),
		sample("c", 6, old.Add(59*time.Second), lbl),
		sample("c", 10, old.Add(time.Minute+5*time.Second), lbl),
		sample("c", 100, old.Add(5*time.Second), map[string]string{"host": "b"}),
		// Before the raw edge but in its minute: the minute is not split,
		// so this one stays raw for now.
		sample("c", 7, rawEdge.Add(-20*time.Second), lbl),
		sample("c", 8, rawEdge.Add(-40*time.Second), lbl), // previous minute: folded
		sample("c", 50, now.Add(-31*24*time.Hour), lbl),   // past aggregate retention
		sample("c", 60, now.Add(-29*24*time.Hour), lbl),   // within it
		sample("c", 20, now.Add(-time.Hour), lbl),
		sample("c", 21, now.Add(-time.Hour+time.Second), lbl),
	}
	write(t, s, in...)
	if err := s.SaveAlert(ctx, store.Alert{ID: "ancient", Time: now.Add(-31 * 24 * time.Hour), Severity: "info", Source: "engine", Title: "old"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveAlert(ctx, store.Alert{ID: "recent", Time: now.Add(-time.Hour), Severity: "info", Source: "engine", Title: "new"}); err != nil {
		t.Fatal(err)
	}

	edgeMinute := rawEdge.Truncate(time.Minute)
	agg := func(v float64, at time.Time, l map[string]string) metrics.Sample { return sample("c", v, at, l) }
	wantA := []metrics.Sample{
		agg(60, now.Add(-29*24*time.Hour).Truncate(time.Minute), lbl),
		agg(3, old, lbl), // mean of 1, 2, 3, 6
		agg(10, old.Add(time.Minute), lbl),
		agg(8, edgeMinute.Add(-time.Minute), lbl),
		in[6],
		in[10], in[11],
	}
	for i := range 2 { // compaction is idempotent
		if err := s.Compact(ctx, now); err != nil {
			t.Fatalf("Compact #%d = %v", i+1, err)
		}
		sameSamples(t, fmt.Sprintf("host a after compaction #%d", i+1),
			query(t, s, store.SampleQuery{Name: "c", Labels: lbl, To: now}), wantA)
	}
	sameSamples(t, "host b", query(t, s, store.SampleQuery{Name: "c", Labels: map[string]string{"host": "b"}, To: now}),
		[]metrics.Sample{agg(100, old, map[string]string{"host": "b"})})
	sameSamples(t, "limit across aggregates and raw",
		query(t, s, store.SampleQuery{Name: "c", Labels: lbl, To: now, Limit: 4}), wantA[3:])
	sameSamples(t, "any labels orders by time, then series",
		query(t, s, store.SampleQuery{Name: "c", From: old, To: old.Add(time.Minute)}),
		[]metrics.Sample{agg(3, old, lbl), agg(100, old, map[string]string{"host": "b"})})

	alerts, err := s.ListAlerts(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(alerts) != 1 || alerts[0].ID != "recent" {
		t.Errorf("alerts after compaction = %+v, want only %q", alerts, "recent")
	}

	if err := s.Compact(ctx, time.Time{}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("Compact(zero time) = %v, want ErrInvalid", err)
	}

	// Two days later, the edge minute is folded too, and the 29-day-old
	// aggregate has passed its retention.
	later := now.Add(48 * time.Hour)
	if err := s.Compact(ctx, later); err != nil {
		t.Fatal(err)
	}
	sameSamples(t, "two days later", query(t, s, store.SampleQuery{Name: "c", Labels: lbl, To: now}), []metrics.Sample{
		wantA[1], wantA[2], wantA[3], agg(7, edgeMinute, lbl), agg(20.5, now.Add(-time.Hour).Truncate(time.Minute), lbl),
	})
}

// testCompactLateSample writes into a minute that was already folded: the
// next compaction merges it into the existing aggregate.
func testCompactLateSample(t *testing.T, s store.Store) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	m := now.Add(-36 * time.Hour)
	write(t, s, sample("late", 1, m, nil), sample("late", 2, m.Add(time.Second), nil))
	if err := s.Compact(ctx, now); err != nil {
		t.Fatal(err)
	}
	write(t, s, sample("late", 6, m.Add(30*time.Second), nil))
	if err := s.Compact(ctx, now); err != nil {
		t.Fatal(err)
	}
	sameSamples(t, "merged minute", query(t, s, store.SampleQuery{Name: "late", To: now}),
		[]metrics.Sample{sample("late", 3, m, nil)})
}

func action(id, module, state string, created time.Time) store.Action {
	return store.Action{
		ID: id, Module: module, Kind: "create_index", Target: "orders(customer_id)",
		Description: "index orders by customer", Impact: "-40% p95", Risk: "moderate",
		Undo: "DROP INDEX orders_customer_id_idx", Params: map[string]string{"table": "orders", "column": "customer_id"},
		State: state, CreatedAt: created, UpdatedAt: created.Add(time.Second),
	}
}

func sameAction(t *testing.T, what string, got, want store.Action) {
	t.Helper()
	g, w := got, want
	if !g.CreatedAt.Equal(w.CreatedAt) || !g.UpdatedAt.Equal(w.UpdatedAt) {
		t.Fatalf("%s: times %v/%v, want %v/%v", what, g.CreatedAt, g.UpdatedAt, w.CreatedAt, w.UpdatedAt)
	}
	g.CreatedAt, g.UpdatedAt, w.CreatedAt, w.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if len(g.Params) == 0 && len(w.Params) == 0 {
		g.Params, w.Params = nil, nil
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("%s:\ngot  %+v\nwant %+v", what, got, want)
	}
}

func testActions(t *testing.T, s store.Store) {
	ctx := context.Background()
	t0 := base()
	a := action("a1", "database", store.StatePending, t0)
	if err := s.SaveAction(ctx, a); err != nil {
		t.Fatalf("SaveAction = %v", err)
	}
	got, err := s.GetAction(ctx, "a1")
	if err != nil {
		t.Fatalf("GetAction = %v", err)
	}
	sameAction(t, "saved", got, a)

	a.State, a.Result, a.Error, a.UpdatedAt = store.StateFailed, "", "lock timeout", t0.Add(time.Minute)
	a.Params = nil
	if err := s.SaveAction(ctx, a); err != nil {
		t.Fatalf("SaveAction (replace) = %v", err)
	}
	got, err = s.GetAction(ctx, "a1")
	if err != nil {
		t.Fatal(err)
	}
	sameAction(t, "replaced", got, a)

	minimal := store.Action{ID: "bare"} // zero times and empty fields survive
	if err := s.SaveAction(ctx, minimal); err != nil {
		t.Fatalf("SaveAction(minimal) = %v", err)
	}
	got, err = s.GetAction(ctx, "bare")
	if err != nil {
		t.Fatal(err)
	}
	sameAction(t, "minimal", got, minimal)

	if _, err := s.GetAction(ctx, "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetAction(missing) = %v, want ErrNotFound", err)
	}
	if err := s.SaveAction(ctx, store.Action{}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("SaveAction(no ID) = %v, want ErrInvalid", err)
	}
}

func testActionsList(t *testing.T, s store.Store) {
	ctx := context.Background()
	t0 := base()
	in := []store.Action{
		action("1", "database", store.StateApplied, t0),
		action("2", "api", store.StatePending, t0.Add(1*time.Second)),
		action("3", "database", store.StatePending, t0.Add(2*time.Second)),
		action("4", "memory", store.StateUndone, t0.Add(3*time.Second)),
		action("5", "database", store.StatePending, t0.Add(4*time.Second)),
	}
	for _, a := range in {
		if err := s.SaveAction(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		f    store.ActionFilter
		want []string
	}{
		{"all, newest first", store.ActionFilter{}, []string{"5", "4", "3", "2", "1"}},
		{"module", store.ActionFilter{Module: "database"}, []string{"5", "3", "1"}},
		{"state", store.ActionFilter{State: store.StatePending}, []string{"5", "3", "2"}},
		{"module and state", store.ActionFilter{Module: "database", State: store.StatePending}, []string{"5", "3"}},
		{"since inclusive", store.ActionFilter{Since: t0.Add(3 * time.Second)}, []string{"5", "4"}},
		{"limit", store.ActionFilter{Limit: 2}, []string{"5", "4"}},
		{"limit with filter", store.ActionFilter{Module: "database", Limit: 1}, []string{"5"}},
		{"no match", store.ActionFilter{Module: "network"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListActions(ctx, tc.f)
			if err != nil {
				t.Fatalf("ListActions(%+v) = %v", tc.f, err)
			}
			var ids []string
			for _, a := range got {
				ids = append(ids, a.ID)
			}
			if !reflect.DeepEqual(ids, tc.want) {
				t.Errorf("ListActions(%+v) = %v, want %v", tc.f, ids, tc.want)
			}
		})
	}
	got, err := s.ListActions(ctx, store.ActionFilter{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	sameAction(t, "listed", got[0], in[4])
}

func testBaselines(t *testing.T, s store.Store) {
	ctx := context.Background()
	t0 := base()
	if vs, err := s.Versions(ctx); err != nil || len(vs) != 0 {
		t.Fatalf("Versions() on empty store = %v, %v, want none", vs, err)
	}
	in := []store.Baseline{
		{Version: "v1", Metric: "p95", Values: []float64{10, 11.5, 12}, CreatedAt: t0},
		{Version: "v1", Metric: "cpu", Values: []float64{40}, CreatedAt: t0},
		{Version: "v2", Metric: "p95", Values: []float64{9}, CreatedAt: t0.Add(time.Hour)},
		{Version: "v0", Metric: "p95", Values: nil, CreatedAt: t0.Add(-time.Hour)},
	}
	for _, b := range in {
		if err := s.SaveBaseline(ctx, b); err != nil {
			t.Fatalf("SaveBaseline(%s/%s) = %v", b.Version, b.Metric, err)
		}
	}
	replaced := store.Baseline{Version: "v1", Metric: "p95", Values: []float64{13, 14}, CreatedAt: t0}
	if err := s.SaveBaseline(ctx, replaced); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		version string
		want    []store.Baseline
	}{
		{"v1", []store.Baseline{in[1], replaced}}, // by metric name
		{"v2", []store.Baseline{in[2]}},
		{"v0", []store.Baseline{{Version: "v0", Metric: "p95", Values: []float64{}, CreatedAt: in[3].CreatedAt}}},
	}
	for _, tc := range tests {
		got, err := s.Baselines(ctx, tc.version)
		if err != nil {
			t.Fatalf("Baselines(%s) = %v", tc.version, err)
		}
		if len(got) != len(tc.want) {
			t.Fatalf("Baselines(%s) = %+v, want %+v", tc.version, got, tc.want)
		}
		for i := range got {
			g, w := got[i], tc.want[i]
			if g.Version != w.Version || g.Metric != w.Metric || !g.CreatedAt.Equal(w.CreatedAt) ||
				len(g.Values) != len(w.Values) || (len(w.Values) > 0 && !reflect.DeepEqual(g.Values, w.Values)) {
				t.Errorf("Baselines(%s)[%d] = %+v, want %+v", tc.version, i, g, w)
			}
		}
	}
	if _, err := s.Baselines(ctx, "v9"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Baselines(v9) = %v, want ErrNotFound", err)
	}
	vs, err := s.Versions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"v2", "v1", "v0"}; !reflect.DeepEqual(vs, want) {
		t.Errorf("Versions() = %v, want %v", vs, want)
	}
	for _, bad := range []store.Baseline{{Metric: "p95"}, {Version: "v1"}, {Version: "v1", Metric: "x", Values: []float64{math.NaN()}}} {
		if err := s.SaveBaseline(ctx, bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("SaveBaseline(%+v) = %v, want ErrInvalid", bad, err)
		}
	}
}

func testAlerts(t *testing.T, s store.Store) {
	ctx := context.Background()
	t0 := base()
	if got, err := s.ListAlerts(ctx, 0); err != nil || len(got) != 0 {
		t.Fatalf("ListAlerts on empty store = %v, %v", got, err)
	}
	in := []store.Alert{
		{ID: "x1", Time: t0, Severity: "warning", Source: "engine", Title: "p95 above 1000 ms", Detail: "p95 1200 ms", Labels: map[string]string{"metric": "response_time_ms"}},
		{ID: "x2", Time: t0.Add(time.Minute), Severity: "critical", Source: "database", Title: "replication lag"},
		{ID: "x3", Time: t0.Add(2 * time.Minute), Severity: "info", Source: "engine", Title: "healthy"},
	}
	for _, a := range in {
		if err := s.SaveAlert(ctx, a); err != nil {
			t.Fatalf("SaveAlert(%s) = %v", a.ID, err)
		}
	}
	resolved := in[0]
	resolved.Resolved = true
	if err := s.SaveAlert(ctx, resolved); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		limit int
		want  []store.Alert
	}{
		{0, []store.Alert{in[2], in[1], resolved}},
		{2, []store.Alert{in[2], in[1]}},
		{10, []store.Alert{in[2], in[1], resolved}},
	}
	for _, tc := range tests {
		got, err := s.ListAlerts(ctx, tc.limit)
		if err != nil {
			t.Fatalf("ListAlerts(%d) = %v", tc.limit, err)
		}
		if len(got) != len(tc.want) {
			t.Fatalf("ListAlerts(%d) = %+v, want %+v", tc.limit, got, tc.want)
		}
		for i := range got {
			g, w := got[i], tc.want[i]
			gt, wt := g.Time, w.Time
			g.Time, w.Time = time.Time{}, time.Time{}
			if !gt.Equal(wt) || !reflect.DeepEqual(g, w) {
				t.Errorf("ListAlerts(%d)[%d] = %+v, want %+v", tc.limit, i, got[i], tc.want[i])
			}
		}
	}
	if err := s.SaveAlert(ctx, store.Alert{Title: "no id"}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("SaveAlert(no ID) = %v, want ErrInvalid", err)
	}
}

// testConcurrent writes and reads from several goroutines at once; run
// with -race it also checks the backend's own locking.
func testConcurrent(t *testing.T, s store.Store) {
	ctx := context.Background()
	t0 := base()
	const writers, batches, perBatch = 4, 5, 10
	var wg sync.WaitGroup
	errs := make(chan error, writers*batches*4)
	for w := range writers {
		wg.Go(func() {
			for b := range batches {
				batch := make([]metrics.Sample, perBatch)
				for i := range batch {
					batch[i] = sample("conc", float64(i), t0.Add(time.Duration(b*perBatch+i)*time.Millisecond),
						map[string]string{"writer": fmt.Sprint(w)})
				}
				if err := s.WriteSamples(ctx, batch); err != nil {
					errs <- err
				}
				if err := s.SaveAction(ctx, action(fmt.Sprintf("w%d-%d", w, b), "api", store.StatePending, t0)); err != nil {
					errs <- err
				}
			}
		})
		wg.Go(func() {
			for range batches {
				if _, err := s.QuerySamples(ctx, store.SampleQuery{Name: "conc", Limit: 20}); err != nil {
					errs <- err
				}
				if _, err := s.ListActions(ctx, store.ActionFilter{Module: "api"}); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent operation: %v", err)
	}
	if got := query(t, s, store.SampleQuery{Name: "conc"}); len(got) != writers*batches*perBatch {
		t.Errorf("got %d samples, want %d", len(got), writers*batches*perBatch)
	}
	for w := range writers {
		q := store.SampleQuery{Name: "conc", Labels: map[string]string{"writer": fmt.Sprint(w)}}
		if got := query(t, s, q); len(got) != batches*perBatch {
			t.Errorf("writer %d: got %d samples, want %d", w, len(got), batches*perBatch)
		}
	}
	acts, err := s.ListActions(ctx, store.ActionFilter{Module: "api"})
	if err != nil {
		t.Fatal(err)
	}
	if len(acts) != writers*batches {
		t.Errorf("got %d actions, want %d", len(acts), writers*batches)
	}
}

// testConcurrentNewSeries has writers create the same new series at once,
// each in a different order: a backend that locks series rows inside the
// batch's transaction deadlocks here.
func testConcurrentNewSeries(t *testing.T, s store.Store) {
	ctx := context.Background()
	t0 := base()
	const writers, series, rounds = 4, 8, 3
	var wg sync.WaitGroup
	errs := make(chan error, writers*rounds)
	for w := range writers {
		wg.Go(func() {
			for r := range rounds {
				batch := make([]metrics.Sample, series)
				for i := range batch {
					k := (i + w*3) % series // a different order per writer
					if w%2 == 1 {
						k = series - 1 - k
					}
					batch[i] = sample("fresh", float64(w), t0.Add(time.Duration(r)*time.Second),
						map[string]string{"round": fmt.Sprint(r), "k": fmt.Sprint(k)})
				}
				if err := s.WriteSamples(ctx, batch); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("WriteSamples: %v", err)
	}
	if got := query(t, s, store.SampleQuery{Name: "fresh"}); len(got) != writers*series*rounds {
		t.Errorf("got %d samples, want %d", len(got), writers*series*rounds)
	}
}

func testCanceled(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	t0 := base()
	calls := []struct {
		name string
		call func() error
	}{
		{"WriteSamples", func() error { return s.WriteSamples(ctx, []metrics.Sample{sample("x", 1, t0, nil)}) }},
		{"QuerySamples", func() error { _, err := s.QuerySamples(ctx, store.SampleQuery{Name: "x"}); return err }},
		{"SaveAction", func() error { return s.SaveAction(ctx, action("c", "api", store.StatePending, t0)) }},
		{"ListActions", func() error { _, err := s.ListActions(ctx, store.ActionFilter{}); return err }},
		{"Compact", func() error { return s.Compact(ctx, t0) }},
	}
	for _, c := range calls {
		if err := c.call(); err == nil {
			t.Errorf("%s with a canceled context = nil, want an error", c.name)
		}
	}
	if got := query(t, s, store.SampleQuery{Name: "x"}); len(got) != 0 {
		t.Errorf("a canceled write was stored: %s", fmtSamples(got))
	}
}

func testClosed(t *testing.T, s store.Store) {
	ctx := context.Background()
	if err := s.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close() = %v, want nil", err)
	}
	t0 := base()
	calls := []struct {
		name string
		call func() error
	}{
		{"WriteSamples", func() error { return s.WriteSamples(ctx, []metrics.Sample{sample("x", 1, t0, nil)}) }},
		{"QuerySamples", func() error { _, err := s.QuerySamples(ctx, store.SampleQuery{Name: "x"}); return err }},
		{"Compact", func() error { return s.Compact(ctx, t0) }},
		{"SaveAction", func() error { return s.SaveAction(ctx, store.Action{ID: "x"}) }},
		{"GetAction", func() error { _, err := s.GetAction(ctx, "x"); return err }},
		{"ListActions", func() error { _, err := s.ListActions(ctx, store.ActionFilter{}); return err }},
		{"SaveBaseline", func() error { return s.SaveBaseline(ctx, store.Baseline{Version: "v", Metric: "m"}) }},
		{"Baselines", func() error { _, err := s.Baselines(ctx, "v"); return err }},
		{"Versions", func() error { _, err := s.Versions(ctx); return err }},
		{"SaveAlert", func() error { return s.SaveAlert(ctx, store.Alert{ID: "x"}) }},
		{"ListAlerts", func() error { _, err := s.ListAlerts(ctx, 0); return err }},
	}
	for _, c := range calls {
		if err := c.call(); !errors.Is(err, store.ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", c.name, err)
		}
	}
}

func testState(t *testing.T, s store.Store) {
	ctx := context.Background()
	if _, err := s.GetState(ctx, "alert.dispatcher"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetState of a key never put = %v, want ErrNotFound", err)
	}
	for _, v := range [][]byte{[]byte(`{"v":1}`), []byte(`{"v":2, "bytes": "\u0000\xff"}`), {}} {
		if err := s.PutState(ctx, "alert.dispatcher", v); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetState(ctx, "alert.dispatcher")
		if err != nil || string(got) != string(v) {
			t.Errorf("GetState = %q, %v; want %q, the last put", got, err, v)
		}
	}
	if err := s.PutState(ctx, "other", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetState(ctx, "alert.dispatcher"); len(got) != 0 {
		t.Errorf("another key changed this one: %q", got)
	}
	if err := s.PutState(ctx, "", []byte("x")); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("PutState with no key = %v, want ErrInvalid", err)
	}
}
