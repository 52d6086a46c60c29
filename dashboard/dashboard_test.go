package dashboard_test

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/perfengine/perfengine"
	"github.com/perfengine/perfengine/dashboard"
	"github.com/perfengine/perfengine/memopt"
	"github.com/perfengine/perfengine/metrics"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const token = "s3cret-token"

// knob is a real module with one safe, undoable action, so approve and undo
// go through the engine's whole path.
type knob struct{ applied, undone atomic.Int32 }

func (k *knob) Name() string { return "knob" }
func (k *knob) Collect(ctx context.Context) ([]metrics.Sample, error) {
	return []metrics.Sample{{Name: "knob_position", Value: float64(k.applied.Load()), Unit: metrics.UnitCount, Time: time.Now()}}, nil
}
func (k *knob) Recommend(ctx context.Context, s perfengine.Snapshot) ([]perfengine.Action, error) {
	return []perfengine.Action{{Kind: "turn_knob", Target: "knob", Description: "turn the knob", Risk: perfengine.RiskSafe,
		Expect: &perfengine.Expectation{Series: "knob_position"}}}, nil
}
func (k *knob) Apply(ctx context.Context, a perfengine.Action) (perfengine.Result, error) {
	k.applied.Add(1)
	return perfengine.Result{Message: "knob turned"}, nil
}
func (k *knob) Undo(ctx context.Context, a perfengine.Action) error {
	k.undone.Add(1)
	return nil
}

type fixture struct {
	srv    *httptest.Server
	eng    *perfengine.Engine
	knob   *knob
	action string // the pending action's ID
}

// newFixture starts a real engine (SQLite store in a temp dir) with the knob
// module and serves the dashboard over loopback. AutoOptimize is off so the
// knob's action waits for approval; the interval is long so only the first
// cycle, which Start runs, happens during a test.
func newFixture(t *testing.T, opts dashboard.Options, mutate ...func(*perfengine.Config)) *fixture {
	t.Helper()
	cfg := perfengine.DefaultConfig()
	cfg.Store.DataDir = t.TempDir()
	cfg.AutoOptimize = false
	cfg.MonitoringInterval = perfengine.Duration(time.Hour)
	for _, m := range mutate {
		m(&cfg)
	}
	reg := prometheus.NewRegistry()
	k := &knob{}
	eng, err := perfengine.New(cfg, perfengine.WithRegisterer(reg), perfengine.WithModules(k))
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := eng.Stop(context.Background()); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	if opts.Gatherer == nil {
		opts.Gatherer = reg
	}
	srv := httptest.NewServer(dashboard.New(eng, opts))
	t.Cleanup(srv.Close)
	f := &fixture{srv: srv, eng: eng, knob: k}
	if p := eng.Actions(perfengine.ActionPending); len(p) == 1 {
		f.action = p[0].ID
	} else {
		t.Fatalf("pending actions after Start = %v, want the knob's one", p)
	}
	return f
}

type reply struct {
	status int
	header http.Header
	body   string
}

func (f *fixture) do(t *testing.T, method, path string, header map[string]string, body string) reply {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	c := *f.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{resp.StatusCode, resp.Header, string(b)}
}

func decode[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("decode %T from %.300s: %v", v, s, err)
	}
	return v
}

type errBody struct {
	Error dashboard.Error `json:"error"`
}

