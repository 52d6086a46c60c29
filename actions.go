package perfengine

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/perfengine/perfengine/store"
)

// failedCooldown is how long a failed action's target is left alone before
// its module may propose it again.
const failedCooldown = time.Hour

// historyCap bounds the actions kept in memory; the store keeps them all.
const historyCap = 1000

// actionBook holds every action the engine knows, and which (module, kind,
// target) keys are live, so that a module proposing the same thing every
// interval gets one action, and what a person undid is not proposed again.
type actionBook struct {
	mu    sync.Mutex
	byID  map[string]*Action
	order []string // oldest first
	// live maps a key to the action that holds it: pending or applied, undone
	// (never re-proposed in this process) or failed (until the cooldown).
	live map[string]string
	// busy marks actions being applied or undone.
	busy map[string]bool
}

func newActionBook() *actionBook {
	return &actionBook{byID: map[string]*Action{}, live: map[string]string{}, busy: map[string]bool{}}
}

func actionKey(a Action) string { return a.Module + "\x00" + a.Kind + "\x00" + a.Target }

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// propose records a proposal. It returns the action and true when it is new;
// a proposal whose key is live updates the pending action's text instead.
func (b *actionBook) propose(a Action, now time.Time) (Action, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	key := actionKey(a)
	if id, ok := b.live[key]; ok {
		cur := b.byID[id]
		switch {
		case cur.State == ActionPending && !b.busy[id]:
			cur.Description, cur.Impact, cur.Undo = a.Description, a.Impact, a.Undo
			cur.Params, cur.Risk, cur.PreApproved, cur.Expect = a.Params, a.Risk, a.PreApproved, a.Expect
			return *cur, false
		case cur.State == ActionFailed && now.Sub(cur.UpdatedAt) >= failedCooldown:
			// Let the module try again.
		default:
			return *cur, false
		}
	}
	a.ID = newID()
	a.State = ActionPending
	a.CreatedAt, a.UpdatedAt = now, now
	a.Result, a.Error = "", ""
	b.insert(&a)
	b.live[key] = a.ID
	return a, true
}

// direct records an action a person asked for, pending and outside the
// proposal keys, so it neither merges with nor blocks a module's proposal.
func (b *actionBook) direct(a Action, now time.Time) Action {
	b.mu.Lock()
	defer b.mu.Unlock()
	a.ID = newID()
	a.State = ActionPending
	a.CreatedAt, a.UpdatedAt = now, now
	b.insert(&a)
	return a
}

// restore loads an action from the store at start.
func (b *actionBook) restore(a Action) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.byID[a.ID]; ok {
		return
	}
	if v := a.Verification; v != nil && v.State == VerifyMeasuring {
		// The window after it was measured by the process that stopped;
		// this one cannot tell its effect from the restart's.
		v.State, v.Note = VerifyNoData, "the engine restarted before the window after the action filled"
	}
	b.insert(&a)
	// What a person undid stays undone, a failure keeps its cooldown, and a
	// pending proposal is not duplicated. An action applied by an earlier
	// process is history only: its module re-proposes it if its effect did
	// not survive the restart (a runtime setting, unlike an index).
	switch a.State {
	case ActionUndone, ActionFailed, ActionPending:
		b.live[actionKey(a)] = a.ID
	}
}

func (b *actionBook) insert(a *Action) {
	b.byID[a.ID] = a
	b.order = append(b.order, a.ID)
	for len(b.order) > historyCap {
		old := b.order[0]
		b.order = b.order[1:]
		if a := b.byID[old]; a != nil && b.live[actionKey(*a)] == old && a.State != ActionApplied {
			delete(b.live, actionKey(*a))
		}
		delete(b.byID, old)
	}
}

func (b *actionBook) get(id string) (Action, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	a, ok := b.byID[id]
	if !ok {
		return Action{}, false
	}
	return clone(*a), true
}

// claim marks an action busy if it is in state want, so that two callers
// never apply or undo the same action at once.
func (b *actionBook) claim(id string, want ActionState) (Action, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	a, ok := b.byID[id]
	if !ok || a.State != want || b.busy[id] {
		return Action{}, false
	}
	b.busy[id] = true
	return clone(*a), true
}

// finish records the outcome of work on a claimed action: state ok on
// success, failed on error.
func (b *actionBook) finish(id string, now time.Time, res Result, err error, ok ActionState) Action {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.busy, id)
	a := b.byID[id]
	a.UpdatedAt = now
	if errors.Is(err, ErrRefused) {
		a.State, a.Error = ActionRejected, err.Error()
		return clone(*a)
	}
	if err != nil {
		a.State, a.Error = ActionFailed, err.Error()
		return clone(*a)
	}
	a.State, a.Result, a.Error = ok, res.Message, ""
	if len(res.Params) > 0 {
		if a.Params == nil {
			a.Params = map[string]string{}
		}
		maps.Copy(a.Params, res.Params)
	}
	return clone(*a)
}

// list returns actions in the given states, newest first.
func (b *actionBook) list(states ...ActionState) []Action {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Action, 0, len(b.order))
	for i := len(b.order) - 1; i >= 0; i-- {
		a := b.byID[b.order[i]]
		if len(states) == 0 || slices.Contains(states, a.State) {
			out = append(out, clone(*a))
		}
	}
	return out
}

func clone(a Action) Action {
	a.Params = maps.Clone(a.Params)
	if a.Verification != nil {
		v := *a.Verification
		a.Verification = &v
	}
	return a
}

func toRecord(a Action) store.Action {
	return store.Action{
		ID: a.ID, Module: a.Module, Kind: a.Kind, Target: a.Target,
		Description: a.Description, Impact: a.Impact, Risk: string(a.Risk), Undo: a.Undo,
		Params: a.Params, State: string(a.State), Result: a.Result, Error: a.Error,
		CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt,
	}
}

func fromRecord(r store.Action) Action {
	return Action{
		ID: r.ID, Module: r.Module, Kind: r.Kind, Target: r.Target,
		Description: r.Description, Impact: r.Impact, Risk: Risk(r.Risk), Undo: r.Undo,
		Params: r.Params, State: ActionState(r.State), Result: r.Result, Error: r.Error,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, Verification: verificationOf(r.Params),
	}
}
