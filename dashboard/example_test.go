package dashboard_test

import (
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/perfengine/perfengine"
	"github.com/perfengine/perfengine/dashboard"
)

func ExampleNew() {
	dir, err := os.MkdirTemp("", "dashboard-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	cfg := perfengine.DefaultConfig()
	cfg.Store.DataDir = dir
	cfg.MonitoringInterval = perfengine.Duration(5 * time.Second)
	reg := prometheus.NewRegistry()
	eng, err := perfengine.New(cfg, perfengine.WithRegisterer(reg))
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := eng.Start(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	defer eng.Stop(context.Background())

	srv := httptest.NewServer(dashboard.New(eng, dashboard.Options{Gatherer: reg}))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/metrics")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, strings.Contains(string(body), "perfengine_engine_cycles_total 1"))
	// Output: 200 true
}

func ExampleCheckExposure() {
	fmt.Println(dashboard.CheckExposure("127.0.0.1:7070", ""))
	fmt.Println(dashboard.CheckExposure("0.0.0.0:7070", ""))
	fmt.Println(dashboard.CheckExposure("0.0.0.0:7070", "s3cret"))
	// Output:
	// <nil>
	// server.addr "0.0.0.0:7070" is not a loopback address: set server.token or PERFENGINE_TOKEN to guard approve and undo
	// <nil>
}

func ExampleParseActionRequest() {
	req, err := dashboard.ParseActionRequest("application/json", []byte(`{"reason": "the index halves p95"}`))
	fmt.Printf("%q %v\n", req.Reason, err)
	_, err = dashboard.ParseActionRequest("text/plain", []byte("please"))
	fmt.Println(err)
	// Output:
	// "the index halves p95" <nil>
	// content type "text/plain" must be application/json or application/x-www-form-urlencoded
}
