package perfengine

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/perfengine/perfengine/metrics"
	"github.com/perfengine/perfengine/netopt"
)

// Network module sample names, one series per upstream host (label "host",
// host:port, bounded by netopt's MaxHosts).
const (
	NetHostP95Ms       = "net_host_p95_ms"
	NetHostP99Ms       = "net_host_p99_ms"
	NetHostTTFBMs      = "net_host_ttfb_ms"
	NetHostDNSMs       = "net_host_dns_ms"
	NetHostConnectMs   = "net_host_connect_ms"
	NetHostTLSMs       = "net_host_tls_ms"
	NetHostReuseRatio  = "net_host_reuse_ratio"
	NetHostErrorRate   = "net_host_error_rate"
	NetHostRequests    = "net_host_requests"
	NetHostRetries     = "net_host_retries"
	NetHostHedges      = "net_host_hedges"
	NetHostBreakerOpen = "net_host_breaker_open" // 1 while the circuit is open or half-open
	NetHostPeakInFlt   = "net_host_inflight_peak"
)

// Action and finding kinds of the network module.
const (
	ActionResizePool   = netopt.KindResizePool
	FindingSlowHost    = netopt.KindSlowHost
	FindingBreakerOpen = netopt.KindBreakerOpen
)

// NetworkModule adapts a netopt.Transport: per-host latency, connection
// phases, reuse, retries and hedges as samples; slow hosts and open
// circuits as findings; a larger idle pool as a safe, undoable action when
// the observed concurrency outgrows it. It is safe for concurrent use.
type NetworkModule struct {
	t   *netopt.Transport
	now func() time.Time
}

var (
	_ Module   = (*NetworkModule)(nil)
	_ Undoer   = (*NetworkModule)(nil)
	_ Reporter = (*NetworkModule)(nil)
	_ Starter  = (*NetworkModule)(nil)
)

// NewNetworkModule wraps a transport the caller built and sends through.
func NewNetworkModule(t *netopt.Transport) *NetworkModule {
	return &NetworkModule{t: t, now: time.Now}
}

// NewNetworkModuleFromConfig builds the transport from the engine's network
// section. Send the service's outbound calls through Client().
func NewNetworkModuleFromConfig(c NetworkConfig, opts ...netopt.Option) (*NetworkModule, error) {
	t, err := netopt.New(c.Netopt(), opts...)
	if err != nil {
		return nil, fmt.Errorf("network: %w", err)
	}
	return NewNetworkModule(t), nil
}

// Transport returns the wrapped transport.
func (m *NetworkModule) Transport() *netopt.Transport { return m.t }

// Client returns an *http.Client sending through the transport.
func (m *NetworkModule) Client() *http.Client { return m.t.Client() }

// Name returns "network".
func (*NetworkModule) Name() string { return "network" }

// Start does nothing: the transport works inside the service's calls.
func (*NetworkModule) Start(context.Context) error { return nil }

// Stop closes the idle connections.
func (m *NetworkModule) Stop(context.Context) error {
	m.t.CloseIdleConnections()
	return nil
}

// Collect reports every host's figures.
func (m *NetworkModule) Collect(ctx context.Context) ([]metrics.Sample, error) {
	nm := m.t.Metrics(ctx)
	out := make([]metrics.Sample, 0, 13*len(nm.Hosts))
	for _, h := range nm.Hosts {
		l := map[string]string{"host": h.Host}
		add := func(name string, v float64, u metrics.Unit) {
			out = append(out, metrics.Sample{Name: name, Value: v, Unit: u, Labels: l, Time: nm.Time})
		}
		open := 0.0
		if h.Breaker != netopt.BreakerClosed {
			open = 1
		}
		add(NetHostP95Ms, ms(h.P95), metrics.UnitMilliseconds)
		add(NetHostP99Ms, ms(h.P99), metrics.UnitMilliseconds)
		add(NetHostTTFBMs, ms(h.TTFB), metrics.UnitMilliseconds)
		add(NetHostDNSMs, ms(h.DNS), metrics.UnitMilliseconds)
		add(NetHostConnectMs, ms(h.Connect), metrics.UnitMilliseconds)
		add(NetHostTLSMs, ms(h.TLS), metrics.UnitMilliseconds)
		add(NetHostReuseRatio, h.ReuseRatio, metrics.UnitRatio)
		add(NetHostErrorRate, h.ErrorRate, metrics.UnitRatio)
		add(NetHostRequests, float64(h.Requests), metrics.UnitTotal)
		add(NetHostRetries, float64(h.Retries), metrics.UnitTotal)
		add(NetHostHedges, float64(h.Hedges), metrics.UnitTotal)
		add(NetHostBreakerOpen, open, metrics.UnitCount)
		add(NetHostPeakInFlt, float64(h.PeakInFlight), metrics.UnitCount)
	}
	return out, nil
}

// Recommend proposes a larger idle pool where the observed concurrency
// outgrew it.
func (m *NetworkModule) Recommend(ctx context.Context, _ Snapshot) ([]Action, error) {
	var out []Action
	for _, r := range m.t.Recommendations(ctx) {
		if r.Kind != netopt.KindResizePool {
			continue
		}
		out = append(out, Action{
			Module: "network", Kind: ActionResizePool, Target: "pool", Risk: RiskSafe,
			Description: r.Reason,
			Impact:      fmt.Sprintf("keep %d idle connections per host (now %d): fewer new connections under load", r.Idle, m.t.PoolIdle()),
			Undo:        "restore the previous idle pool size",
			Params:      map[string]string{"idle": strconv.Itoa(r.Idle), "host": r.Host},
		})
	}
	return out, nil
}

// Apply resizes the idle pool and remembers the previous size.
func (m *NetworkModule) Apply(_ context.Context, a Action) (Result, error) {
	idle, err := netActionIdle(a, "idle")
	if err != nil {
		return Result{}, err
	}
	prev, err := m.t.ResizePool(idle)
	if err != nil {
		return Result{}, err
	}
	return Result{
		Message: fmt.Sprintf("idle connections per host %d -> %d", prev, idle),
		Params:  map[string]string{"previous_idle": strconv.Itoa(prev)},
	}, nil
}

// Undo restores the pool size Apply replaced.
func (m *NetworkModule) Undo(_ context.Context, a Action) error {
	prev, err := netActionIdle(a, "previous_idle")
	if err != nil {
		return err
	}
	_, err = m.t.ResizePool(prev)
	return err
}

func netActionIdle(a Action, param string) (int, error) {
	if a.Kind != ActionResizePool {
		return 0, fmt.Errorf("network: unknown action kind %q: %w", a.Kind, ErrNotFound)
	}
	n, err := strconv.Atoi(a.Params[param])
	if err != nil || n < 1 {
		return 0, fmt.Errorf("network: action %s needs a positive %s, got %q", a.ID, param, a.Params[param])
	}
	return n, nil
}

// Findings lists slow hosts and open circuits.
func (m *NetworkModule) Findings() []Finding {
	var out []Finding
	now := m.now()
	for _, r := range m.t.Recommendations(context.Background()) {
		f := Finding{Module: "network", Kind: r.Kind, Title: r.Reason, Time: now, Subject: r.Host}
		switch r.Kind {
		case netopt.KindSlowHost:
			f.Severity = SeverityWarning
		case netopt.KindBreakerOpen:
			f.Severity = SeverityCritical
			f.Detail = "last failure: " + r.Err
		default:
			continue
		}
		out = append(out, f)
	}
	return out
}
