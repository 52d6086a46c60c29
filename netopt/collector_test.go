package netopt_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/perfengine/perfengine/netopt"
)

func TestCollectorCountsRequests(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer srv.Close()
	tr, err := netopt.New(netopt.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.CloseIdleConnections()
	reg := prometheus.NewRegistry()
	reg.MustRegister(tr.Collector())
	client := tr.Client()
	for i := 0; i < 3; i++ {
		resp, err := client.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	host := hostOf(t, srv.URL)
	want := `
# HELP perfengine_net_requests_total Requests sent through the transport.
# TYPE perfengine_net_requests_total counter
perfengine_net_requests_total{host="` + host + `"} 3
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "perfengine_net_requests_total"); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}

func hostOf(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}
