package perfengine

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// ErrNoRegressionModule is returned by TriggerManualRollback when the
// regression module, which owns the rollback actuator, is not running.
var ErrNoRegressionModule = errors.New("the regression module is off (modules.regression): it performs rollbacks")

// ErrInvalidRollback is wrapped by TriggerManualRollback's errors about its
// arguments.
var ErrInvalidRollback = errors.New("rollback")

// TriggerManualRollback rolls the service back from one release to another
// because a person said so, the seed's triggerManualRollback(reason, from,
// to). from defaults to the running version (Config.Version) and to to
// regression.rollbackTo. It goes through the regression module's
// rollbacker: its actuator (command or webhook), dry run and cooldown apply,
// the loop guard does not (people may break loops). The rollback is
// recorded as an action carrying the reason: applied, failed, or rejected
// when the cooldown refuses it, in the action history and the store like
// any other.
func (e *Engine) TriggerManualRollback(ctx context.Context, reason, from, to string) (Action, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return Action{}, fmt.Errorf("%w: a reason is required: it is recorded with the rollback", ErrInvalidRollback)
	}
	cfg := e.Config()
	if from == "" {
		from = cfg.Version
	}
	if to == "" {
		to = cfg.Regression.RollbackTo
	}
	if from == "" || to == "" {
		return Action{}, fmt.Errorf("%w: need the version to leave (from, or the version key) and the one to return to (to, or regression.rollbackTo)", ErrInvalidRollback)
	}
	if from == to {
		return Action{}, fmt.Errorf("%w: from and to are both %q", ErrInvalidRollback, from)
	}
	if ms := e.module("regression"); ms == nil || !cfg.enabled("regression") {
		return Action{}, ErrNoRegressionModule
	}
	a := e.book.direct(Action{
		Module: "regression", Kind: ActionRollback, Target: from,
		Description: fmt.Sprintf("manual rollback of %s to %s: %s", from, to, reason),
		Impact:      "returns the service to " + to,
		Risk:        RiskRisky,
		Undo:        "deploy " + from + " again",
		Params:      map[string]string{"from": from, "to": to, "reason": reason, "automatic": "false", "manual": "true"},
	}, e.now())
	e.record(ctx, a)
	e.log.Info("manual rollback requested", "id", a.ID, "from", from, "to", to, "reason", reason)
	return e.apply(ctx, a.ID)
}
