package demo

import (
	"fmt"

	"github.com/perfengine/perfengine"
	"github.com/perfengine/perfengine/netopt"
)

// wireNetwork sends the demo's load driver through the network optimizer,
// so the engine's summary shows the outbound figures (p95, time to first
// byte, connection reuse, retries) of the demo's host as its callers see
// it. Hedging stays off for this client unless the configuration sets a
// delay: the demo's routes are slow on purpose, and a second copy of every
// slow call would hide from the other modules the problems they are there
// to find.
func wireNetwork(w *wiring) error {
	c := w.cfg.Network
	if c.HedgeDelay == 0 {
		c.HedgingDisabled = true
	}
	m, err := perfengine.NewNetworkModuleFromConfig(c, netopt.WithLogger(w.log))
	if err != nil {
		return fmt.Errorf("network optimizer: %w", err)
	}
	w.loadClient = m.Client()
	w.modules = append(w.modules, m)
	return nil
}
