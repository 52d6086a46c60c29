package netopt_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/perfengine/perfengine/netopt"
)

// A service that uses the transport alone registers its collector on its
// own registry.
func ExampleTransport_Collector() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	tr, _ := netopt.New(netopt.Config{})
	reg := prometheus.NewRegistry()
	reg.MustRegister(tr.Collector())
	resp, _ := tr.Client().Get(srv.URL)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	n, _ := testutil.GatherAndCount(reg, "perfengine_net_requests_total")
	fmt.Println("hosts with a request counter:", n)
	// Output: hosts with a request counter: 1
}
