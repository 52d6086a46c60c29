package loadtest_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/perfengine/perfengine/loadtest"
)

// An open-model test: 200 requests a second for half a second, with latency
// measured from each request's scheduled start.
func ExampleRun() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok"))
	}))
	defer srv.Close()

	res, err := loadtest.Run(context.Background(), loadtest.Plan{
		Targets:   []loadtest.Target{{URL: srv.URL + "/api/products"}},
		Rate:      200,
		Duration:  500 * time.Millisecond,
		LateAfter: time.Minute, // keep the example's counts exact on a busy machine
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Model, res.Requests, res.StatusCodes[200], res.Dropped)
	// Output: open 100 100 0
}

// A stress test steps the arrival rate up and reports the knee: the last
// step that met the SLO.
func ExampleStress() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()

	sr, err := loadtest.Stress(context.Background(), loadtest.StressPlan{
		Base:  loadtest.Plan{Targets: []loadtest.Target{{URL: srv.URL}}, LateAfter: time.Minute},
		Start: 50, Max: 100, Step: 50, StepDuration: 200 * time.Millisecond,
		SLOP99: 5 * time.Second,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(sr.Steps), sr.Steps[sr.Knee].Load)
	// Output: 2 100
}

func ExampleParseThreshold() {
	th, err := loadtest.ParseThreshold("p99<200ms")
	if err != nil {
		fmt.Println(err)
		return
	}
	r := th.Check(&loadtest.Result{Latency: loadtest.Latency{P99: 231.5}})
	fmt.Println(r.Metric, r.Op, r.Value, r.Actual, r.Pass)
	// Output: p99 < 200 231.5 false
}

func ExampleReadTargets() {
	const file = `{"url":"http://127.0.0.1:8080/api/products"}
{"method":"POST","url":"http://127.0.0.1:8080/api/orders","body":"{}","weight":2}
{"url":"not a url"}
`
	_, err := loadtest.ReadTargets(strings.NewReader(file))
	fmt.Println(err)
	// Output: line 3: url "not a url": scheme must be http or https
}

// The seed API's closed-model helper.
func ExampleRunLoadTest() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()

	res, err := loadtest.RunLoadTest(context.Background(), loadtest.LoadTestOptions{URL: srv.URL, Concurrent: 4, Duration: 200 * time.Millisecond})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Model, res.Requests > 0, res.SuccessRatio())
	// Output: closed true 1
}

// A result renders as text, the JSON summary, an HTML report, or a baseline
// for `perfengine regress compare`.
func ExampleReport_WriteHTML() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()

	res, err := loadtest.Run(context.Background(), loadtest.Plan{Targets: []loadtest.Target{{URL: srv.URL}}, Rate: 100, Duration: time.Second})
	if err != nil {
		fmt.Println(err)
		return
	}
	f, err := os.Create(filepath.Join(os.TempDir(), "load.html"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	if err := (loadtest.Report{Title: "products API", Generated: time.Now(), Load: res}).WriteHTML(f); err != nil {
		fmt.Println(err)
	}
}
