package regress

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"time"

	"github.com/perfengine/perfengine/store"
)

// Errors of rollbacks.
var (
	// ErrCooldown means a rollback came too soon after the previous one.
	ErrCooldown = errors.New("regress: rollback cooldown")
	// ErrRollbackLoop means a rollback would return to a version already
	// rolled back from, or leave the version a rollback went to.
	ErrRollbackLoop = errors.New("regress: rollback loop")
)

// RollbackRequest says what to roll back.
type RollbackRequest struct {
	From      string `json:"from"`
	To        string `json:"to"`
	Reason    string `json:"reason"`
	Automatic bool   `json:"automatic"`
}

// Actuator performs a rollback.
type Actuator interface {
	Rollback(ctx context.Context, r RollbackRequest) error
}

// CommandActuator runs a program with the request in its environment:
// PERFENGINE_ROLLBACK_FROM, PERFENGINE_ROLLBACK_TO,
// PERFENGINE_ROLLBACK_REASON and PERFENGINE_ROLLBACK_AUTOMATIC. No shell is
// involved: Command[0] is the program, the rest its arguments.
type CommandActuator struct {
	Command []string
	// Env is added to the process environment.
	Env []string
}

// Rollback runs the command and returns its error with the tail of its
// output.
func (c CommandActuator) Rollback(ctx context.Context, r RollbackRequest) error {
	if len(c.Command) == 0 {
		return errors.New("rollback command: empty command")
	}
	cmd := exec.CommandContext(ctx, c.Command[0], c.Command[1:]...)
	cmd.Env = append(os.Environ(), c.Env...)
	cmd.Env = append(cmd.Env,
		"PERFENGINE_ROLLBACK_FROM="+r.From,
		"PERFENGINE_ROLLBACK_TO="+r.To,
		"PERFENGINE_ROLLBACK_REASON="+r.Reason,
		"PERFENGINE_ROLLBACK_AUTOMATIC="+strconv.FormatBool(r.Automatic),
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		if len(out) > 512 {
			out = out[len(out)-512:]
		}
		return fmt.Errorf("rollback command: %w: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

// WebhookActuator POSTs the request as JSON and expects a 2xx answer.
type WebhookActuator struct {
	URL    string
	Client *http.Client // default: 30 s timeout
	Header http.Header
}

// Rollback calls the webhook.
func (w WebhookActuator) Rollback(ctx context.Context, r RollbackRequest) error {
	body, _ := json.Marshal(r)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("rollback webhook: %w", err)
	}
	for k, v := range w.Header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	c := w.Client
	if c == nil {
		c = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("rollback webhook: %w", err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("rollback webhook: %s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

// Rollback outcomes.
const (
	RollbackExecuted = "executed"
	RollbackDryRun   = "dry_run"
	RollbackFailed   = "failed"
)

// RollbackRecord is one rollback, done or simulated.
type RollbackRecord struct {
	ID string `json:"id"`
	RollbackRequest
	Time    time.Time `json:"time"`
	DryRun  bool      `json:"dry_run"`
	Outcome string    `json:"outcome"`
	Error   string    `json:"error,omitempty"`
}

// RollbackOptions configure a Rollbacker. Zero values mean the defaults.
type RollbackOptions struct {
	// Actuator performs rollbacks; nil means every rollback is a dry run.
	Actuator Actuator
	// DryRun records rollbacks without performing them.
	DryRun bool
	// Cooldown is the least time between two rollbacks; default 30m.
	Cooldown time.Duration
	// Consecutive is how many failed evaluations in a row trigger an
	// automatic rollback; default 3.
	Consecutive int
	// Store, when set, keeps every record as an action of module
	// "regression", kind "rollback".
	Store store.Store
	// Clock is the time source; default time.Now.
	Clock func() time.Time
}

// Default rollback settings.
const (
	DefaultRollbackCooldown    = 30 * time.Minute
	DefaultRollbackConsecutive = 3
)

// Rollbacker decides and performs rollbacks. It never rolls back twice
// within the cooldown, and never automatically rolls back from a version
// it rolled back to, or to a version it rolled back from: two bad versions
// would otherwise alternate forever. It is safe for concurrent use.
type Rollbacker struct {
	o RollbackOptions

	mu      sync.Mutex
	last    time.Time
	fails   map[string]int // consecutive failed evaluations by version
	badFrom map[string]bool
	goodTo  map[string]bool
	records []RollbackRecord
	seq     int
}

// NewRollbacker returns a Rollbacker with options o.
func NewRollbacker(o RollbackOptions) *Rollbacker {
	if o.Cooldown <= 0 {
		o.Cooldown = DefaultRollbackCooldown
	}
	if o.Consecutive <= 0 {
		o.Consecutive = DefaultRollbackConsecutive
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	return &Rollbacker{o: o, fails: map[string]int{}, badFrom: map[string]bool{}, goodTo: map[string]bool{}}
}

// DryRun reports whether rollbacks are simulated.
func (r *Rollbacker) DryRun() bool { return r.o.DryRun || r.o.Actuator == nil }

// TriggerManualRollback rolls back from one version to another because a
// person said so. Only the cooldown applies: people may break loops.
func (r *Rollbacker) TriggerManualRollback(ctx context.Context, reason, from, to string) (RollbackRecord, error) {
	return r.rollback(ctx, RollbackRequest{From: from, To: to, Reason: reason})
}

// Rollback performs (or, in dry-run, records) the rollback r describes,
// under the cooldown and, when r.Automatic, the loop guard.
func (r *Rollbacker) Rollback(ctx context.Context, req RollbackRequest) (RollbackRecord, error) {
	return r.rollback(ctx, req)
}

// Evaluate counts consecutive failing verdicts of version from and rolls
// back to version to after Consecutive of them in a row, if auto is set;
// any other verdict resets the count. It returns the record when it rolled
// back (or simulated doing so).
func (r *Rollbacker) Evaluate(ctx context.Context, auto bool, from, to string, v Verdict, reason string) (RollbackRecord, bool, error) {
	r.mu.Lock()
	if v != Fail {
		r.fails[from] = 0
		r.mu.Unlock()
		return RollbackRecord{}, false, nil
	}
	r.fails[from]++
	n := r.fails[from]
	r.mu.Unlock()
	if !auto || n < r.o.Consecutive {
		return RollbackRecord{}, false, nil
	}
	rec, err := r.rollback(ctx, RollbackRequest{From: from, To: to, Reason: reason, Automatic: true})
	if err != nil {
		return rec, false, err
	}
	return rec, true, nil
}

// Failures returns how many failing evaluations in a row version has had.
func (r *Rollbacker) Failures(version string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fails[version]
}

// Records returns every rollback so far, oldest first.
func (r *Rollbacker) Records() []RollbackRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]RollbackRecord(nil), r.records...)
}

func (r *Rollbacker) rollback(ctx context.Context, req RollbackRequest) (RollbackRecord, error) {
	if req.From == "" || req.To == "" {
		return RollbackRecord{}, errors.New("rollback: need both the current and the target version")
	}
	if req.From == req.To {
		return RollbackRecord{}, fmt.Errorf("rollback: current and target version are both %q", req.From)
	}
	now := r.o.Clock()
	r.mu.Lock()
	if !r.last.IsZero() && now.Sub(r.last) < r.o.Cooldown {
		wait := r.o.Cooldown - now.Sub(r.last)
		r.mu.Unlock()
		return RollbackRecord{}, fmt.Errorf("%w: next rollback allowed in %s", ErrCooldown, wait.Round(time.Second))
	}
	if req.Automatic && (r.goodTo[req.From] || r.badFrom[req.To]) {
		r.mu.Unlock()
		return RollbackRecord{}, fmt.Errorf("%w: %s → %s", ErrRollbackLoop, req.From, req.To)
	}
	r.last = now
	r.seq++
	rec := RollbackRecord{ID: fmt.Sprintf("rollback-%d-%d", now.UnixNano(), r.seq), RollbackRequest: req, Time: now, DryRun: r.DryRun()}
	r.badFrom[req.From] = true
	r.goodTo[req.To] = true
	r.fails[req.From] = 0
	r.mu.Unlock()

	rec.Outcome = RollbackDryRun
	if !rec.DryRun {
		if err := r.o.Actuator.Rollback(ctx, req); err != nil {
			rec.Outcome, rec.Error = RollbackFailed, err.Error()
		} else {
			rec.Outcome = RollbackExecuted
		}
	}
	r.mu.Lock()
	r.records = append(r.records, rec)
	r.mu.Unlock()
	if r.o.Store != nil {
		if err := r.o.Store.SaveAction(context.WithoutCancel(ctx), rec.action()); err != nil {
			return rec, fmt.Errorf("record rollback: %w", err)
		}
	}
	if rec.Outcome == RollbackFailed {
		return rec, errors.New(rec.Error)
	}
	return rec, nil
}

func (rec RollbackRecord) action() store.Action {
	state := store.StateApplied
	if rec.Outcome == RollbackFailed {
		state = store.StateFailed
	}
	return store.Action{
		ID: rec.ID, Module: "regression", Kind: "rollback", Target: rec.From,
		Description: fmt.Sprintf("roll back %s to %s: %s", rec.From, rec.To, rec.Reason),
		Risk:        "risky",
		Undo:        fmt.Sprintf("deploy %s again", rec.From),
		Params: map[string]string{
			"from": rec.From, "to": rec.To, "dry_run": strconv.FormatBool(rec.DryRun),
			"automatic": strconv.FormatBool(rec.Automatic),
		},
		State: state, Result: rec.Outcome, Error: rec.Error,
		CreatedAt: rec.Time, UpdatedAt: rec.Time,
	}
}
