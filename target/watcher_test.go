package target

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestWatcherDeadAndSlowTargetsDoNotStallOthers(t *testing.T) {
	svc := newService(t, false)
	svc.serve("/a", "200", 1, 0.01)
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()

	reports := make(chan Report, 64)
	reg := prometheus.NewRegistry()
	w, err := New([]Spec{
		{Name: "shop", Kind: Service, URL: svc.srv.URL, Interval: 100 * time.Millisecond},
		{Name: "slow", Kind: Service, URL: slow.URL, Interval: time.Second, Timeout: 200 * time.Millisecond},
		{Name: "dead", Kind: HTTP, URL: deadURL, Interval: 100 * time.Millisecond},
	}, Options{NoSpread: true, Registerer: reg, OnScrape: func(r Report) {
		select {
		case reports <- r:
		default:
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer w.Stop(context.Background())
	// shop scrapes twice while slow's one scrape still waits: it is not
	// held up by its neighbour.
	shop, sawSlow, sawDead := 0, false, false
	for shop < 2 || !sawSlow || !sawDead {
		select {
		case r := <-reports:
			switch r.Target {
			case "shop":
				if r.Err != nil {
					t.Fatalf("shop: %v", r.Err)
				}
				if !sawSlow {
					shop++
				}
			case "slow":
				sawSlow = true
				if r.Err == nil || !strings.Contains(r.Err.Error(), "timeout 200ms") {
					t.Errorf("slow: err = %v, want the timeout named", r.Err)
				}
			case "dead":
				sawDead = true
				if r.Up() || !strings.Contains(r.Err.Error(), "connect") {
					t.Errorf("dead: err = %v, want connection refused", r.Err)
				}
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("waited 10 s: shop %d scrapes, slow seen %v, dead seen %v", shop, sawSlow, sawDead)
		}
	}
	st, _ := w.State("dead")
	if st.Up || st.Error == "" {
		t.Errorf("dead state = %+v", st)
	}
	var up float64 = -1
	for _, s := range st.Samples {
		if s.Name == Up && s.Labels[Label] == "dead" {
			up = s.Value
		}
	}
	if up != 0 {
		t.Errorf("dead's up sample = %v, want 0", up)
	}
	if got := testutil.ToFloat64(w.prom.up.WithLabelValues("shop")); got != 1 {
		t.Errorf("perfengine_target_up{target=shop} = %v", got)
	}
	if got := testutil.ToFloat64(w.prom.failures.WithLabelValues("dead")); got < 1 {
		t.Errorf("perfengine_target_scrape_failures_total{target=dead} = %v", got)
	}
	if probs, err := testutil.CollectAndLint(w.prom.duration); err != nil || len(probs) > 0 {
		t.Errorf("lint: %v %v", err, probs)
	}
}

func TestBackoff(t *testing.T) {
	s := Spec{Interval: 5 * time.Second}
	for _, tc := range []struct {
		failures int
		want     time.Duration
	}{{0, 5 * time.Second}, {1, 5 * time.Second}, {2, 10 * time.Second}, {4, 40 * time.Second}, {12, MaxBackoff}} {
		if got := backoff(s, tc.failures); got != tc.want {
			t.Errorf("backoff(%d) = %v, want %v", tc.failures, got, tc.want)
		}
	}
}

func TestProbe(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/teapot" {
			w.WriteHeader(http.StatusTeapot)
		}
		w.Write([]byte("hello"))
	}))
	defer srv.Close()
	w, err := New([]Spec{
		{Name: "ok", Kind: HTTP, URL: srv.URL},
		{Name: "teapot", Kind: HTTP, URL: srv.URL + "/teapot", ExpectStatus: []int{200}},
	}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := w.ScrapeNow(context.Background(), "ok")
	v := values(r.Result.Samples)
	if r.Err != nil || v[ProbeStatusCode] != 200 || v[ProbeConnectMs] <= 0 || v[ProbeTTFBMs] <= 0 || v[ProbeDurationMs] < v[ProbeTTFBMs] {
		t.Errorf("probe ok: err %v, figures %v", r.Err, v)
	}
	r, _ = w.ScrapeNow(context.Background(), "teapot")
	if r.Err == nil || !strings.Contains(r.Err.Error(), "HTTP 418, want 200") {
		t.Errorf("probe teapot: err = %v", r.Err)
	}
}

func TestNewNamesEveryProblem(t *testing.T) {
	_, err := New([]Spec{
		{Name: "", Kind: Service, URL: "http://x/metrics"},
		{Name: "a", Kind: "ftp", URL: "http://x"},
		{Name: "b", Kind: HTTP, URL: "/relative"},
		{Name: "c", Kind: Service, URL: "http://x", Interval: time.Second, Timeout: 2 * time.Second},
		{Name: "d", Kind: HTTP, URL: "http://x"},
		{Name: "d", Kind: HTTP, URL: "http://x"},
	}, Options{})
	if err == nil {
		t.Fatal("New accepted bad specs")
	}
	for _, want := range []string{`"": name`, `"a": type`, `"b": url`, `"c": timeout`, `"d": name is used twice`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}
