package alert

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// recorder is a Notifier that keeps what it is given. With gate set, each
// Notify waits for a value on it (or its context); err makes it fail.
type recorder struct {
	name string
	gate chan struct{}
	err  error

	mu  sync.Mutex
	got []string
}

func (r *recorder) Name() string { return r.name }

func (r *recorder) Notify(ctx context.Context, a Alert) error {
	if r.gate != nil {
		select {
		case <-r.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, Summary(a))
	return r.err
}

func (r *recorder) titles() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

func firing(title, severity string, labels ...string) Alert {
	a := Alert{Source: "engine", Title: title, Severity: severity}
	if len(labels) == 2 {
		a.Labels = map[string]string{labels[0]: labels[1]}
	}
	return a
}

func resolved(a Alert) Alert { a.Resolved = true; return a }

func TestDispatcherRepeats(t *testing.T) {
	now := time.Date(2026, 11, 27, 5, 0, 0, 0, time.UTC)
	steps := []struct {
		after time.Duration // since the previous step
		alert Alert
		sent  bool
	}{
		{0, firing("p95 high", SeverityWarning), true},
		{time.Minute, firing("p95 high", SeverityWarning), false},                                                     // repeat within 4 h
		{time.Hour, func() Alert { a := firing("p95 high", SeverityWarning); a.Detail = "other"; return a }(), false}, // detail is not the group
		{3 * time.Hour, firing("p95 high", SeverityWarning), true},                                                    // 4 h 1 m after the first
		{time.Minute, firing("p95 high", SeverityCritical), true},                                                     // escalation
		{time.Minute, firing("p95 high", SeverityCritical), false},                                                    //
		{time.Minute, firing("p95 high", SeverityWarning), true},                                                      // de-escalation is a change too
		{time.Minute, resolved(firing("p95 high", SeverityWarning)), true},                                            //
		{time.Minute, resolved(firing("p95 high", SeverityWarning)), false},                                           // already resolved
		{time.Minute, firing("p95 high", SeverityWarning), true},                                                      // fires again
		{0, firing("p95 high", SeverityWarning, "route", "/a"), true},                                                 // other labels, other group
		{0, resolved(firing("never fired", SeverityInfo)), false},                                                     // nothing to resolve
	}
	rec := &recorder{name: "rec"}
	d, err := NewDispatcher([]Notifier{rec}, DispatcherOptions{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i, st := range steps {
		now = now.Add(st.after)
		if got := d.Send(st.alert); got != st.sent {
			t.Errorf("step %d: Send(%s) = %v, want %v", i, Summary(st.alert), got, st.sent)
		}
		if st.sent {
			want = append(want, Summary(st.alert))
		}
	}
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := d.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := rec.titles(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("delivered:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	st := d.Stats()
	if st.Queued != uint64(len(want)) || st.Sent != uint64(len(want)) || st.Deduped != uint64(len(steps)-len(want)) {
		t.Errorf("Stats() = %+v, want %d queued and sent, %d deduped", st, len(want), len(steps)-len(want))
	}
}

// TestDispatcherDoesNotBlock fills the queue of a stuck notifier: Send
// keeps returning at once, drops beyond the queue are counted, and the
// other notifier is not held up.
func TestDispatcherDoesNotBlock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		stuck := &recorder{name: "stuck", gate: make(chan struct{})}
		fast := &recorder{name: "fast"}
		reg := prometheus.NewPedanticRegistry()
		d, err := NewDispatcher([]Notifier{stuck, fast}, DispatcherOptions{QueueSize: 2, Registerer: reg})
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		results := make([]bool, 5)
		for i := range results {
			results[i] = d.Send(firing(fmt.Sprintf("alert %d", i), SeverityWarning))
			// Let the workers take what they can before the next send, so
			// which sends drop is deterministic.
			synctest.Wait()
		}
		// stuck holds alert 0 in Notify and alerts 1 and 2 in its queue.
		if want := []bool{true, true, true, false, false}; fmt.Sprint(results) != fmt.Sprint(want) {
			t.Errorf("Send results = %v, want %v", results, want)
		}
		if got := fast.titles(); len(got) != 5 {
			t.Errorf("fast notifier got %d alerts while the other was stuck, want 5", len(got))
		}
		if st := d.Stats(); st.Dropped != 2 || st.Queued != 5 {
			t.Errorf("Stats() = %+v, want 5 queued, 2 dropped", st)
		}
		for range 3 {
			stuck.gate <- struct{}{}
		}
		if err := d.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := stuck.titles(); len(got) != 3 {
			t.Errorf("stuck notifier delivered %v, want alerts 0-2", got)
		}
		checks := []struct {
			name string
			c    prometheus.Collector
			want float64
		}{
			{"sent fast", d.metrics.sent.WithLabelValues("fast"), 5},
			{"sent stuck", d.metrics.sent.WithLabelValues("stuck"), 3},
			{"dropped", d.metrics.dropped, 2},
			{"deduped", d.metrics.deduped, 0},
		}
		for _, c := range checks {
			if got := testutil.ToFloat64(c.c); got != c.want {
				t.Errorf("%s = %v, want %v", c.name, got, c.want)
			}
		}
		if problems, err := testutil.CollectAndLint(d.metrics.sent); err != nil || len(problems) != 0 {
			t.Errorf("lint: %v %v", problems, err)
		}
	})
}

// TestDispatcherFailureResets: a failed delivery does not suppress the
// next occurrence of the same alert.
func TestDispatcherFailureResets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bad := &recorder{name: "bad", err: errors.New("mail server down")}
		d, err := NewDispatcher([]Notifier{bad}, DispatcherOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		a := firing("disk full", SeverityCritical)
		for i := range 3 {
			if !d.Send(a) {
				t.Errorf("Send #%d after a failed delivery was suppressed", i+1)
			}
			synctest.Wait()
		}
		if err := d.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		if st := d.Stats(); st.Failed != 3 || st.Sent != 0 {
			t.Errorf("Stats() = %+v, want 3 failed", st)
		}
	})
}

