// Package loadtest is perfengine's performance tester: open-model
// (constant or ramping arrival rate) and closed-model (fixed concurrency)
// HTTP load, stepped stress tests, and honest latency reports.
//
// # Honest latency
//
// In the open model, requests are due on a fixed schedule whatever the
// service does, and latency is measured from the moment a request was due,
// not from when a free connection finally sent it. A service that stalls for
// a second therefore shows a second of queueing in every request scheduled
// during the stall, instead of one slow request and a quiet gap (the
// "coordinated omission" that makes closed-loop tools flatter a stalling
// service). Both figures are reported: Latency (corrected, from the intended
// start) and LatencyUncorrected (from the actual send). Starts more than
// Plan.LateAfter behind schedule are counted late; starts that were due but
// never sent are counted dropped, as k6 counts dropped iterations.
//
// Each worker records into its own HDR histogram (github.com/HdrHistogram/
// hdrhistogram-go, three significant digits); they are merged at the end, so
// the hot path takes no shared lock. A per-second series of throughput,
// errors, p50 and p99 is gathered alongside.
//
// # Speed
//
// http:// targets go through [h1], a lean HTTP/1.1 engine that renders each
// request once and parses responses in place without allocating; https://
// targets, HTTP/2 (Protocol H2, or H2C for cleartext) and Protocol NetHTTP
// use net/http. On Linux a closed-model run of the lean client has no
// goroutine per connection: one event loop per CPU (Plan.Engine) drives its
// share of the connections with edge-triggered epoll, each socket
// registered once for both directions, so a request costs one write and one
// read and one epoll_wait serves every connection that became ready, as in
// wrk. A goroutine per connection pays more per request over the runtime's
// netpoller: a read that finds nothing yet, a park, a wake-up, a second
// read. The open model keeps its goroutines, since each start waits for its
// own scheduled moment.
//
// # Example
//
//	res, err := loadtest.Run(ctx, loadtest.Plan{
//		Targets:  []loadtest.Target{{URL: "http://127.0.0.1:8080/api/products"}},
//		Rate:     500,              // requests per second; 0 for a closed model
//		Duration: 30 * time.Second, // every run is bounded
//	})
//	if err != nil {
//		return err // an invalid plan; service failures are in res
//	}
//	res.WriteText(os.Stdout)
//	fmt.Println(res.Latency.P99, res.LatencyUncorrected.P99, res.Dropped)
//
// Stress steps the rate up until the service breaks and reports the knee,
// the last step that met the latency and error SLO:
//
//	sr, err := loadtest.Stress(ctx, loadtest.StressPlan{
//		Base:  loadtest.Plan{Targets: targets},
//		Start: 100, Max: 2000, Step: 100, StepDuration: 10 * time.Second,
//		SLOP99: 200 * time.Millisecond, MaxErrors: 0.01,
//	})
package loadtest
