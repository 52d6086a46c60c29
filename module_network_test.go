package perfengine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/perfengine/perfengine/netopt"
)

func TestNetworkModuleLifecycle(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }))
	defer srv.Close()
	m, err := NewNetworkModuleFromConfig(NetworkConfig{SlowHost: Duration(time.Nanosecond)})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Stop(t.Context())
	for range 5 {
		resp, err := m.Client().Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	samples, err := m.Collect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(srv.URL, "http://")
	got := map[string]float64{}
	for _, s := range samples {
		if s.Labels["host"] != host {
			t.Fatalf("sample %s has host %q, want %q", s.Name, s.Labels["host"], host)
		}
		got[s.Name] = s.Value
	}
	if got[NetHostRequests] != 5 || got[NetHostP95Ms] <= 0 || got[NetHostReuseRatio] < 0.75 || got[NetHostBreakerOpen] != 0 {
		t.Errorf("samples %v: want 5 requests, a p95, reused connections and a closed breaker", got)
	}
	f := m.Findings()
	if len(f) != 1 || f[0].Kind != FindingSlowHost || f[0].Severity != SeverityWarning {
		t.Errorf("findings %+v, want one slow_host warning", f)
	}

	a := Action{ID: "a1", Kind: ActionResizePool, Params: map[string]string{"idle": "25"}}
	res, err := m.Apply(t.Context(), a)
	if err != nil || m.Transport().PoolIdle() != 25 || res.Params["previous_idle"] != "10" {
		t.Fatalf("Apply = %+v, %v; idle %d, want 25 from 10", res, err, m.Transport().PoolIdle())
	}
	a.Params["previous_idle"] = res.Params["previous_idle"]
	if err := m.Undo(t.Context(), a); err != nil || m.Transport().PoolIdle() != 10 {
		t.Errorf("Undo: %v, idle %d, want 10", err, m.Transport().PoolIdle())
	}
	if _, err := m.Apply(t.Context(), Action{Kind: "drop_table"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown kind: %v, want ErrNotFound", err)
	}
	if _, err := m.Apply(t.Context(), Action{Kind: ActionResizePool, Params: map[string]string{"idle": "-3"}}); err == nil {
		t.Error("negative idle accepted")
	}
}

func TestNetworkConfigValidate(t *testing.T) {
	tests := []struct {
		name  string
		c     NetworkConfig
		field string
	}{
		{"defaults", NetworkConfig{}, ""},
		{"idle above max", NetworkConfig{MaxConnections: 4, MaxIdleConnections: 8}, "network.maxIdleConnections"},
		{"attempts", NetworkConfig{MaxAttempts: 50}, "network.maxAttempts"},
		{"negative timeout", NetworkConfig{IdleTimeout: -1}, "network.idleTimeout"},
		{"tiny hedge", NetworkConfig{HedgeDelay: Duration(time.Microsecond)}, "network.hedgeDelay"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Network = tc.c
			err := cfg.Validate()
			if (err == nil) != (tc.field == "") || (err != nil && !strings.Contains(err.Error(), tc.field)) {
				t.Errorf("Validate(%+v) = %v, want a problem with %q", tc.c, err, tc.field)
			}
			if tc.field == "" {
				if err := tc.c.Netopt().Validate(); err != nil {
					t.Errorf("Netopt() of a valid section: %v", err)
				}
			}
		})
	}
}

// A service sends its outbound calls through the module's client; the
// engine then sees every upstream host's figures.
func ExampleNewNetworkModule() {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }))
	defer upstream.Close()
	tr, err := netopt.New(netopt.Config{})
	if err != nil {
		panic(err)
	}
	defer tr.CloseIdleConnections()
	m := NewNetworkModule(tr)
	resp, err := m.Client().Get(upstream.URL)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	samples, _ := m.Collect(context.Background())
	for _, s := range samples {
		if s.Name == NetHostRequests {
			fmt.Println(s.Name, s.Value)
		}
	}
	// Output: net_host_requests 1
}

// TestNetworkKeepAliveKey counts the connections the server sees for
// three sequential requests: one with keep-alive, three without.
func TestNetworkKeepAliveKey(t *testing.T) {
	off := false
	for _, tc := range []struct {
		name      string
		keepAlive *bool
		wantConns int64
	}{
		{"default", nil, 1},
		{"off", &off, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var conns atomic.Int64
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }))
			srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
				if s == http.StateNew {
					conns.Add(1)
				}
			}
			srv.Start()
			defer srv.Close()
			c := defaultNetworkConfig()
			if tc.keepAlive != nil {
				c.KeepAlive = tc.keepAlive
			}
			m, err := NewNetworkModuleFromConfig(c)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Stop(t.Context())
			for range 3 {
				resp, err := m.Client().Get(srv.URL)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			if got := conns.Load(); got != tc.wantConns {
				t.Errorf("keepAlive %v: server saw %d connections, want %d", tc.keepAlive, got, tc.wantConns)
			}
		})
	}
}
