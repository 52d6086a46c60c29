package alert

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/perfengine/perfengine/store"
)

// recorder is a Notifier that keeps what it is given, with the time. With
// gate set, each Notify waits for a value on it (or its context); fail
// makes the first fail calls return an error.
type recorder struct {
	gate chan struct{}

	mu    sync.Mutex
	fail  int
	calls int
	got   []sent
}

type sent struct {
	at       time.Time
	summary  string
	firing   int
	resolved int
	group    string
}

func (r *recorder) Notify(ctx context.Context, n *Notification) error {
	if r.gate != nil {
		select {
		case <-r.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if r.fail > 0 {
		r.fail--
		return errors.New("receiver refused")
	}
	r.got = append(r.got, sent{at: time.Now(), summary: n.Summary(), firing: len(n.Firing), resolved: len(n.Resolved), group: n.GroupKey})
	return nil
}

func (r *recorder) sent() []sent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

func (r *recorder) summaries() []string {
	var out []string
	for _, s := range r.sent() {
		out = append(out, s.summary)
	}
	return out
}

func firing(title, severity string, labels ...string) Alert {
	a := Alert{ID: title + severity, Source: "engine", Title: title, Severity: severity, Labels: map[string]string{}}
	for i := 0; i+1 < len(labels); i += 2 {
		a.Labels[labels[i]] = labels[i+1]
	}
	return a
}

func resolved(a Alert) Alert { a.Resolved = true; return a }

// start runs a dispatcher over one recorder channel and stops it at the
// end of the test.
func start(t *testing.T, rec *recorder, opts DispatcherOptions) *Dispatcher {
	t.Helper()
	d, err := NewDispatcher([]Channel{{Name: "rec", Notifier: rec, SendResolved: true}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Stop(context.Background()) })
	return d
}

// keepFiring puts the alerts every interval until ctx ends, as the
// engine's loop does.
func keepFiring(ctx context.Context, d *Dispatcher, every time.Duration, alerts ...Alert) {
	go func() {
		for {
			d.Put(alerts...)
			select {
			case <-ctx.Done():
				return
			case <-time.After(every):
			}
		}
	}()
}

func TestGroupWaitCollectsOneNotification(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		d := start(t, rec, DispatcherOptions{GroupBy: []string{"target"}})
		d.Put(firing("slow query", "warning", "target", "db"))
		time.Sleep(10 * time.Second)
		d.Put(firing("missing index", "warning", "target", "db"), firing("p95 high", "warning", "target", "api"))
		time.Sleep(19 * time.Second)
		synctest.Wait()
		if got := rec.sent(); len(got) != 0 {
			t.Fatalf("notified %v before group_wait", got)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		got := rec.sent()
		if len(got) != 1 || got[0].firing != 2 || got[0].group != `{target="db"}` {
			t.Fatalf("after group_wait of the db group: %+v, want one notification of 2 alerts", got)
		}
		time.Sleep(10 * time.Second) // the api group's wait
		synctest.Wait()
		if got := rec.sent(); len(got) != 2 || got[1].group != `{target="api"}` {
			t.Fatalf("after group_wait of the api group: %+v", got)
		}
	})
}

func TestGroupIntervalAndRepeatInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		d := start(t, rec, DispatcherOptions{})
		ctx, stop := context.WithCancel(context.Background())
		defer stop()
		status := firing("status", "critical")
		keepFiring(ctx, d, 30*time.Second, status)

		time.Sleep(31 * time.Second)
		synctest.Wait()
		if n := len(rec.sent()); n != 1 {
			t.Fatalf("after group_wait: %d notifications, want 1", n)
		}
		// A second alert of the group comes at the next group interval,
		// not at once.
		time.Sleep(time.Minute)
		second := firing("status", "critical", "target", "")
		second.Labels["instance"] = "b"
		keepFiring(ctx, d, 30*time.Second, second)
		time.Sleep(time.Minute)
		synctest.Wait()
		if n := len(rec.sent()); n != 1 {
			t.Fatalf("a new alert notified before group_interval: %d", n)
		}
		time.Sleep(3*time.Minute + time.Second) // the tick at 5m30s
		synctest.Wait()
		got := rec.sent()
		if len(got) != 2 || got[1].firing != 2 {
			t.Fatalf("at group_interval: %+v, want a second notification of 2 firing", got)
		}
		// Unchanged, the group is quiet until repeat_interval.
		time.Sleep(4*time.Hour - 10*time.Minute)
		synctest.Wait()
		if n := len(rec.sent()); n != 2 {
			t.Fatalf("repeated before repeat_interval: %d", n)
		}
		time.Sleep(20 * time.Minute)
		synctest.Wait()
		got = rec.sent()
		if len(got) != 3 {
			t.Fatalf("after repeat_interval: %d notifications, want 3", len(got))
		}
		if gap := got[2].at.Sub(got[1].at); gap < 4*time.Hour || gap > 4*time.Hour+5*time.Minute {
			t.Errorf("repeat came %v after the last notification, want 4h to 4h5m", gap)
		}
		stop()
		d.Put(resolved(status), resolved(second))
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		got = rec.sent()
		if len(got) != 4 || got[3].firing != 0 || got[3].resolved != 2 {
			t.Fatalf("after resolving: %+v, want a resolved notice of 2", got)
		}
		if st := d.Stats(); st.Failed != 0 || st.Dropped != 0 {
			t.Errorf("stats %+v", st)
		}
	})
}

func TestResolveTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		d := start(t, rec, DispatcherOptions{GroupWait: time.Second, GroupInterval: time.Minute, ResolveTimeout: 2 * time.Minute})
		d.Put(firing("leak", "warning"))
		time.Sleep(2 * time.Second)
		synctest.Wait()
		// Never put again: resolved after the timeout, at a group tick.
		time.Sleep(3 * time.Minute)
		synctest.Wait()
		got := rec.summaries()
		if len(got) != 2 || !strings.HasPrefix(got[1], "[RESOLVED]") {
			t.Fatalf("got %q, want firing then resolved", got)
		}
		if as := d.Alerts(); len(as) != 1 || as[0].State != "resolved" {
			t.Errorf("Alerts() = %+v, want the resolved alert kept for forwarders", as)
		}
	})
}

func TestInhibition(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		d := start(t, rec, DispatcherOptions{GroupBy: []string{GroupByAll}, GroupWait: time.Second})
		d.Put(
			firing("status", "critical", "target", "api"),
			firing("slow route", "warning", "target", "api"),
			firing("slow route", "warning", "target", "db"),
		)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		got := rec.summaries()
		slices.Sort(got)
		want := []string{"[CRITICAL] engine: status", "[WARNING] engine: slow route"}
		if !slices.Equal(got, want) {
			t.Fatalf("got %q, want %q: the api warning inhibited, the db one not", got, want)
		}
		var suppressed int
		for _, a := range d.Alerts() {
			if a.State == "suppressed" {
				suppressed++
				if a.Labels["target"] != "api" || len(a.InhibitedBy) != 1 {
					t.Errorf("suppressed %+v", a)
				}
			}
		}
		if suppressed != 1 {
			t.Errorf("%d suppressed alerts, want 1", suppressed)
		}
	})
}

func TestSilence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		d := start(t, rec, DispatcherOptions{GroupWait: time.Second, GroupInterval: time.Minute})
		ms, err := ParseMatchers(`alertname=~"slow.*",target="db"`)
		if err != nil {
			t.Fatal(err)
		}
		s, err := d.AddSilence(Silence{Matchers: ms, EndsAt: time.Now().Add(time.Hour), CreatedBy: "ops", Comment: "migration"})
		if err != nil {
			t.Fatal(err)
		}
		ctx, stop := context.WithCancel(context.Background())
		defer stop()
		keepFiring(ctx, d, 30*time.Second, firing("slow query", "warning", "target", "db"), firing("slow query", "warning", "target", "api"))
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if got := rec.sent(); len(got) != 1 || !strings.Contains(got[0].summary, "slow query") {
			t.Fatalf("got %+v, want only the api alert", got)
		}
		if err := d.ExpireSilence(s.ID); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if got := rec.sent(); len(got) != 2 || got[1].group != `{alertname="slow query", target="db"}` {
			t.Fatalf("after expiry: %+v, want the db alert's group", got)
		}
		if l := d.Silences(); len(l) != 1 || l[0].State(time.Now()) != SilenceExpired {
			t.Errorf("Silences() = %+v", l)
		}
		if err := d.ExpireSilence("nope"); !errors.Is(err, ErrUnknownSilence) {
			t.Errorf("ExpireSilence(unknown) = %v", err)
		}
	})
}

