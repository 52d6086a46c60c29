package dashboard_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/perfengine/perfengine/dashboard"
	"github.com/perfengine/perfengine/metrics"
)

// TestSeriesFromStore fills the engine's store with an hour of two
// targets' samples and reads them back through /api/v1/series.
func TestSeriesFromStore(t *testing.T) {
	f := newFixture(t, dashboard.Options{})
	now := time.Now().UTC().Truncate(time.Minute)
	var samples []metrics.Sample
	for i := range 360 { // every 10 s for an hour
		at := now.Add(-time.Hour + time.Duration(i)*10*time.Second)
		for j, target := range []string{"web", "api"} {
			samples = append(samples, metrics.Sample{Name: "latency_p95_ms", Value: float64(100*(j+1) + i%2), Time: at, Labels: map[string]string{"target": target}})
		}
	}
	if err := f.eng.Store().WriteSamples(context.Background(), samples); err != nil {
		t.Fatal(err)
	}
	from := url.QueryEscape(now.Add(-time.Hour).Format(time.RFC3339))
	to := url.QueryEscape(now.Format(time.RFC3339))

	r := f.do(t, "GET", "/api/v1/series?name=latency_p95_ms&target=web&step=1m&from="+from+"&to="+to, nil, "")
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	body := decode[dashboard.SeriesBody](t, r.body)
	if len(body.Series) != 1 || body.Series[0].Labels["target"] != "web" {
		t.Fatalf("series %+v, want web's only", body.Series)
	}
	pts := body.Series[0].Points
	if len(pts) != 60 || body.StepMs != 60_000 {
		t.Fatalf("%d points with step %d ms, want 60 one-minute means", len(pts), body.StepMs)
	}
	for _, p := range pts {
		if p[1] != 100.5 { // six samples a minute, alternating 100 and 101
			t.Fatalf("point %v: want the mean 100.5", p)
		}
	}
	if first := time.UnixMilli(int64(pts[0][0])).UTC(); !first.Equal(now.Add(-time.Hour)) {
		t.Errorf("first point at %s, want %s", first, now.Add(-time.Hour))
	}

	r = f.do(t, "GET", "/api/v1/series?name=latency_p95_ms&from="+from+"&to="+to, nil, "")
	if body := decode[dashboard.SeriesBody](t, r.body); len(body.Series) != 2 || len(body.Series[0].Points) > 1000 {
		t.Errorf("without a target: %d series, want both targets within 1000 points each", len(body.Series))
	}
	for _, bad := range []string{"", "name=x&step=1ms&from=-24h", "name=x&from=tomorrow", "name=x&from=-1h&to=-2h", "name=x&step=-5s"} {
		r := f.do(t, "GET", "/api/v1/series?"+bad, nil, "")
		if r.status != http.StatusBadRequest || !strings.Contains(r.body, `"invalid"`) {
			t.Errorf("?%s = %d %s, want 400 invalid", bad, r.status, r.body)
		}
	}
}

func TestTargetsWithoutWatcher(t *testing.T) {
	f := newFixture(t, dashboard.Options{})
	if r := f.do(t, "GET", "/api/v1/targets", nil, ""); r.status != 200 || !strings.Contains(r.body, `"targets":[]`) {
		t.Errorf("/api/v1/targets = %d %s, want an empty list", r.status, r.body)
	}
	if r := f.do(t, "GET", "/api/v1/targets/web/summary", nil, ""); r.status != http.StatusNotFound {
		t.Errorf("unknown target = %d %s, want 404", r.status, r.body)
	}
}

func TestParseSeriesQuery(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		query      string
		from, to   time.Time
		step       time.Duration
		wantErrSub string
	}{
		{query: "name=cpu_percent", from: now.Add(-time.Hour), to: now, step: 7200 * time.Millisecond},
		{query: "name=cpu_percent&from=-15m&step=15s", from: now.Add(-15 * time.Minute), to: now, step: 15 * time.Second},
		{query: "name=x&from=1796554800&to=now", from: now.Add(-time.Hour), to: now, step: 7200 * time.Millisecond},
		{query: "name=x&from=2026-12-06T11:00:00Z&to=2026-12-06T11:30:00Z&step=1m", from: now.Add(-time.Hour), to: now.Add(-30 * time.Minute), step: time.Minute},
		{query: "from=-1h", wantErrSub: "name is required"},
		{query: "name=x&from=-7d", wantErrSub: "offset"},
		{query: "name=x&from=-1h&to=-2h", wantErrSub: "must be before"},
		{query: "name=x&from=-24h&step=1s", wantErrSub: "at most 1000"},
		{query: "name=x&from=1e300", wantErrSub: "not RFC 3339"},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			v, _ := url.ParseQuery(tc.query)
			q, err := dashboard.ParseSeriesQuery(v, now)
			if tc.wantErrSub != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErrSub) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErrSub)
				}
				return
			}
			if err != nil || !q.From.Equal(tc.from) || !q.To.Equal(tc.to) || q.Step != tc.step {
				t.Errorf("= %s..%s step %s, %v; want %s..%s step %s", q.From, q.To, q.Step, err, tc.from, tc.to, tc.step)
			}
		})
	}
}

func FuzzParseSeriesQuery(f *testing.F) {
	for _, s := range []string{"name=x", "name=x&from=-1h&step=1s", "name=x&from=1e9&to=now", "name=x&from=2026-01-01T00:00:00Z", "name=&step=0"} {
		f.Add(s)
	}
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := dashboard.ParseSeriesQuery(v, now)
		if err != nil {
			return
		}
		if !q.From.Before(q.To) || q.Step <= 0 || q.To.Sub(q.From)/q.Step > 1000 {
			t.Fatalf("%q parsed to an unbounded query %s..%s step %s", raw, q.From, q.To, q.Step)
		}
		_ = fmt.Sprint(q)
	})
}
