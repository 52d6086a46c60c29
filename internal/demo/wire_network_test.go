package demo

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/perfengine/perfengine"
)

// The load driver's requests go through the network module's client, whose
// per-host figures then name the demo's host.
func TestWireNetwork(t *testing.T) {
	tests := []struct {
		name    string
		enabled bool
		modules int
	}{
		{"on", true, 1},
		{"off", false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := perfengine.DefaultConfig()
			cfg.Modules.Network = tc.enabled
			w := wiring{cfg: cfg, log: slog.New(slog.DiscardHandler)}
			if tc.enabled {
				if err := wireNetwork(&w); err != nil {
					t.Fatal(err)
				}
			}
			if len(w.modules) != tc.modules || (w.loadClient != nil) != tc.enabled {
				t.Fatalf("%d modules, client %v; want %d and a client iff enabled", len(w.modules), w.loadClient != nil, tc.modules)
			}
			if !tc.enabled {
				return
			}
			m := w.modules[0].(*perfengine.NetworkModule)
			defer m.Stop(context.Background())
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }))
			defer srv.Close()
			resp, err := w.loadClient.Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			samples, err := m.Collect(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			host := strings.TrimPrefix(srv.URL, "http://")
			found := false
			for _, s := range samples {
				found = found || (s.Name == perfengine.NetHostRequests && s.Labels["host"] == host && s.Value == 1)
			}
			if !found {
				t.Errorf("samples %v lack one request to %s", samples, host)
			}
		})
	}
}