func TestSilenceValidation(t *testing.T) {
	d, err := NewDispatcher(nil, DispatcherOptions{})
	if err != nil {
		t.Fatal(err)
	}
	eq := func(s string) []Matcher {
		ms, err := ParseMatchers(s)
		if err != nil {
			t.Fatal(err)
		}
		return ms
	}
	future := time.Now().Add(time.Hour)
	for _, tc := range []struct {
		name string
		s    Silence
		want string
	}{
		{"no matcher", Silence{EndsAt: future, CreatedBy: "x"}, "at least one matcher"},
		{"matches everything", Silence{Matchers: eq(`target=~".*"`), EndsAt: future, CreatedBy: "x"}, "empty string"},
		{"no end", Silence{Matchers: eq("target=db"), CreatedBy: "x"}, "endsAt is required"},
		{"ends before start", Silence{Matchers: eq("target=db"), StartsAt: future, EndsAt: future.Add(-time.Minute), CreatedBy: "x"}, "after startsAt"},
		{"past", Silence{Matchers: eq("target=db"), StartsAt: time.Now().Add(-2 * time.Hour), EndsAt: time.Now().Add(-time.Hour), CreatedBy: "x"}, "in the past"},
		{"anonymous", Silence{Matchers: eq("target=db"), EndsAt: future}, "createdBy"},
		{"unknown id", Silence{ID: "abc", Matchers: eq("target=db"), EndsAt: future, CreatedBy: "x"}, "no such silence"},
	} {
		if _, err := d.AddSilence(tc.s); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: AddSilence = %v, want an error about %q", tc.name, err, tc.want)
		}
	}
}

func TestSlowChannelDoesNotBlock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		stuck := &recorder{gate: make(chan struct{})}
		fast := &recorder{}
		d, err := NewDispatcher([]Channel{{Name: "stuck", Notifier: stuck}, {Name: "fast", Notifier: fast}},
			DispatcherOptions{GroupBy: []string{GroupByAll}, GroupWait: time.Second, QueueSize: 10, NotifyTimeout: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		for i := range 10 {
			d.Put(firing(fmt.Sprint("alert ", i), "warning"))
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		for i := range 10 {
			d.Put(firing(fmt.Sprint("more ", i), "warning"))
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if n := len(fast.sent()); n != 20 {
			t.Errorf("fast channel got %d, want 20 while the other hangs", n)
		}
		// One in flight and nine queued from the first batch; of the
		// second, one more fits and nine are dropped for the stuck channel.
		if st := d.Stats(); st.Dropped != 9 {
			t.Errorf("dropped %d, want 9", st.Dropped)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := d.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Stop with a hung channel = %v, want the deadline", err)
		}
	})
}

func TestFailedDeliveryIsRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{fail: 3}
		d := start(t, rec, DispatcherOptions{GroupWait: time.Second, GroupInterval: time.Minute})
		d.Put(firing("status", "critical"))
		time.Sleep(time.Minute)
		synctest.Wait()
		if got := rec.sent(); len(got) != 1 {
			t.Fatalf("got %d notifications after 3 failures, want 1 (retried within the interval)", len(got))
		}
		if st := d.Stats(); st.Retried != 3 || st.Sent != 1 || st.Failed != 0 {
			t.Errorf("stats %+v, want 3 retries and 1 sent", st)
		}
	})
}

