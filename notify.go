package perfengine

import (
	"context"

	"github.com/perfengine/perfengine/store"
)

// notify sends an alert to the configured notifiers without blocking the
// cycle.
func (e *Engine) notify(ctx context.Context, al store.Alert) {
	if e.notifier == nil {
		return
	}
	e.notifier.Notify(ctx, al)
}
