package perfengine

import (
	"context"
	"time"

	"github.com/perfengine/perfengine/metrics"
)

// RuntimeModule reports the process's own figures: CPU, memory against its
// limit, heap, GC and goroutines. The engine always runs it, so it is useful
// before any optimizer is configured. It proposes no actions; the memory
// module acts on memory.
type RuntimeModule struct {
	c   *metrics.RuntimeCollector
	now func() time.Time
}

var _ Module = (*RuntimeModule)(nil)

// NewRuntimeModule returns the runtime module.
func NewRuntimeModule() *RuntimeModule {
	return &RuntimeModule{c: metrics.NewRuntimeCollector(), now: time.Now}
}

// Name returns "runtime".
func (*RuntimeModule) Name() string { return "runtime" }

// Collect samples the runtime.
func (m *RuntimeModule) Collect(context.Context) ([]metrics.Sample, error) {
	return m.c.Collect(m.now()), nil
}

// Recommend proposes nothing.
func (*RuntimeModule) Recommend(context.Context, Snapshot) ([]Action, error) { return nil, nil }

// Apply refuses: the runtime module has no actions.
func (*RuntimeModule) Apply(context.Context, Action) (Result, error) {
	return Result{}, ErrNotFound
}