func TestReadEndpoints(t *testing.T) {
	f := newFixture(t, dashboard.Options{Token: token})
	tests := []struct {
		path        string
		status      int
		contentType string
		check       func(t *testing.T, body string)
	}{
		{"/healthz", 200, "application/json", func(t *testing.T, body string) {
			h := decode[dashboard.Health](t, body)
			if !h.OK || !slices.Contains([]perfengine.Status{perfengine.StatusHealthy, perfengine.StatusWarning, perfengine.StatusCritical}, h.Status) {
				t.Errorf("healthz = %+v", h)
			}
		}},
		{"/metrics", 200, "text/plain", func(t *testing.T, body string) {
			for _, want := range []string{"perfengine_engine_cycles_total 1", "perfengine_" + metrics.Goroutines, "perfengine_knob_position"} {
				if !strings.Contains(body, want) {
					t.Errorf("/metrics lacks %q", want)
				}
			}
		}},
		{"/api/v1/summary", 200, "application/json", func(t *testing.T, body string) {
			s := decode[map[string]json.RawMessage](t, body)
			var st perfengine.Status
			if err := json.Unmarshal(s["status"], &st); err != nil || st == "" {
				t.Errorf("summary status = %s (%v)", s["status"], err)
			}
			sum := decode[perfengine.Summary](t, body)
			if len(sum.Recommendations) != 1 || sum.Recommendations[0].ActionID == "" {
				t.Errorf("summary recommendations = %+v, want the knob's", sum.Recommendations)
			}
		}},
		{"/api/v1/metrics", 200, "application/json", func(t *testing.T, body string) {
			m := decode[struct{ Metrics []metrics.Sample }](t, body).Metrics
			if len(m) < 5 {
				t.Fatalf("%d metrics, want the runtime module's and the knob's", len(m))
			}
			if !slices.IsSortedFunc(m, func(a, b metrics.Sample) int { return strings.Compare(a.Key(), b.Key()) }) {
				t.Error("metrics not sorted by key")
			}
		}},
		{"/api/v1/actions", 200, "application/json", func(t *testing.T, body string) {
			a := decode[dashboard.ActionsBody](t, body).Actions
			if len(a) != 1 || a[0].State != perfengine.ActionPending || a[0].Module != "knob" {
				t.Errorf("actions = %+v", a)
			}
		}},
		{"/api/v1/actions?state=pending,failed", 200, "application/json", func(t *testing.T, body string) {
			if a := decode[dashboard.ActionsBody](t, body).Actions; len(a) != 1 {
				t.Errorf("pending actions = %+v", a)
			}
		}},
		{"/api/v1/actions?state=applied", 200, "application/json", func(t *testing.T, body string) {
			if a := decode[dashboard.ActionsBody](t, body).Actions; len(a) != 0 {
				t.Errorf("applied actions = %+v, want none", a)
			}
		}},
		{"/api/v1/actions?state=done", 400, "application/json", func(t *testing.T, body string) {
			if e := decode[errBody](t, body).Error; e.Code != "invalid" || !strings.Contains(e.Message, "pending, applied") {
				t.Errorf("error = %+v", e)
			}
		}},
		{"/api/v1/debug", 200, "application/json", func(t *testing.T, body string) {
			d := decode[perfengine.DebugInfo](t, body)
			var names []string
			for _, m := range d.Modules {
				names = append(names, m.Name)
			}
			if d.Cycles != 1 || !slices.Contains(names, "runtime") || !slices.Contains(names, "knob") || d.Config.MonitoringInterval.D() != time.Hour {
				t.Errorf("debug = cycles %d, modules %v, interval %v; want 1 cycle, runtime and knob, 1h", d.Cycles, names, d.Config.MonitoringInterval)
			}
			if strings.Contains(body, token) {
				t.Error("debug output contains the token")
			}
		}},
		{"/api/v1/nope", 404, "application/json", func(t *testing.T, body string) {
			if e := decode[errBody](t, body).Error; e.Code != "not_found" {
				t.Errorf("error = %+v", e)
			}
		}},
		{"/", 200, "text/html", func(t *testing.T, body string) {
			for _, want := range []string{`id="status" class="badge `, "Key metrics", "turn the knob", `action="api/v1/actions/` + f.action + `/approve"`, "knob_position", `src="static/app.js"`} {
				if !strings.Contains(body, want) {
					t.Errorf("status page lacks %q", want)
				}
			}
		}},
		{"/static/app.js", 200, "text/javascript", nil},
		{"/static/style.css", 200, "text/css", nil},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			r := f.do(t, "GET", tc.path, nil, "")
			if r.status != tc.status {
				t.Fatalf("GET %s = %d, want %d: %.300s", tc.path, r.status, tc.status, r.body)
			}
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, tc.contentType) {
				t.Errorf("GET %s Content-Type = %q, want %s", tc.path, ct, tc.contentType)
			}
			if r.header.Get("Content-Security-Policy") == "" {
				t.Errorf("GET %s without Content-Security-Policy", tc.path)
			}
			if tc.check != nil {
				tc.check(t, r.body)
			}
		})
	}
}