func TestFailedRoundKeepsResolution(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		d := start(t, rec, DispatcherOptions{GroupWait: time.Second, GroupInterval: time.Minute})
		a := firing("status", "critical")
		d.Put(a)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		// The resolution fails for a whole interval, then goes through.
		rec.mu.Lock()
		rec.fail = 1 << 30
		rec.mu.Unlock()
		d.Put(resolved(a))
		time.Sleep(2*time.Minute + time.Second)
		synctest.Wait()
		rec.mu.Lock()
		rec.fail = 0
		rec.mu.Unlock()
		time.Sleep(time.Minute)
		synctest.Wait()
		got := rec.summaries()
		if len(got) != 2 || !strings.HasPrefix(got[1], "[RESOLVED]") {
			t.Fatalf("got %q, want the resolution delivered once the channel recovers", got)
		}
		if st := d.Stats(); st.Failed != 1 {
			t.Errorf("failed %d, want 1 round", st.Failed)
		}
	})
}

func TestForwarder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fw := &forwardRecorder{}
		d, err := NewDispatcher([]Channel{{Name: "am", Forwarder: fw}}, DispatcherOptions{ResendInterval: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		defer d.Stop(context.Background())
		a := firing("status", "critical")
		d.Put(a)
		synctest.Wait()
		time.Sleep(2*time.Minute + time.Second)
		synctest.Wait()
		d.Put(resolved(a))
		synctest.Wait()
		got := fw.batches()
		if len(got) != 4 {
			t.Fatalf("%d posts, want 4 (at once, two resends, the resolution)", len(got))
		}
		last := got[3][0]
		if !last.Alert.Resolved || last.EndsAt.IsZero() || got[0][0].Alert.Resolved {
			t.Errorf("first %+v, last %+v", got[0][0], last)
		}
	})
}

type forwardRecorder struct {
	mu  sync.Mutex
	got [][]Forwarded
}

func (f *forwardRecorder) Forward(_ context.Context, alerts []Forwarded) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, alerts)
	return nil
}

func (f *forwardRecorder) batches() [][]Forwarded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.got)
}

