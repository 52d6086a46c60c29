package demo

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/perfengine/perfengine"
)

// TestRunTLSSendsEarlyHintsOverH2 serves the shop over HTTPS: the page
// arrives over HTTP/2, its load driver trusts the certificate, and with
// early hints on, the second visit to / gets a 103 naming the hero before
// the page itself.
func TestRunTLSSendsEarlyHintsOverH2(t *testing.T) {
	cfg := perfengine.DefaultConfig()
	cfg.MonitoringInterval = perfengine.Duration(DefaultInterval)
	cfg.Browser.EarlyHints = true
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	var (
		mu      sync.Mutex
		proto   string
		hints   []string
		bodyOK  bool
		callErr error
	)
	res, err := Run(ctx, RunOptions{
		Addr: "127.0.0.1:0", DashboardAddr: "127.0.0.1:0", DataDir: t.TempDir(), Config: cfg, TLS: true, LoadRate: 5,
		// Ready blocks the start of the load driver: look from a goroutine.
		Ready: func(demoURL, _ string) {
			go func() {
				defer cancel()
				if !strings.HasPrefix(demoURL, "https://") {
					callErr = io.ErrUnexpectedEOF
					return
				}
				c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}}
				for visit := range 2 {
					var got []string
					trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
						if code == http.StatusEarlyHints {
							got = append(got, h.Values("Link")...)
						}
						return nil
					}}
					req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodGet, demoURL+"/", nil)
					resp, err := c.Do(req)
					if err != nil {
						callErr = err
						return
					}
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					mu.Lock()
					proto, bodyOK = resp.Proto, resp.StatusCode == 200 && strings.Contains(string(b), `fetchpriority="high"`)
					if visit == 1 {
						hints = got
					}
					mu.Unlock()
				}
				time.Sleep(2 * time.Second) // let the load driver send a few over TLS
			}()
		},
	})
	if err != nil || callErr != nil {
		t.Fatalf("run: %v; call: %v", err, callErr)
	}
	if proto != "HTTP/2.0" || !bodyOK {
		t.Fatalf("proto %s, rewritten page %v; want HTTP/2.0 and the hero prioritized", proto, bodyOK)
	}
	if !strings.Contains(strings.Join(hints, ","), "hero.png") {
		t.Errorf("103 Link fields %q; want a preload of the hero", hints)
	}
	if res.Load.Failed > 0 || res.Load.Sent == 0 {
		t.Errorf("load over TLS: %+v; want requests and no failures", res.Load)
	}
}