// TestApproveUndo walks one action through its life over HTTP; the steps
// depend on each other, so they run in order.
func TestApproveUndo(t *testing.T) {
	f := newFixture(t, dashboard.Options{Token: token})
	bearer := map[string]string{"Authorization": "Bearer " + token}
	jsonBearer := map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/json"}
	approve := "/api/v1/actions/" + f.action + "/approve"
	undo := "/api/v1/actions/" + f.action + "/undo"
	steps := []struct {
		name   string
		path   string
		header map[string]string
		body   string
		status int
		code   string
		state  perfengine.ActionState
	}{
		{"no token", approve, nil, "", 401, "unauthorized", ""},
		{"wrong token", approve, map[string]string{"Authorization": "Bearer nope"}, "", 401, "unauthorized", ""},
		{"basic auth", approve, map[string]string{"Authorization": "Basic czNjcmV0"}, "", 401, "unauthorized", ""},
		{"bad body", approve, jsonBearer, `{"why":"x"}`, 400, "invalid", ""},
		{"two objects", approve, jsonBearer, `{}{}`, 400, "invalid", ""},
		{"huge body", approve, jsonBearer, `{"reason":"` + strings.Repeat("x", 5000) + `"}`, 413, "too_large", ""},
		{"unknown action", "/api/v1/actions/nope/approve", bearer, "", 404, "not_found", ""},
		{"undo a pending action", undo, bearer, "", 409, "conflict", ""},
		{"approve", approve, jsonBearer, `{"reason":"load test shows it helps"}`, 200, "", perfengine.ActionApplied},
		{"approve twice", approve, bearer, "", 409, "conflict", ""},
		{"undo", undo, bearer, "", 200, "", perfengine.ActionUndone},
		{"undo twice", undo, bearer, "", 409, "conflict", ""},
	}
	for _, s := range steps {
		r := f.do(t, "POST", s.path, s.header, s.body)
		if r.status != s.status {
			t.Fatalf("%s: POST %s = %d, want %d: %s", s.name, s.path, r.status, s.status, r.body)
		}
		if s.code != "" {
			if e := decode[errBody](t, r.body).Error; e.Code != s.code || e.Message == "" {
				t.Errorf("%s: error = %+v, want code %s", s.name, e, s.code)
			}
			if s.status == 401 && r.header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s: 401 without WWW-Authenticate", s.name)
			}
		} else if a := decode[perfengine.Action](t, r.body); a.State != s.state || a.ID != f.action {
			t.Errorf("%s: action = %s %s, want %s %s", s.name, a.ID, a.State, f.action, s.state)
		}
	}
	if f.knob.applied.Load() != 1 || f.knob.undone.Load() != 1 {
		t.Errorf("module saw %d applies and %d undos, want 1 and 1", f.knob.applied.Load(), f.knob.undone.Load())
	}
}

func TestApproveFromForm(t *testing.T) {
	f := newFixture(t, dashboard.Options{Token: token})
	form := url.Values{"token": {token}, "reason": {"from the page"}}.Encode()
	hdr := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	r := f.do(t, "POST", "/api/v1/actions/"+f.action+"/approve", hdr, form)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "../../../../" {
		t.Fatalf("form approve = %d to %q, want 303 to the page, relative: %s", r.status, r.header.Get("Location"), r.body)
	}
	if a := f.eng.Actions(perfengine.ActionApplied); len(a) != 1 {
		t.Errorf("applied actions = %v", a)
	}
	// The page now offers undo instead of approve.
	page := f.do(t, "GET", "/", nil, "").body
	if !strings.Contains(page, `action="api/v1/actions/`+f.action+`/undo"`) {
		t.Error("status page offers no undo for the applied action")
	}
	bad := url.Values{"token": {"wrong"}}.Encode()
	if r := f.do(t, "POST", "/api/v1/actions/"+f.action+"/undo", hdr, bad); r.status != 401 {
		t.Errorf("form undo with a wrong token = %d, want 401", r.status)
	}
}

