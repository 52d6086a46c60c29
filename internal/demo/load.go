package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Load driver defaults.
const (
	DefaultLoadRate        = 5 // requests per second
	DefaultLoadMaxInFlight = 8 // concurrent requests
	maxLoadRate            = 1000
	loadUsers              = 50 // distinct bearer users for /api/me
)

// LoadOptions configure Load. Only BaseURL is required.
type LoadOptions struct {
	// BaseURL of the demo service, e.g. "http://127.0.0.1:8080".
	BaseURL string
	// Rate in requests per second; default DefaultLoadRate, at most 1000.
	Rate float64
	// MaxInFlight bounds concurrent requests; a tick that finds them all
	// busy is skipped, so a slow service is not buried. Default 8.
	MaxInFlight int
	// Client sends the requests; nil uses a private client with a 10 s
	// timeout whose connections are closed when Load returns.
	Client *http.Client
	// Seed picks the sequence of requests; the same seed, the same sequence.
	Seed uint64
	// Visitors spreads the requests over this many callers, so the
	// service sees distinct clients as it would a shop's visitors: the API
	// optimizer proposes caching a route only once different callers got
	// the same answer. The first is Client (or the default address); each
	// other one has connections of its own from a loopback address of its
	// own (127.0.0.2, 127.0.0.3, ...), or from the default address where
	// the system cannot bind those (only Linux routes all of 127/8 to the
	// loopback). 0 or 1: Client alone.
	Visitors int
}

// LoadStats count what Load did.
type LoadStats struct {
	Sent    uint64 `json:"sent"`    // requests answered, whatever the status
	Failed  uint64 `json:"failed"`  // transport errors and 5xx answers
	Skipped uint64 `json:"skipped"` // ticks dropped because MaxInFlight were busy
}

// Load drives a light, mixed load against the demo's routes until ctx is
// done: product pages, single products, searches, profiles, a few updates,
// slow calls and the home page. It waits for its requests to end and
// returns what it did; the error is only for invalid options.
func Load(ctx context.Context, opts LoadOptions) (LoadStats, error) {
	base, err := url.Parse(opts.BaseURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return LoadStats{}, fmt.Errorf("demo: load: BaseURL %q must be an absolute http URL", opts.BaseURL)
	}
	rate := opts.Rate
	if rate == 0 {
		rate = DefaultLoadRate
	}
	if !(rate > 0 && rate <= maxLoadRate) {
		return LoadStats{}, fmt.Errorf("demo: load: Rate %g must be in (0, %d]", opts.Rate, maxLoadRate)
	}
	inflight := opts.MaxInFlight
	if inflight == 0 {
		inflight = DefaultLoadMaxInFlight
	}
	if inflight < 0 {
		return LoadStats{}, fmt.Errorf("demo: load: MaxInFlight %d must not be negative", opts.MaxInFlight)
	}
	if opts.Visitors < 0 || opts.Visitors > maxVisitors {
		return LoadStats{}, fmt.Errorf("demo: load: Visitors %d must be in [0, %d]", opts.Visitors, maxVisitors)
	}
	first := opts.Client
	if first == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		defer tr.CloseIdleConnections()
		first = &http.Client{Timeout: 10 * time.Second, Transport: tr}
	}
	clients := []*http.Client{first}
	for v := 1; v < opts.Visitors; v++ {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.DialContext = visitorDialer(v - 1)
		defer tr.CloseIdleConnections()
		clients = append(clients, &http.Client{Timeout: 10 * time.Second, Transport: tr})
	}
	baseURL := strings.TrimSuffix(base.String(), "/")

	var (
		sent, failed atomic.Uint64
		skipped      uint64
		wg           sync.WaitGroup
		sem          = make(chan struct{}, inflight)
		r            = rand.New(rand.NewPCG(opts.Seed, seed2))
		tick         = time.NewTicker(time.Duration(float64(time.Second) / rate))
	)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return LoadStats{Sent: sent.Load(), Failed: failed.Load(), Skipped: skipped}, nil
		case <-tick.C:
		}
		select {
		case sem <- struct{}{}:
		default:
			skipped++
			continue
		}
		req, err := nextRequest(ctx, r, baseURL)
		if err != nil {
			<-sem
			return LoadStats{}, fmt.Errorf("demo: load: %w", err)
		}
		client := clients[0]
		if len(clients) > 1 {
			client = clients[r.IntN(len(clients))]
		}
		wg.Go(func() {
			defer func() { <-sem }()
			resp, err := client.Do(req)
			if err != nil {
				if ctx.Err() == nil {
					failed.Add(1)
				}
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			sent.Add(1)
			if resp.StatusCode >= 500 {
				failed.Add(1)
			}
		})
	}
}

// maxVisitors bounds LoadOptions.Visitors: the default address and
// 127.0.0.2 to 127.0.0.254.
const maxVisitors = 254

// visitorDialer dials from visitor v's loopback address, or from the
// default one where the system cannot bind it.
func visitorDialer(v int) func(ctx context.Context, network, addr string) (net.Conn, error) {
	local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+v))}
	from := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second, LocalAddr: local}
	plain := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, _ := net.SplitHostPort(addr)
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() || ip.To4() == nil {
			return plain.DialContext(ctx, network, addr) // not the shop on this host's IPv4 loopback
		}
		c, err := from.DialContext(ctx, "tcp4", addr)
		if errors.Is(err, syscall.EADDRNOTAVAIL) {
			return plain.DialContext(ctx, network, addr)
		}
		return c, err
	}
}

// nextRequest draws one request of the mix. The weights roughly follow a
// shop: browsing dominates, writes are rare.
func nextRequest(ctx context.Context, r *rand.Rand, base string) (*http.Request, error) {
	var (
		method = http.MethodGet
		path   string
		body   io.Reader
		user   string
	)
	switch n := r.IntN(100); {
	case n < 30:
		path = fmt.Sprintf("/api/products?category=%s&page=%d", Categories[r.IntN(len(Categories))], 1+r.IntN(5))
	case n < 55:
		path = "/api/products/" + strconv.Itoa(1+r.IntN(ProductCount))
	case n < 65:
		path = "/api/search?q=" + url.QueryEscape(randomName(r))
	case n < 80:
		path, user = "/api/me", "user-"+strconv.Itoa(1+r.IntN(loadUsers))
	case n < 85:
		method, path = http.MethodPut, "/api/products/"+strconv.Itoa(1+r.IntN(ProductCount))
		body = strings.NewReader(`{"stock":` + strconv.Itoa(r.IntN(500)) + `}`)
	case n < 90:
		path = "/api/slow?ms=" + strconv.Itoa(50+r.IntN(200))
	case n < 94:
		path = "/api/related/" + strconv.Itoa(1+r.IntN(ProductCount))
	default:
		path = "/"
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+user)
	}
	return req, nil
}