// TestDispatcherStop: Stop waits for queued alerts; with an expiring
// context it cancels the stuck delivery and drops the rest.
func TestDispatcherStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		stuck := &recorder{name: "stuck", gate: make(chan struct{})}
		d, err := NewDispatcher([]Notifier{stuck}, DispatcherOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			d.Send(firing(fmt.Sprint("a", i), SeverityWarning))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := d.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Stop with a stuck notifier = %v, want DeadlineExceeded", err)
		}
		st := d.Stats()
		if st.Failed != 1 || st.Dropped != 2 {
			t.Errorf("Stats() = %+v, want the in-flight one failed (canceled) and 2 dropped", st)
		}
		if d.Send(firing("late", SeverityWarning)) {
			t.Errorf("Send after Stop = true")
		}
		if err := d.Stop(context.Background()); err != nil {
			t.Errorf("second Stop = %v", err)
		}
	})
}

func TestDispatcherStopWithoutStart(t *testing.T) {
	rec := &recorder{name: "rec"}
	d, err := NewDispatcher([]Notifier{rec}, DispatcherOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d.Send(firing("x", SeverityInfo))
	if err := d.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := d.Stats(); st.Dropped != 1 || len(rec.titles()) != 0 {
		t.Errorf("Stats() = %+v, delivered %v; want the queued alert dropped", st, rec.titles())
	}
}

// TestDispatcherSharedRegistry: a second dispatcher on one registry (an
// engine restarted) counts on in the same series.
func TestDispatcherSharedRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	for i := range 2 {
		d, err := NewDispatcher(nil, DispatcherOptions{Registerer: reg})
		if err != nil {
			t.Fatalf("dispatcher #%d: %v", i+1, err)
		}
		d.Send(firing("x", SeverityInfo))
		d.Send(firing("x", SeverityInfo)) // a repeat
		if got := testutil.ToFloat64(d.metrics.deduped); got != float64(i+1) {
			t.Errorf("dispatcher #%d: deduplicated_total = %v, want %v", i+1, got, i+1)
		}
	}
	clash := prometheus.NewRegistry()
	clash.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "perfengine_alert_dropped_total", Help: "not ours"}))
	if _, err := NewDispatcher(nil, DispatcherOptions{Registerer: clash}); err == nil {
		t.Error("NewDispatcher on a registry with a clashing metric = nil error")
	}
}

func TestGroupKey(t *testing.T) {
	a := firing("t", SeverityWarning, "k", "v")
	tests := []struct {
		name string
		b    Alert
		same bool
	}{
		{"severity differs", firing("t", SeverityCritical, "k", "v"), true},
		{"detail and ID differ", func() Alert { b := a; b.ID, b.Detail = "other", "other"; return b }(), true},
		{"title differs", firing("u", SeverityWarning, "k", "v"), false},
		{"label value differs", firing("t", SeverityWarning, "k", "w"), false},
		{"no labels", firing("t", SeverityWarning), false},
		{"source differs", func() Alert { b := a; b.Source = "api"; return b }(), false},
	}
	for _, tc := range tests {
		if got := GroupKey(a) == GroupKey(tc.b); got != tc.same {
			t.Errorf("%s: same group = %v, want %v", tc.name, got, tc.same)
		}
	}
}

func TestNotifiers(t *testing.T) {
	tests := []struct {
		webhook, email string
		want           []string
		ok             bool
	}{
		{"", "", nil, true},
		{"http://127.0.0.1:9/h", "", []string{"webhook"}, true},
		{"http://127.0.0.1:9/h", "smtp://127.0.0.1:25/?to=a@b", []string{"webhook", "email"}, true},
		{"ftp://x", "", nil, false},
		{"", "smtp://h/", nil, false},
	}
	for _, tc := range tests {
		ns, err := Notifiers(tc.webhook, tc.email)
		if (err == nil) != tc.ok {
			t.Errorf("Notifiers(%q, %q) = %v, want ok=%v", tc.webhook, tc.email, err, tc.ok)
			continue
		}
		var names []string
		for _, n := range ns {
			names = append(names, n.(interface{ Name() string }).Name())
		}
		if fmt.Sprint(names) != fmt.Sprint(tc.want) {
			t.Errorf("Notifiers(%q, %q) = %v, want %v", tc.webhook, tc.email, names, tc.want)
		}
	}
}
