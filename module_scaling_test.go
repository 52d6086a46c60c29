package perfengine

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/perfengine/perfengine/metrics"
)

// scalingEngine is a test engine whose runtime CPU and memory cannot
// drive the autoscaler: only the response time the test sets does.
func scalingEngine(t *testing.T, as AutoScalingConfig) (*Engine, *clock, *testModule) {
	t.Helper()
	cfg := DefaultConfig()
	as.CPUThreshold, as.MemoryThreshold = 100, 1
	cfg.AutoScaling = as
	m := &testModule{name: "load"}
	e, clk := newTestEngine(t, cfg, m)
	return e, clk, m
}

func TestAutoscalerDryRun(t *testing.T) {
	e, clk, m := scalingEngine(t, defaultAutoScalingConfig())
	m.set(metrics.ResponseTimeMs, 3000)
	e.step(clk)
	s := e.Summary().Scaling
	if s == nil || !s.DryRun || s.Decision.Desired != 6 || s.Decision.Metric != "response_time" || s.Current != 6 {
		t.Fatalf("after a slow cycle: %+v, want a dry-run scale-up 2 → 6 on response_time", s)
	}
	if !strings.Contains(s.Decision.Reason, "response_time 3000 against target 1000") || !strings.Contains(s.Decision.Reason, "scale up 2 → 6") {
		t.Errorf("reason %q", s.Decision.Reason)
	}
	applied := e.Actions(ActionApplied)
	if len(applied) != 1 || applied[0].Kind != ActionScale || !strings.Contains(applied[0].Result, "dry run") {
		t.Fatalf("recorded actions %+v, want the dry-run decision", applied)
	}
	if len(e.Actions(ActionPending)) != 0 {
		t.Errorf("a dry run left pending actions: %+v", e.Actions(ActionPending))
	}

	// The load goes: the scale-down waits for the 10-minute window.
	m.set(metrics.ResponseTimeMs, 100)
	e.step(clk)
	s = e.Summary().Scaling
	if s.Current != 6 || s.Decision.Limit != "ScaleDownStabilized" || s.Decision.HeldUntil.IsZero() {
		t.Fatalf("right after the load: %+v, want 6 held by the scale-down window", s.Decision)
	}
	held := s.Decision.HeldUntil
	if want := clk.now().Add(-time.Second).Add(10 * time.Minute); !held.Equal(want) {
		t.Errorf("held until %v, want %v (the slow cycle's time + 10m)", held, want)
	}
	clk.advance(held.Sub(clk.now()) - 2*time.Second)
	e.step(clk)
	if s = e.Summary().Scaling; s.Current != 6 {
		t.Fatalf("a second before the window ends: %d instances, want 6", s.Current)
	}
	clk.advance(2 * time.Second)
	e.step(clk)
	s = e.Summary().Scaling
	if s.Current != 2 || !strings.Contains(s.Decision.Reason, "scale down 6 → 2") {
		t.Fatalf("after the window: %+v, want a dry-run scale-down to 2", s.Decision)
	}
	body, err := json.Marshal(e.Summary())
	if err != nil || !strings.Contains(string(body), `"scaling":{"dryRun":true`) {
		t.Errorf("summary JSON lacks the scaling section: %s", body)
	}
}

func TestAutoscalerRunsTheCommandAndUndoes(t *testing.T) {
	out := filepath.Join(t.TempDir(), "count")
	as := defaultAutoScalingConfig()
	as.Enabled = true
	as.Actuator = ScaleActuatorConfig{Type: ActuatorCommand, Command: []string{"sh", "-c", `echo "$1" > "$2"`, "sh", "{instances}", out}}
	e, clk, m := scalingEngine(t, as)
	m.set(metrics.ResponseTimeMs, 2500)
	e.step(clk)
	b, err := os.ReadFile(out)
	if err != nil || strings.TrimSpace(string(b)) != "5" {
		t.Fatalf("the command wrote %q (%v), want 5", b, err)
	}
	applied := e.Actions(ActionApplied)
	if len(applied) != 1 || applied[0].Risk != RiskModerate || applied[0].Undo != "scale service back to 2" {
		t.Fatalf("applied %+v", applied)
	}
	if s := e.Summary().Scaling; s.DryRun || s.Current != 5 || s.Actuator != "command" {
		t.Errorf("summary %+v", s)
	}
	if _, err := e.Undo(context.Background(), applied[0].ID); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(out); strings.TrimSpace(string(b)) != "2" {
		t.Errorf("after undo the command wrote %q, want 2", b)
	}
}