func TestNoTokenDisablesMutations(t *testing.T) {
	f := newFixture(t, dashboard.Options{})
	for _, verb := range []string{"approve", "undo"} {
		r := f.do(t, "POST", "/api/v1/actions/"+f.action+"/"+verb, map[string]string{"Authorization": "Bearer anything"}, "")
		if r.status != 403 {
			t.Fatalf("%s without a server token = %d, want 403", verb, r.status)
		}
		if e := decode[errBody](t, r.body).Error; e.Code != "forbidden" || !strings.Contains(e.Message, "PERFENGINE_TOKEN") {
			t.Errorf("%s error = %+v", verb, e)
		}
	}
	if page := f.do(t, "GET", "/", nil, "").body; strings.Contains(page, "<form") || !strings.Contains(page, "Approve and undo are disabled") {
		t.Error("status page without a token shows forms or no notice")
	}
	if a := f.eng.Actions(perfengine.ActionPending); len(a) != 1 {
		t.Errorf("pending actions = %v, want the knob's untouched", a)
	}
}

func TestDebugRedactsSecrets(t *testing.T) {
	f := newFixture(t, dashboard.Options{Token: token}, func(c *perfengine.Config) {
		c.Database.DSN = "postgres://app:hunter2@127.0.0.1:5432/shop"
		c.Alerts.WebhookURL = "https://hooks.example.com/services/T000?key=abc123"
	})
	body := f.do(t, "GET", "/api/v1/debug", nil, "").body
	for _, secret := range []string{"hunter2", "abc123"} {
		if strings.Contains(body, secret) {
			t.Errorf("debug output contains %q", secret)
		}
	}
	if !strings.Contains(body, "postgres://app:xxxxx@127.0.0.1:5432/shop") {
		t.Errorf("debug output lacks the redacted DSN: %.500s", body)
	}
}

func TestNoGathererNoMetrics(t *testing.T) {
	cfg := perfengine.DefaultConfig()
	cfg.Store.DataDir = t.TempDir()
	eng, err := perfengine.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(dashboard.New(eng, dashboard.Options{}))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("/metrics without a gatherer = %d, want 404", resp.StatusCode)
	}
	// Before Start the engine still answers, from its initial summary.
	resp, err = srv.Client().Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if h := decode[dashboard.Health](t, mustRead(t, resp.Body)); resp.StatusCode != 200 || h.Status != perfengine.StatusHealthy {
		t.Errorf("/healthz before Start = %d %+v", resp.StatusCode, h)
	}
}

func mustRead(t *testing.T, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseActionRequest(t *testing.T) {
	tests := []struct {
		contentType, body string
		want              dashboard.ActionRequest
		err               string
	}{
		{"", "", dashboard.ActionRequest{}, ""},
		{"application/json", "  \n", dashboard.ActionRequest{}, ""},
		{"application/json; charset=utf-8", `{"reason":"why not"}`, dashboard.ActionRequest{Reason: "why not"}, ""},
		{"application/x-www-form-urlencoded", "token=t&reason=r", dashboard.ActionRequest{Reason: "r", Token: "t", Form: true}, ""},
		{"application/x-www-form-urlencoded", "extra=1", dashboard.ActionRequest{}, `form field "extra"`},
		{"application/x-www-form-urlencoded", "reason=%zz", dashboard.ActionRequest{}, "form body"},
		{"application/json", `{"reason":1}`, dashboard.ActionRequest{}, "JSON object"},
		{"application/json", `{"reason":"a\nb"}`, dashboard.ActionRequest{}, "printable"},
		{"application/json", `{"reason":"` + strings.Repeat("é", 501) + `"}`, dashboard.ActionRequest{}, "at most 500"},
		{"text/plain", "hello", dashboard.ActionRequest{}, "must be application/json"},
		{"text/", "", dashboard.ActionRequest{}, "content type"},
	}
	for _, tc := range tests {
		got, err := dashboard.ParseActionRequest(tc.contentType, []byte(tc.body))
		switch {
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("ParseActionRequest(%q, %q) = %+v, %v; want %+v", tc.contentType, tc.body, got, err, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("ParseActionRequest(%q, %q) = %v, want error containing %q", tc.contentType, tc.body, err, tc.err)
		}
	}
}

func FuzzParseActionRequest(f *testing.F) {
	f.Add("application/json", []byte(`{"reason":"because"}`))
	f.Add("application/x-www-form-urlencoded", []byte("token=t&reason=r"))
	f.Add("", []byte(""))
	f.Add("application/json", []byte(`{"reason":"\u0000"}`))
	f.Add("multipart/form-data; boundary=x", []byte("--x--"))
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		req, err := dashboard.ParseActionRequest(contentType, body)
		if err != nil {
			return
		}
		if strings.ContainsAny(req.Reason, "\n\r\x00") || len([]rune(req.Reason)) > 500 {
			t.Fatalf("ParseActionRequest(%q, %q) accepted reason %q", contentType, body, req.Reason)
		}
		if req.Token != "" && !req.Form {
			t.Fatalf("ParseActionRequest(%q, %q) took a token from a JSON body", contentType, body)
		}
	})
}