// TestStateSurvivesRestart: a dispatcher restarted on the same store
// neither notifies again what it sent nor forgets a silence.
func TestStateSurvivesRestart(t *testing.T) {
	st, err := store.OpenSQLite(filepath.Join(t.TempDir(), "state.db"), store.Retention{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	opts := DispatcherOptions{GroupWait: time.Millisecond, GroupInterval: 20 * time.Millisecond, State: st}
	a := firing("status", "critical")
	run := func(putSilence bool) (*recorder, []Silence) {
		rec := &recorder{}
		d, err := NewDispatcher([]Channel{{Name: "rec", Notifier: rec, SendResolved: true}}, opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		if putSilence {
			ms, _ := ParseMatchers("target=db")
			if _, err := d.AddSilence(Silence{Matchers: ms, EndsAt: time.Now().Add(time.Hour), CreatedBy: "ops"}); err != nil {
				t.Fatal(err)
			}
		}
		for range 10 {
			d.Put(a)
			time.Sleep(10 * time.Millisecond)
		}
		if err := d.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		return rec, d.Silences()
	}
	first, _ := run(true)
	if n := len(first.sent()); n != 1 {
		t.Fatalf("first run sent %d, want 1", n)
	}
	second, silences := run(false)
	if n := len(second.sent()); n != 0 {
		t.Errorf("after a restart the unchanged group was notified %d times, want 0", n)
	}
	if len(silences) != 1 || silences[0].CreatedBy != "ops" {
		t.Errorf("silences after restart: %+v", silences)
	}
}

func TestNeedsUpdate(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	recent := nflogEntry{At: now.Add(-time.Hour), Firing: []uint64{1, 2}, Resolved: []uint64{3}}
	old := nflogEntry{At: now.Add(-5 * time.Hour), Firing: []uint64{1, 2}}
	for _, tc := range []struct {
		name             string
		prev             nflogEntry
		seen             bool
		firing, resolved []uint64
		sendResolved     bool
		want             bool
	}{
		{"first, firing", nflogEntry{}, false, []uint64{1}, nil, true, true},
		{"first, only resolved", nflogEntry{}, false, nil, []uint64{1}, true, false},
		{"a new firing alert", recent, true, []uint64{1, 2, 4}, nil, true, true},
		{"fewer firing, unchanged otherwise", recent, true, []uint64{1}, []uint64{3}, true, false},
		{"all resolved", recent, true, nil, []uint64{1, 2}, false, true},
		{"new resolution wanted", recent, true, []uint64{1}, []uint64{2, 3}, true, true},
		{"new resolution not wanted", recent, true, []uint64{1}, []uint64{2, 3}, false, false},
		{"repeat interval passed", old, true, []uint64{1, 2}, nil, true, true},
		{"within repeat interval", recent, true, []uint64{1, 2}, []uint64{3}, true, false},
	} {
		if got := needsUpdate(tc.prev, tc.seen, tc.firing, tc.resolved, tc.sendResolved, 4*time.Hour, now); got != tc.want {
			t.Errorf("%s: needsUpdate = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestDispatcherSharedRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	for range 2 {
		if _, err := NewDispatcher(nil, DispatcherOptions{Registerer: reg}); err != nil {
			t.Fatalf("second dispatcher on one registry: %v", err)
		}
	}
	if n := testutil.CollectAndCount(reg, "perfengine_alert_dropped_total"); n != 1 {
		t.Errorf("%d dropped counters, want 1 shared", n)
	}
}

func TestChannelValidation(t *testing.T) {
	rec := &recorder{}
	for _, tc := range []struct {
		name string
		cs   []Channel
		want string
	}{
		{"twice", []Channel{{Name: "a", Notifier: rec}, {Name: "a", Notifier: rec}}, "two channels"},
		{"neither", []Channel{{Name: "a"}}, "exactly one"},
		{"both", []Channel{{Name: "a", Notifier: rec, Forwarder: &forwardRecorder{}}}, "exactly one"},
	} {
		if _, err := NewDispatcher(tc.cs, DispatcherOptions{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	if _, err := NewDispatcher(nil, DispatcherOptions{GroupWait: -time.Second}); err == nil {
		t.Error("negative group wait accepted")
	}
}

// TestReplayTwoHours replays a two-hour trace of a flapping service, one
// evaluation every 15 s as the engine's loop puts them, and checks
// Alertmanager's promises: a group notifies at most once per group
// interval, and an unchanged group not before the repeat interval. It
// logs the count next to what a notifier without grouping would send.
func TestReplayTwoHours(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		opts := DispatcherOptions{ResolveTimeout: time.Minute}
		d := start(t, rec, opts)
		const step = 15 * time.Second
		naive := 0
		prev := map[string]bool{}
		for i := range int(2 * time.Hour / step) {
			minute := i * int(step) / int(time.Minute)
			var active []Alert
			// The status flaps: critical for 3 of every 10 minutes,
			// warning for 2, with a 30 s blip inside the healthy stretch.
			switch m := minute % 10; {
			case m < 3:
				active = append(active, firing("status", "critical", "target", "api"))
			case m < 5:
				active = append(active, firing("status", "warning", "target", "api"))
			case m == 7 && i%4 < 2:
				active = append(active, firing("status", "warning", "target", "api"))
			}
			// Slow queries come and go, one title per query.
			for q := range 3 {
				if (minute/(q+2))%2 == 0 {
					active = append(active, firing(fmt.Sprint("slow query ", q), "warning", "target", "db", LabelAlertname, "slow_query"))
				}
			}
			now := map[string]bool{}
			for _, a := range active {
				key := labelString(LabelSet(a))
				now[key] = true
				if !prev[key] {
					naive++ // a notifier that sends every new firing...
				}
			}
			for key := range prev {
				if !now[key] {
					naive++ // ...and every resolution
				}
			}
			prev = now
			d.Put(active...)
			time.Sleep(step)
		}
		synctest.Wait()
		got := rec.sent()
		byGroup := map[string][]sent{}
		for _, s := range got {
			byGroup[s.group] = append(byGroup[s.group], s)
		}
		for g, ss := range byGroup {
			for i := 1; i < len(ss); i++ {
				if gap := ss[i].at.Sub(ss[i-1].at); gap < DefaultGroupInterval {
					t.Errorf("group %s notified twice within %v", g, gap)
				}
			}
		}
		if len(got) == 0 || len(got) >= naive {
			t.Errorf("%d notifications, naive notifier %d: want fewer, and some", len(got), naive)
		}
		t.Logf("2 h replay: %d notifications in %d groups (a naive notifier: %d); %+v", len(got), len(byGroup), naive, d.Stats())
	})
}

// TestReplayRepeatInterval: a group that fires unchanged for 10 hours is
// notified at its start and then every repeat interval, no more.
func TestReplayRepeatInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		d := start(t, rec, DispatcherOptions{})
		for range int(10 * time.Hour / (15 * time.Second)) {
			d.Put(firing("memory leak", "warning", "target", "api"))
			time.Sleep(15 * time.Second)
		}
		synctest.Wait()
		got := rec.sent()
		if len(got) != 3 {
			t.Fatalf("%d notifications in 10 h, want 3 (start, +4h, +8h)", len(got))
		}
		for i := 1; i < len(got); i++ {
			if gap := got[i].at.Sub(got[i-1].at); gap < DefaultRepeatInterval || gap > DefaultRepeatInterval+DefaultGroupInterval {
				t.Errorf("repeat %d came after %v", i, gap)
			}
		}
	})
}

// TestFleetSharesTheStore: two dispatchers on one store, as two engines
// of a fleet on one PostgreSQL: a group the first notified is not notified
// again by the second, and a silence made on the first mutes on the second.
func TestFleetSharesTheStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fleet.db")
	open := func() *store.SQLite {
		st, err := store.OpenSQLite(path, store.Retention{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	opts := func(st StateStore) DispatcherOptions {
		return DispatcherOptions{GroupWait: time.Millisecond, GroupInterval: 20 * time.Millisecond, State: st, SyncInterval: 20 * time.Millisecond}
	}
	recA, recB := &recorder{}, &recorder{}
	a := start(t, recA, opts(open()))
	// Both run from the start: the second learns by syncing, not by
	// loading at its start.
	b := start(t, recB, opts(open()))
	status := firing("status", "critical")
	a.Put(status)
	waitFor(t, "the first engine's notification", func() bool { return len(recA.sent()) == 1 })
	ms, _ := ParseMatchers("target=db")
	if _, err := a.AddSilence(Silence{Matchers: ms, EndsAt: time.Now().Add(time.Hour), CreatedBy: "ops"}); err != nil {
		t.Fatal(err)
	}
	// The silence was written after the notification's log entry, so once
	// the second engine has it, it has both.
	waitFor(t, "the silence at the second engine", func() bool { return len(b.Silences()) == 1 })
	for range 10 {
		b.Put(status, firing("slow query", "warning", "target", "db"))
		time.Sleep(20 * time.Millisecond)
	}
	if got := recB.sent(); len(got) != 0 {
		t.Errorf("the second engine notified %+v: the group was already notified and the other alert is silenced", got)
	}
	if l := b.Silences(); len(l) != 1 || l[0].CreatedBy != "ops" {
		t.Errorf("the second engine's silences: %+v", l)
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not within 10s: %s", what)
		}
	}
}

// TestResolutionWhileChannelAbsentSurvivesSync: a group resolves while its
// channel is not configured; after a sync with the store (which still holds
// the old notification) and the channel's return, the next firing is news.
func TestResolutionWhileChannelAbsentSurvivesSync(t *testing.T) {
	st, err := store.OpenSQLite(filepath.Join(t.TempDir(), "s.db"), store.Retention{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	opts := DispatcherOptions{GroupWait: time.Millisecond, GroupInterval: 20 * time.Millisecond, State: st, SyncInterval: 10 * time.Millisecond}
	rec := &recorder{}
	a := firing("status", "critical")
	on, err := NewDispatcher([]Channel{{Name: "rec", Notifier: rec, SendResolved: true}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := on.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	on.Put(a)
	waitFor(t, "the first notification", func() bool { return len(rec.sent()) == 1 })
	time.Sleep(50 * time.Millisecond) // saved

	off, err := NewDispatcher(nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	off.Adopt(on)
	if err := on.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := off.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	off.Put(resolved(a))
	time.Sleep(150 * time.Millisecond) // flushed and synced several times

	again, err := NewDispatcher([]Channel{{Name: "rec", Notifier: rec, SendResolved: true}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	again.Adopt(off)
	if err := off.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := again.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer again.Stop(context.Background())
	again.Put(a)
	waitFor(t, "the new firing notified", func() bool { return len(rec.sent()) == 2 })
}
