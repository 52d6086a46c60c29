package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/perfengine/perfengine"
)

// TestDemoAlertsAndAutoscaler drives the demo critical with /api/slow and
// watches a webhook receiver and the summary: the status group is notified
// once, not again while it stays critical, and resolved when it clears;
// the dry-run autoscaler scales up with its reason under the load and
// down only after its cooldown.
func TestDemoAlertsAndAutoscaler(t *testing.T) {
	type notification struct {
		Status      string            `json:"status"`
		GroupLabels map[string]string `json:"groupLabels"`
		Alerts      []struct {
			Labels map[string]string `json:"labels"`
		} `json:"alerts"`
	}
	var mu sync.Mutex
	var status []notification
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n notification
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &n); err != nil {
			t.Errorf("webhook body %q: %v", b, err)
			return
		}
		if n.GroupLabels["alertname"] == "status" {
			mu.Lock()
			status = append(status, n)
			mu.Unlock()
		}
	}))
	defer hook.Close()
	notified := func() []notification { mu.Lock(); defer mu.Unlock(); return append([]notification(nil), status...) }

	t.Setenv("ALERT_WEBHOOK_URL", hook.URL)
	t.Setenv("PERFENGINE_ALERTS_GROUP_WAIT", "100ms")
	t.Setenv("PERFENGINE_ALERTS_GROUP_INTERVAL", "1s")
	t.Setenv("PERFENGINE_AUTO_SCALING_SCALE_DOWN_COOLDOWN", "8s")
	s := start(t, []string{"demo service", "dashboard"}, "demo", "--addr", "127.0.0.1:0", "--dashboard-addr", "127.0.0.1:0",
		"--data-dir", t.TempDir(), "--load-rate", "0")
	c := client(t)
	summary := func() perfengine.Summary {
		_, body := get(t, c, s.urls["dashboard"]+"/api/v1/summary")
		return decodeJSON[perfengine.Summary](t, body)
	}
	eventually := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); !ok(); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("not within 60s: %s", what)
			}
		}
	}

	// Slow requests, eight at a time and staggered so some end in every
	// monitoring interval, until the test says stop.
	ctx, stopLoad := context.WithCancel(context.Background())
	var load sync.WaitGroup
	for i := range 8 {
		load.Go(func() {
			select {
			case <-time.After(time.Duration(i) * 325 * time.Millisecond):
			case <-ctx.Done():
			}
			for n := 0; ctx.Err() == nil; n++ {
				// A different query each time: the API optimizer would
				// serve a repeated one from its cache, fast.
				url := fmt.Sprintf("%s/api/slow?ms=%d", s.urls["demo service"], 2500+(i*100+n)%400)
				req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
				if resp, err := c.Do(req); err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		})
	}
	defer func() { stopLoad(); load.Wait() }()

	// The status may pass through warning on the way (a slow-endpoint
	// finding can come a cycle before the p95 crosses critical), and then
	// the notification of the critical alert also carries the warning one,
	// resolved: what must come is a critical status alert firing.
	eventually("the critical status notified", func() bool {
		for _, n := range notified() {
			for _, a := range n.Alerts {
				if n.Status == "firing" && a.Labels["severity"] == "critical" {
					return true
				}
			}
		}
		return false
	})
	eventually("a dry-run scale-up with its reason", func() bool {
		sc := summary().Scaling
		return sc != nil && sc.DryRun && sc.Current > 2 && strings.Contains(sc.Decision.Reason, "response_time")
	})
	// Several group intervals under the load: while the status stays
	// critical nothing new is said. On a loaded machine it may also clear
	// for a cycle and come back, which is news each time; what must never
	// come is a notification that repeats the one before.
	time.Sleep(4 * time.Second)
	n := notified()
	for i := 1; i < len(n); i++ {
		if n[i].Status == n[i-1].Status && fmt.Sprint(n[i].Alerts) == fmt.Sprint(n[i-1].Alerts) {
			t.Fatalf("notification %d repeats the one before it within the repeat interval: %+v", i, n)
		}
	}
	if len(n) == 1 {
		t.Log("the status stayed critical: one notification")
	} else {
		t.Logf("the status changed %d times under the load; each was notified once", len(n)-1)
	}
	scaled := summary().Scaling.Current

	stopLoad()
	load.Wait()
	eventually("the resolved notice", func() bool {
		n := notified()
		return len(n) > 1 && n[len(n)-1].Status == "resolved"
	})
	eventually("a dry-run scale-down", func() bool { return summary().Scaling.Current < scaled })
	// Every scale-down came at least the 8 s window after the scale-up
	// before it: the recommendation of that scale-up held it until then.
	_, body := get(t, c, s.urls["dashboard"]+"/api/v1/actions?state=applied")
	acts := decodeJSON[struct{ Actions []perfengine.Action }](t, body).Actions
	slices.SortFunc(acts, func(a, b perfengine.Action) int { return a.CreatedAt.Compare(b.CreatedAt) })
	var lastUp time.Time
	downs := 0
	for _, a := range acts {
		if a.Kind != perfengine.ActionScale {
			continue
		}
		from, _ := strconv.Atoi(a.Params["from"])
		to, _ := strconv.Atoi(a.Params["to"])
		if to > from {
			lastUp = a.CreatedAt
			continue
		}
		downs++
		if gap := a.CreatedAt.Sub(lastUp); gap < 8*time.Second {
			t.Errorf("scale-down %d → %d came %v after the scale-up before it, inside the 8 s window", from, to, gap)
		}
	}
	if downs == 0 {
		t.Errorf("no dry-run scale-down recorded among %d actions", len(acts))
	}
}
