package target

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/perfengine/perfengine/metrics"
	"github.com/perfengine/perfengine/netopt"
)

// Names of a probe's figures, in milliseconds, as the blackbox exporter
// splits a request.
const (
	ProbeDNSMs      = "probe_dns_ms"
	ProbeConnectMs  = "probe_connect_ms"
	ProbeTLSMs      = "probe_tls_ms"
	ProbeTTFBMs     = "probe_ttfb_ms"
	ProbeDurationMs = "probe_duration_ms"
	ProbeStatusCode = "probe_status_code"
)

// maxProbeBody bounds what a probe reads of a body: it times the answer,
// it does not need all of it.
const maxProbeBody = 1 << 20

// probeSource is a synthetic HTTP check. Each probe builds its own netopt
// transport without keep-alives, retries, hedging or circuit breaking, so
// every probe pays and reports the full DNS, connect and TLS cost of a new
// visitor, and its figures are that one request's.
type probeSource struct {
	method string
	url    string
	expect []int
}

func (p *probeSource) scrape(ctx context.Context, now time.Time) (result, error) {
	tr, err := netopt.New(netopt.Config{
		Pool:    netopt.PoolConfig{DisableKeepAlives: true, MaxIdleConnections: 1},
		Retry:   netopt.RetryConfig{Disabled: true},
		Hedge:   netopt.HedgeConfig{Disabled: true},
		Breaker: netopt.BreakerConfig{Disabled: true},
	})
	if err != nil {
		return result{}, fmt.Errorf("build transport: %w", err)
	}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, p.method, p.url, nil)
	if err != nil {
		return result{}, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("User-Agent", "perfengine-probe")
	start := time.Now()
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return result{}, fmt.Errorf("%s %s: %w", p.method, p.url, err)
	}
	n, rerr := io.Copy(io.Discard, io.LimitReader(resp.Body, maxProbeBody))
	resp.Body.Close()
	total := time.Since(start)
	r := result{bytes: n}
	add := func(name string, d time.Duration) {
		r.samples = append(r.samples, metrics.Sample{Name: name, Value: float64(d) / float64(time.Millisecond), Unit: metrics.UnitMilliseconds, Time: now})
	}
	for _, h := range tr.Metrics(ctx).Hosts {
		add(ProbeDNSMs, h.DNS)
		add(ProbeConnectMs, h.Connect)
		add(ProbeTLSMs, h.TLS)
		add(ProbeTTFBMs, h.TTFB)
		break
	}
	add(ProbeDurationMs, total)
	r.samples = append(r.samples, metrics.Sample{Name: ProbeStatusCode, Value: float64(resp.StatusCode), Unit: metrics.UnitCount, Time: now})
	if rerr != nil {
		return r, fmt.Errorf("%s %s: read body: %w", p.method, p.url, rerr)
	}
	if !p.expected(resp.StatusCode) {
		return r, fmt.Errorf("%s %s: HTTP %d, want %s", p.method, p.url, resp.StatusCode, p.want())
	}
	return r, nil
}

func (p *probeSource) expected(code int) bool {
	if len(p.expect) == 0 {
		return code >= 200 && code < 400
	}
	for _, c := range p.expect {
		if c == code {
			return true
		}
	}
	return false
}

func (p *probeSource) want() string {
	if len(p.expect) == 0 {
		return "2xx or 3xx"
	}
	s := ""
	for i, c := range p.expect {
		if i > 0 {
			s += " or "
		}
		s += strconv.Itoa(c)
	}
	return s
}