// BenchmarkSummary measures GET /api/v1/summary end to end in process: the
// engine's in-memory summary plus JSON encoding.
//
//	go test -run '^$' -bench Summary -benchtime 2000x ./dashboard/
func BenchmarkSummary(b *testing.B) {
	cfg := perfengine.DefaultConfig()
	cfg.Store.DataDir = b.TempDir()
	cfg.MonitoringInterval = perfengine.Duration(time.Hour)
	eng, err := perfengine.New(cfg, perfengine.WithModules(&knob{}))
	if err != nil {
		b.Fatal(err)
	}
	if err := eng.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer eng.Stop(context.Background())
	h := dashboard.New(eng, dashboard.Options{})
	for name, path := range map[string]string{"api": "/api/v1/summary", "page": "/"} {
		b.Run(name, func(b *testing.B) {
			req := httptest.NewRequest("GET", path, nil)
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != 200 {
					b.Fatalf("GET %s = %d", path, rec.Code)
				}
			}
		})
	}
}

func TestCheckExposure(t *testing.T) {
	tests := []struct {
		addr, token string
		ok          bool
	}{
		{"127.0.0.1:7070", "", true},
		{"[::1]:7070", "", true},
		{"localhost:7070", "", true},
		{"127.0.0.2:0", "", true},
		{"0.0.0.0:7070", "", false},
		{":7070", "", false},
		{"192.0.2.1:7070", "", false},
		{"example.com:7070", "", false},
		{"0.0.0.0:7070", "t", true},
		{"nope", "", false},
	}
	for _, tc := range tests {
		err := dashboard.CheckExposure(tc.addr, tc.token)
		if (err == nil) != tc.ok {
			t.Errorf("CheckExposure(%q, %q) = %v, want ok %v", tc.addr, tc.token, err, tc.ok)
		}
	}
}

// TestPageSaysWhatHoldsTheStatus: the header names the threshold (or
// finding) that holds the status beside its badge.
func TestPageSaysWhatHoldsTheStatus(t *testing.T) {
	f := newFixture(t, dashboard.Options{Token: token}, func(c *perfengine.Config) {
		c.Thresholds.Memory = perfengine.Threshold{Warning: 1e-9, Critical: 1}
		c.Modules.Memory = false // it would tune GOGC for the pressure
	})
	r := f.do(t, "GET", "/", nil, "")
	i := strings.Index(r.body, `<span id="causes">`)
	if r.status != 200 || i < 0 || !strings.Contains(r.body[i:min(len(r.body), i+200)], "memory_usage_ratio") {
		t.Errorf("GET / = %d, want the memory threshold named beside the status:\n%.2000s", r.status, r.body)
	}
}

