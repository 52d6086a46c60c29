package regress

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/perfengine/perfengine/metrics"
	"github.com/perfengine/perfengine/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func openStore(t *testing.T) store.Store {
	t.Helper()
	st, err := store.OpenSQLite(filepath.Join(t.TempDir(), "perfengine.db"), store.Retention{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestSeriesFromStore(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	t0 := time.Now().Add(-time.Hour).Truncate(time.Second)
	var samples []metrics.Sample
	for i := range 60 {
		v := 100.0
		if i >= 30 {
			v = 200
		}
		samples = append(samples, metrics.Sample{Name: "response_time_ms", Value: v + float64(i%3), Time: t0.Add(time.Duration(i) * time.Second)})
	}
	if err := st.WriteSamples(ctx, samples); err != nil {
		t.Fatal(err)
	}
	s, err := SeriesFromStore(ctx, st, store.SampleQuery{Name: "response_time_ms", From: t0})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Values) != 60 || s.Times[30] != t0.Add(30*time.Second).UTC().Format(time.RFC3339Nano) {
		t.Fatalf("SeriesFromStore = %d values, time[30] %q", len(s.Values), s.Times[30])
	}
	cps, err := DetectSeries(s, DefaultDetectOptions())
	if err != nil || len(cps) != 1 || cps[0].Index != 30 || cps[0].Time != s.Times[30] {
		t.Errorf("DetectSeries(stored) = %+v, %v; want one change at 30", cps, err)
	}
	if _, err := SeriesFromStore(ctx, st, store.SampleQuery{Name: "nothing", From: t0}); !errors.Is(err, ErrEmptySeries) {
		t.Errorf("SeriesFromStore(unknown) = %v, want ErrEmptySeries", err)
	}
}

func TestDetectorBaselines(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	d, err := NewDetector(Options{Store: st, Clock: func() time.Time { return time.Unix(1, 0) }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.CompareVersions(ctx, "v1", "v2"); !errors.Is(err, ErrNoBaseline) {
		t.Fatalf("CompareVersions without baselines = %v, want ErrNoBaseline", err)
	}
	v1 := map[string][]float64{"response_time_ms": normals(1, 30, 100, 5), "error_rate": normals(2, 30, 0.01, 0.002)}
	v2 := map[string][]float64{"response_time_ms": normals(3, 30, 160, 5), "error_rate": normals(4, 30, 0.01, 0.002)}
	for v, data := range map[string]map[string][]float64{"v1": v1, "v2": v2} {
		if err := d.CreateBaseline(ctx, v, data); err != nil {
			t.Fatal(err)
		}
	}
	j, err := d.CompareVersions(ctx, "v1", "v2")
	if err != nil {
		t.Fatal(err)
	}
	// performance 0 of 1 passes, stability 1 of 1: (40·0 + 30·100)/70.
	if j.Verdict != Fail || j.Score > 43 || j.Score < 42 {
		t.Errorf("CompareVersions = %s %.1f, want fail at 42.9", j.Verdict, j.Score)
	}
	if err := d.CreateBaseline(ctx, "", v1); err == nil {
		t.Error("CreateBaseline(empty version) succeeded")
	}
	if err := d.CreateBaseline(ctx, "v3", map[string][]float64{"x": {1, math.NaN()}}); err != nil {
		t.Errorf("CreateBaseline with a missing value = %v, want it dropped", err)
	}
	if _, err := (&Detector{}).Versions(ctx); !errors.Is(err, ErrNoStore) {
		t.Errorf("Versions without store = %v, want ErrNoStore", err)
	}
	if ms := d.Metrics(ctx); len(ms) != 3 || ms[2].Value != j.Score {
		t.Errorf("Metrics = %+v, want three samples ending with the score", ms)
	}
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func TestRollbacker(t *testing.T) {
	ctx := context.Background()
	clk := &fakeClock{time.Unix(1_000_000, 0)}
	var calls []RollbackRequest
	act := actuatorFunc(func(_ context.Context, r RollbackRequest) error { calls = append(calls, r); return nil })
	st := openStore(t)
	r := NewRollbacker(RollbackOptions{Actuator: act, Cooldown: time.Hour, Consecutive: 3, Clock: clk.now, Store: st})

	// Two failures, a pass, three failures: only the last run triggers.
	steps := []struct {
		v    Verdict
		want bool
	}{{Fail, false}, {Fail, false}, {Pass, false}, {Fail, false}, {Fail, false}, {Fail, true}}
	for i, s := range steps {
		_, did, err := r.Evaluate(ctx, true, "v2", "v1", s.v, "latency regression")
		if err != nil || did != s.want {
			t.Fatalf("step %d: Evaluate(%s) = %v, %v; want %v", i, s.v, did, err, s.want)
		}
	}
	if len(calls) != 1 || calls[0].From != "v2" || !calls[0].Automatic {
		t.Fatalf("actuator calls %+v", calls)
	}
	// Within the cooldown nothing more happens, even manually.
	if _, err := r.TriggerManualRollback(ctx, "again", "v2", "v1"); !errors.Is(err, ErrCooldown) {
		t.Errorf("rollback within cooldown = %v, want ErrCooldown", err)
	}
	clk.t = clk.t.Add(2 * time.Hour)
	// v1 is where we went: failing there must not roll back further.
	for range 3 {
		if _, _, err := r.Evaluate(ctx, true, "v1", "v0", Fail, "x"); err != nil && !errors.Is(err, ErrRollbackLoop) {
			t.Fatal(err)
		}
	}
	if len(calls) != 1 {
		t.Errorf("automatic rollback from the rollback target happened: %+v", calls)
	}
	// Going back to v2 would loop too.
	if _, _, err := r.Evaluate(ctx, true, "v3", "v2", Fail, "x"); err != nil {
		t.Fatal(err)
	}
	r.Evaluate(ctx, true, "v3", "v2", Fail, "x") //nolint:errcheck
	if _, _, err := r.Evaluate(ctx, true, "v3", "v2", Fail, "x"); !errors.Is(err, ErrRollbackLoop) {
		t.Errorf("rollback to a version rolled back from = %v, want ErrRollbackLoop", err)
	}
	// A person may still decide.
	rec, err := r.TriggerManualRollback(ctx, "operator", "v1", "v0")
	if err != nil || rec.Outcome != RollbackExecuted || rec.Automatic {
		t.Errorf("manual rollback = %+v, %v", rec, err)
	}
	stored, err := st.ListActions(ctx, store.ActionFilter{Module: "regression"})
	if got := len(r.Records()); got != 2 || err != nil || len(stored) != 2 || stored[0].Kind != "rollback" {
		t.Errorf("records %d, stored %+v (%v), want 2 each", got, stored, err)
	}
}

func TestRollbackDryRun(t *testing.T) {
	called := false
	r := NewRollbacker(RollbackOptions{DryRun: true, Actuator: actuatorFunc(func(context.Context, RollbackRequest) error { called = true; return nil })})
	rec, err := r.TriggerManualRollback(context.Background(), "test", "v2", "v1")
	if err != nil || rec.Outcome != RollbackDryRun || !rec.DryRun || called {
		t.Errorf("dry run = %+v, %v, actuator called %v", rec, err, called)
	}
	if _, err := NewRollbacker(RollbackOptions{}).TriggerManualRollback(context.Background(), "x", "v1", "v1"); err == nil {
		t.Error("rollback to the same version succeeded")
	}
}

type actuatorFunc func(context.Context, RollbackRequest) error

func (f actuatorFunc) Rollback(ctx context.Context, r RollbackRequest) error { return f(ctx, r) }

func TestCommandActuator(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh on PATH")
	}
	out := filepath.Join(t.TempDir(), "env")
	a := CommandActuator{Command: []string{sh, "-c", `echo "$PERFENGINE_ROLLBACK_FROM>$PERFENGINE_ROLLBACK_TO:$PERFENGINE_ROLLBACK_REASON" > "$OUT"`}, Env: []string{"OUT=" + out}}
	if err := a.Rollback(context.Background(), RollbackRequest{From: "v2", To: "v1", Reason: "slow"}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(out)
	if strings.TrimSpace(string(got)) != "v2>v1:slow" {
		t.Errorf("command saw %q", got)
	}
	bad := CommandActuator{Command: []string{sh, "-c", "echo broken >&2; exit 3"}}
	if err := bad.Rollback(context.Background(), RollbackRequest{}); err == nil || !strings.Contains(err.Error(), "broken") {
		t.Errorf("failing command error = %v, want its output", err)
	}
}

func TestWebhookActuator(t *testing.T) {
	var got RollbackRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := json.NewDecoder(r.Body).Decode(&got); err != nil || r.Header.Get("X-Token") != "t" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if got.From == "fail" {
			http.Error(w, "deploy locked", http.StatusConflict)
		}
	}))
	defer srv.Close()
	a := WebhookActuator{URL: srv.URL, Client: srv.Client(), Header: http.Header{"X-Token": {"t"}}}
	if err := a.Rollback(context.Background(), RollbackRequest{From: "v2", To: "v1", Automatic: true}); err != nil {
		t.Fatal(err)
	}
	if got.From != "v2" || got.To != "v1" || !got.Automatic {
		t.Errorf("webhook got %+v", got)
	}
	if err := a.Rollback(context.Background(), RollbackRequest{From: "fail", To: "v1"}); err == nil || !strings.Contains(err.Error(), "deploy locked") {
		t.Errorf("webhook error = %v, want the server's reason", err)
	}
}

func TestQueryRange(t *testing.T) {
	serve := func(file string, status int) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/api/v1/query_range" || r.FormValue("query") == "" || r.FormValue("step") != "15" {
				http.Error(w, "unexpected request "+r.URL.String(), http.StatusTeapot)
				return
			}
			f, _ := os.Open(filepath.Join("testdata", "prometheus", file))
			defer f.Close()
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			io.Copy(w, f) //nolint:errcheck
		}))
	}
	ok := serve("query_range.json", http.StatusOK)
	defer ok.Close()
	q := RangeQuery{Query: "http_request_duration_p95_ms", Start: time.Unix(1764201600, 0), End: time.Unix(1764201660, 0), Step: 15 * time.Second}
	ss, err := QueryRange(context.Background(), ok.Client(), ok.URL, q)
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != 2 || ss[0].Name != `http_request_duration_p95_ms{instance="10.0.0.1:8080",job="api"}` || len(ss[0].Values) != 5 {
		t.Fatalf("QueryRange = %+v", ss)
	}
	s := ss[0]
	if s.Values[0] != 101.5 || s.Values[4] != 150 || s.Values[2] == s.Values[2] || s.Values[3] == s.Values[3] {
		t.Errorf("values %v, want NaN and +Inf as missing", s.Values)
	}
	if s.Times[0] != "2025-11-27T00:00:00Z" || s.Times[4] != "2025-11-27T00:01:00.5Z" {
		t.Errorf("times %v", s.Times)
	}
	bad := serve("bad_data.json", http.StatusBadRequest)
	defer bad.Close()
	if _, err := QueryRange(context.Background(), bad.Client(), bad.URL, q); err == nil || !strings.Contains(err.Error(), "bad_data: invalid parameter") {
		t.Errorf("QueryRange(bad) error = %v", err)
	}
	if _, err := QueryRange(context.Background(), nil, ok.URL, RangeQuery{}); err == nil {
		t.Error("QueryRange(empty query) succeeded")
	}
}

func FuzzParsePromMatrix(f *testing.F) {
	for _, name := range []string{"query_range.json", "bad_data.json"} {
		data, err := os.ReadFile(filepath.Join("testdata", "prometheus", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[["x","1"],[1,2]]}]}}`))
	f.Add([]byte(`{"status":"success","data":{"resultType":"vector","result":[]}}`))
	var body atomic.Pointer[[]byte]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(*body.Load()) //nolint:errcheck
	}))
	defer srv.Close()
	c, err := NewPromClient(srv.URL, srv.Client())
	if err != nil {
		f.Fatal(err)
	}
	q := RangeQuery{Query: "up", Start: time.Unix(0, 0), End: time.Unix(60, 0), Step: 15 * time.Second}
	f.Fuzz(func(t *testing.T, data []byte) {
		body.Store(&data)
		ss, _, err := c.QueryRange(context.Background(), q)
		if err != nil {
			return
		}
		for _, s := range ss {
			if len(s.Times) != len(s.Values) {
				t.Fatalf("%d times for %d values", len(s.Times), len(s.Values))
			}
		}
	})
}