// Without autoOptimize, an enabled autoscaler proposes and waits: the
// decision is an action that needs approval.
func TestAutoscalerWaitsForApprovalWithoutAutoOptimize(t *testing.T) {
	out := filepath.Join(t.TempDir(), "count")
	as := defaultAutoScalingConfig()
	as.Enabled = true
	as.Actuator = ScaleActuatorConfig{Type: ActuatorCommand, Command: []string{"sh", "-c", `echo "$1" > "$2"`, "sh", "{instances}", out}}
	cfg := DefaultConfig()
	cfg.AutoOptimize = false
	as.CPUThreshold, as.MemoryThreshold = 100, 1
	cfg.AutoScaling = as
	m := &testModule{name: "load"}
	e, clk := newTestEngine(t, cfg, m)
	m.set(metrics.ResponseTimeMs, 2500)
	e.step(clk)
	if _, err := os.Stat(out); err == nil {
		t.Fatal("scaled without autoOptimize")
	}
	pending := e.Actions(ActionPending)
	if len(pending) != 1 || pending[0].Kind != ActionScale {
		t.Fatalf("pending %+v, want the scale decision", pending)
	}
	if _, err := e.Approve(context.Background(), pending[0].ID); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(out); strings.TrimSpace(string(b)) != "5" {
		t.Errorf("after approval the command wrote %q, want 5", b)
	}
}

// A scale API that answers 409 fails the action with the reason, the
// summary shows it, and the engine's loop goes on.
func TestAutoscalerKubernetesConflict(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			w.WriteHeader(http.StatusConflict)
			fmt.Fprint(w, `{"kind":"Status","message":"the object has been modified","reason":"Conflict","code":409}`)
			return
		}
		fmt.Fprint(w, `{"kind":"Scale","apiVersion":"autoscaling/v1","metadata":{"name":"api","namespace":"shop","resourceVersion":"3"},"spec":{"replicas":2},"status":{"replicas":2}}`)
	}))
	defer srv.Close()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kc, []byte(fmt.Sprintf("current-context: t\ncontexts: [{name: t, context: {cluster: c, user: u, namespace: shop}}]\nclusters: [{name: c, cluster: {server: '%s', certificate-authority-data: '%s'}}]\nusers: [{name: u, user: {token: x}}]\n",
		srv.URL, base64.StdEncoding.EncodeToString(ca))), 0o600); err != nil {
		t.Fatal(err)
	}
	as := defaultAutoScalingConfig()
	as.Enabled = true
	as.Actuator = ScaleActuatorConfig{Type: ActuatorKubernetes}
	as.Actuator.Kubernetes.Kubeconfig, as.Actuator.Kubernetes.Name = kc, "api"
	e, clk, m := scalingEngine(t, as)
	m.set(metrics.ResponseTimeMs, 2500)
	e.step(clk)
	failed := e.Actions(ActionFailed)
	if len(failed) != 1 || !strings.Contains(failed[0].Error, "409") {
		t.Fatalf("failed actions %+v, want the 409", failed)
	}
	if s := e.Summary().Scaling; s.Current != 2 || !strings.Contains(s.Error, "409") {
		t.Errorf("summary %+v, want 2 instances and the error", s)
	}
}

func TestAutoScalingConfigRefusesBadValues(t *testing.T) {
	for _, tc := range []struct {
		name  string
		set   func(*AutoScalingConfig)
		field string
	}{
		{"min above max", func(c *AutoScalingConfig) { c.MinInstances, c.MaxInstances = 5, 3 }, "autoScaling.maxInstances"},
		{"no instances", func(c *AutoScalingConfig) { c.MinInstances = 0 }, "autoScaling.minInstances"},
		{"negative cooldown", func(c *AutoScalingConfig) { c.ScaleDownCooldown = Duration(-time.Minute) }, "autoScaling.scaleDownCooldown"},
		{"negative up cooldown", func(c *AutoScalingConfig) { c.ScaleUpCooldown = Duration(-time.Second) }, "autoScaling.scaleUpCooldown"},
		{"enabled without actuator", func(c *AutoScalingConfig) { c.Enabled = true }, "autoScaling.actuator.type"},
		{"command without program", func(c *AutoScalingConfig) { c.Actuator.Type = ActuatorCommand }, "autoScaling.actuator.command"},
		{"unknown actuator", func(c *AutoScalingConfig) { c.Actuator.Type = "ssh" }, "autoScaling.actuator.type"},
		{"cpu above 100", func(c *AutoScalingConfig) { c.CPUThreshold = 150 }, "autoScaling.cpuThreshold"},
	} {
		cfg := DefaultConfig()
		tc.set(&cfg.AutoScaling)
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: Validate() = %v, want %s named", tc.name, err, tc.field)
		}
	}
	e, _, _ := scalingEngine(t, defaultAutoScalingConfig())
	bad := defaultAutoScalingConfig()
	bad.MinInstances, bad.MaxInstances = 4, 2
	if err := e.ConfigureAutoScaling(bad); err == nil || !strings.Contains(err.Error(), "autoScaling.maxInstances") {
		t.Errorf("ConfigureAutoScaling(min > max) = %v", err)
	}
	good := defaultAutoScalingConfig()
	good.MaxInstances = 4
	if err := e.ConfigureAutoScaling(good); err != nil {
		t.Fatal(err)
	}
	if e.Config().AutoScaling.MaxInstances != 4 {
		t.Error("ConfigureAutoScaling did not apply")
	}
}