// TestPageShowsWhatAnActionDid: an applied action's effect column shows
// its verification, measuring until the window after it fills.
func TestPageShowsWhatAnActionDid(t *testing.T) {
	f := newFixture(t, dashboard.Options{Token: token})
	if r := f.do(t, "POST", "/api/v1/actions/"+f.action+"/approve", map[string]string{"Authorization": "Bearer " + token}, ""); r.status != 200 {
		t.Fatalf("approve = %d: %s", r.status, r.body)
	}
	r := f.do(t, "GET", "/", nil, "")
	i := strings.Index(r.body, `<td class="effect">`)
	if i < 0 || !strings.Contains(r.body[i:min(len(r.body), i+200)], "measuring</span> knob_position 0") {
		t.Errorf("GET / effect column:\n%.3000s", r.body[max(i, 0):])
	}
}

// TestPageShowsTheRelease: the running version, where it came from, how
// far it is from its own baseline and why no rollback is proposed.
func TestPageShowsTheRelease(t *testing.T) {
	f := newFixture(t, dashboard.Options{Token: token}, func(c *perfengine.Config) { c.Version = "v1.2.<3>" })
	r := f.do(t, "GET", "/", nil, "")
	i := strings.Index(r.body, `<table id="releases">`)
	if r.status != 200 || i < 0 {
		t.Fatalf("GET / = %d, no releases table:\n%.3000s", r.status, r.body)
	}
	row := r.body[i:min(len(r.body), i+1200)]
	if f.eng.Summary().Release.Rollback == "" {
		t.Fatal("the summary says nothing of a rollback")
	}
	for _, want := range []string{"this service", "v1.2.&lt;3&gt; <span class=\"muted\">(config)</span>", "clean so far", html.EscapeString(f.eng.Summary().Release.Rollback)} {
		if !strings.Contains(row, want) {
			t.Errorf("releases table lacks %q:\n%s", want, row)
		}
	}
}

// TestPageShowsTheLeaks: the memory panel lists a confirmed leak with
// what its finding says line by line, and the memory figures; the leak is
// not listed again among the general findings.
func TestPageShowsTheLeaks(t *testing.T) {
	cfg := perfengine.DefaultConfig()
	cfg.Store.DataDir = t.TempDir()
	cfg.AutoOptimize = false
	cfg.MonitoringInterval = perfengine.Duration(time.Hour)
	mem, err := perfengine.NewMemoryModuleFromConfig(perfengine.MemoryConfig{DisableProfiles: true}, cfg.Thresholds)
	if err != nil {
		t.Fatal(err)
	}
	// Five minutes of a live heap growing 2 MiB a minute, up to now.
	start := time.Now().Add(-5 * time.Minute)
	for i := range 300 {
		live := 64<<20 + float64(i)*(2<<20)/60 + float64((i*7919)%11)*65536
		mem.Optimizer().Observe(memopt.Sample{Time: start.Add(time.Duration(i) * time.Second), GCCycles: uint64(i + 1),
			HeapLive: uint64(live), Goroutines: 40, MemoryLimit: math.MaxInt64})
	}
	eng, err := perfengine.New(cfg, perfengine.WithRegisterer(prometheus.NewRegistry()), perfengine.WithModules(mem))
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer eng.Stop(context.Background())
	srv := httptest.NewServer(dashboard.New(eng, dashboard.Options{Token: token}))
	defer srv.Close()

	res, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	body := string(b)
	i := strings.Index(body, `<section id="memory">`)
	if i < 0 {
		t.Fatalf("GET / has no memory panel:\n%.3000s", body)
	}
	panel := body[i : i+strings.Index(body[i:], "</section>")]
	for _, want := range []string{`<table id="leaks">`, "heap leak: live heap grows 2.", "<li><code>" + html.EscapeString("profiling disabled"), `data-metric="memory_leaks"`} {
		if !strings.Contains(panel, want) {
			t.Errorf("memory panel lacks %q:\n%s", want, panel)
		}
	}
	if j := strings.Index(body, "<h2>Findings</h2>"); j < 0 || strings.Contains(body[j:], "heap leak:") {
		t.Errorf("the leak is listed again among the findings")
	}
}
