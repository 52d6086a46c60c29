package perfengine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/perfengine/perfengine/regress"
	"github.com/perfengine/perfengine/store"
)

// TestTriggerManualRollback runs a real rollback command, finds the
// rollback recorded with its reason, and is refused inside the cooldown
// and without a reason or a regression module.
func TestTriggerManualRollback(t *testing.T) {
	out := filepath.Join(t.TempDir(), "rollbacks")
	cfg := DefaultConfig()
	cfg.Version = "v2.1.0"
	cfg.Regression.RollbackCommand = []string{"sh", "-c", `echo "$PERFENGINE_ROLLBACK_FROM -> $PERFENGINE_ROLLBACK_TO" >> "$0"`, out}
	cfg.Regression.RollbackCooldown = Duration(10 * time.Minute)
	clk := &clock{t: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)}
	rm, err := NewRegressionModule(cfg.Regression, WithRegressionClock(clk.now))
	if err != nil {
		t.Fatal(err)
	}
	st := openTestStore(t)
	e, err := New(cfg, WithClock(clk.now), WithStore(st), WithModules(rm))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	a, err := e.TriggerManualRollback(ctx, "checkout errors after deploy", "", "v2.0.3")
	if err != nil {
		t.Fatalf("TriggerManualRollback: %v", err)
	}
	if a.State != ActionApplied || a.Params["from"] != "v2.1.0" || a.Params["to"] != "v2.0.3" || a.Params["reason"] != "checkout errors after deploy" {
		t.Errorf("action %+v, want applied v2.1.0 -> v2.0.3 with the reason", a)
	}
	if b, err := os.ReadFile(out); err != nil || string(b) != "v2.1.0 -> v2.0.3\n" {
		t.Errorf("rollback command wrote %q, %v; want one rollback v2.1.0 -> v2.0.3", b, err)
	}
	stored, err := st.GetAction(ctx, a.ID)
	if err != nil || stored.State != store.StateApplied || stored.Params["reason"] != "checkout errors after deploy" {
		t.Errorf("stored %+v, %v; want the applied rollback with its reason", stored, err)
	}
	if recs := rm.Rollbacker().Records(); len(recs) != 1 || recs[0].Reason != "checkout errors after deploy" || recs[0].Automatic {
		t.Errorf("rollback records %+v, want one manual with the reason", recs)
	}

	clk.advance(time.Minute)
	refused, err := e.TriggerManualRollback(ctx, "again", "v2.0.3", "v2.0.2")
	if !errors.Is(err, regress.ErrCooldown) || !errors.Is(err, ErrRefused) {
		t.Errorf("inside the cooldown: err = %v, want ErrCooldown as a refusal", err)
	}
	// Refused by a rule, not failed: nothing was tried.
	if refused.State != ActionRejected || !strings.Contains(refused.Error, "cooldown") {
		t.Errorf("refused rollback %+v, want rejected with the cooldown as the reason", refused)
	}
	if stored, err := st.GetAction(ctx, refused.ID); err != nil || stored.State != store.StateRejected {
		t.Errorf("stored refused rollback %+v, %v; want it rejected", stored, err)
	}
	clk.advance(10 * time.Minute)
	if _, err := e.TriggerManualRollback(ctx, "  ", "v2.0.3", "v2.0.2"); !errors.Is(err, ErrInvalidRollback) {
		t.Errorf("blank reason: err = %v, want ErrInvalidRollback", err)
	}
	if _, err := e.TriggerManualRollback(ctx, "same", "v2.0.3", "v2.0.3"); !errors.Is(err, ErrInvalidRollback) {
		t.Errorf("from == to: err = %v, want ErrInvalidRollback", err)
	}

	off := DefaultConfig()
	off.Modules.Regression = false
	e2, err := New(off)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e2.TriggerManualRollback(ctx, "why", "a", "b"); !errors.Is(err, ErrNoRegressionModule) {
		t.Errorf("regression off: err = %v, want ErrNoRegressionModule", err)
	}
}
