package loadtest

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func okServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fail" {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.Write([]byte("hello"))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestClosedModelCounts runs the closed model on both engines: the same
// requests, codes, connections and series.
func TestClosedModelCounts(t *testing.T) {
	srv := okServer(t)
	for _, engine := range closedEngines() {
		t.Run(string(engine), func(t *testing.T) { closedModelCounts(t, srv.URL, engine) })
	}
}

// closedEngines are the engines a closed-model plan can run on here.
func closedEngines() []Engine {
	if eventLoopAvailable {
		return []Engine{EngineEventLoop, EngineGoroutines}
	}
	return []Engine{EngineGoroutines}
}

func closedModelCounts(t *testing.T, url string, engine Engine) {
	res, err := Run(context.Background(), Plan{
		Targets:     []Target{{URL: url + "/ok"}, {URL: url + "/fail"}},
		Concurrency: 3,
		Duration:    time.Minute,
		MaxRequests: 200,
		Engine:      engine,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Engine != string(engine) {
		t.Errorf("ran on %q, want %q", res.Engine, engine)
	}
	if res.Requests != 200 || res.StatusCodes[200] != 100 || res.StatusCodes[500] != 100 {
		t.Fatalf("requests %d codes %v, want 200 split 100/100 round-robin", res.Requests, res.StatusCodes)
	}
	if res.SuccessRatio() != 0.5 || res.Model != "closed" || res.Summary().RateTarget != nil {
		t.Errorf("success %v model %s rate target %v, want 0.5 closed nil", res.SuccessRatio(), res.Model, res.Summary().RateTarget)
	}
	// A worker (or loop) that starts late may find the requests all taken.
	if res.Connections < 1 || res.Connections > 3 || res.Connections+res.Reused != 200 {
		t.Errorf("connections %d reused %d, want at most 3 carrying all 200", res.Connections, res.Reused)
	}
	if res.Latency != res.LatencyUncorrected || res.Latency.P50 <= 0 {
		t.Errorf("closed model latency %+v uncorrected %+v, want equal and positive", res.Latency, res.LatencyUncorrected)
	}
	var perSecond int64
	for _, s := range res.Series {
		perSecond += s.Requests
	}
	if perSecond != res.Requests {
		t.Errorf("series sums to %d requests, want %d", perSecond, res.Requests)
	}
}

func TestOpenModelExactCount(t *testing.T) {
	srv := okServer(t)
	tests := []struct {
		name           string
		plan           Plan
		requests       int64
		target, window float64
	}{
		{name: "constant", plan: Plan{Rate: 400, Duration: 500 * time.Millisecond}, requests: 200, target: 400, window: 0.5},
		// 0 -> 400/s over 0.5 s is 100 starts, then 400/s for 0.25 s is 100.
		{name: "ramp", plan: Plan{Stages: []Stage{{Duration: 500 * time.Millisecond, Target: 400}, {Duration: 250 * time.Millisecond, Target: 400}}},
			requests: 200, target: 200 / 0.75, window: 0.75},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.plan
			p.Targets = []Target{{URL: srv.URL}}
			// A generous lateness bound keeps a busy test machine from
			// dropping starts, so the count is exact.
			p.LateAfter = time.Minute
			res, err := Run(context.Background(), p)
			if err != nil {
				t.Fatal(err)
			}
			if res.Requests != tc.requests || res.Dropped != 0 || abs(res.RateTarget-tc.target) > 1e-6 {
				t.Fatalf("requests %d dropped %d target %v, want %d, 0, %v", res.Requests, res.Dropped, res.RateTarget, tc.requests, tc.target)
			}
			if want := float64(tc.requests) / tc.window; abs(res.RateAchieved-want) > 1 {
				t.Errorf("achieved %v, want %v ± 1", res.RateAchieved, want)
			}
		})
	}
}

// TestCoordinatedOmission stalls the service once. With one connection at
// 100 requests/s, the requests scheduled during a 300 ms stall wait for it:
// corrected latency shows the queueing, uncorrected latency hides it.
func TestCoordinatedOmission(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 5 {
			time.Sleep(300 * time.Millisecond) // the stall under test
		}
	}))
	defer srv.Close()
	res, err := Run(context.Background(), Plan{
		Targets: []Target{{URL: srv.URL}}, Rate: 100, Duration: time.Second, Concurrency: 1, LateAfter: 5 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Latency.P90 < 100 {
		t.Errorf("corrected p90 = %vms, want >= 100ms: ~29 requests queued behind the stall", res.Latency.P90)
	}
	if res.LatencyUncorrected.P90 >= res.Latency.P90 {
		t.Errorf("uncorrected p90 %v >= corrected p90 %v, want lower", res.LatencyUncorrected.P90, res.Latency.P90)
	}
	if res.Late < 20 {
		t.Errorf("late = %d, want >= 20", res.Late)
	}
}

func TestMaxLagDrops(t *testing.T) {
	release := make(chan struct{})
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			<-release
		}
	}))
	defer srv.Close()
	go func() {
		time.Sleep(400 * time.Millisecond) // part of the scenario: a stalled service
		close(release)
	}()
	res, err := Run(context.Background(), Plan{
		Targets: []Target{{URL: srv.URL}}, Rate: 100, Duration: time.Second, Concurrency: 1,
		MaxLag: 20 * time.Millisecond, LateAfter: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	// The starts due during the stall are dropped, not sent in a burst.
	if res.Requests+res.Dropped != 100 || res.Dropped < 30 || res.Late != 0 {
		t.Errorf("requests %d dropped %d late %d, want 100 in all, >= 30 dropped, none late", res.Requests, res.Dropped, res.Late)
	}
}

func TestErrorKinds(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()

	stall := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-stall:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(stall)

	reset, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer reset.Close()
	go func() {
		for {
			c, err := reset.Accept()
			if err != nil {
				return
			}
			c.(*net.TCPConn).SetLinger(0)
			c.Read(make([]byte, 1024))
			c.Close()
		}
	}()

	garbage, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer garbage.Close()
	go func() {
		for {
			c, err := garbage.Accept()
			if err != nil {
				return
			}
			c.Read(make([]byte, 1024))
			c.Write([]byte("SSH-2.0-OpenSSH\r\n\r\n"))
			c.Close()
		}
	}()

	tests := []struct {
		name, url, kind string
		proto           Protocol
	}{
		{"refused", closed, "connection_refused", Auto},
		{"refused net/http", closed, "connection_refused", NetHTTP},
		{"timeout", slow.URL, "timeout", Auto},
		{"timeout net/http", slow.URL, "timeout", NetHTTP},
		{"reset", "http://" + reset.Addr().String(), "connection_reset", Auto},
		{"not http", "http://" + garbage.Addr().String(), "protocol", Auto},
	}
	for _, tc := range tests {
		engines := closedEngines()
		if tc.proto != Auto {
			engines = []Engine{EngineAuto}
		}
		for _, engine := range engines {
			t.Run(tc.name+"/"+string(engine), func(t *testing.T) {
				res, err := Run(context.Background(), Plan{
					Targets: []Target{{URL: tc.url}}, Concurrency: 1, MaxRequests: 2, Duration: 10 * time.Second,
					Timeout: 150 * time.Millisecond, Protocol: tc.proto, Engine: engine,
				})
				if err != nil {
					t.Fatal(err)
				}
				if res.Errors[tc.kind] != 2 || res.OK != 0 {
					t.Errorf("errors %v ok %d, want %s: 2", res.Errors, res.OK, tc.kind)
				}
			})
		}
	}
}

func TestAbortReturnsPartial(t *testing.T) {
	arrived := make(chan struct{}, 100)
	stall := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-stall:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(stall)
	for _, proto := range []Protocol{Auto, NetHTTP, HTTP1} {
		for _, rate := range []float64{0, 50} {
			engine := EngineAuto
			if proto == HTTP1 {
				engine = EngineGoroutines // Auto ran the closed model on the event loop
				if rate > 0 {
					continue
				}
			}
			ctx, cancel := context.WithCancel(context.Background())
			go func() {
				<-arrived
				cancel()
			}()
			start := time.Now()
			res, err := Run(ctx, Plan{Targets: []Target{{URL: srv.URL}}, Rate: rate, Concurrency: 2, Duration: time.Minute, Timeout: time.Minute, Protocol: proto, Engine: engine})
			cancel()
			if err != nil {
				t.Fatal(err)
			}
			if !res.Aborted || time.Since(start) > 30*time.Second {
				t.Errorf("%s rate %v: aborted %v after %v, want a prompt partial result", proto, rate, res.Aborted, time.Since(start))
			}
			if len(res.Errors) != 0 {
				t.Errorf("%s rate %v: errors %v, want interrupted requests not counted as errors", proto, rate, res.Errors)
			}
			for len(arrived) > 0 {
				<-arrived
			}
		}
	}
}

func TestHTTP2(t *testing.T) {
	var mu sync.Mutex
	protos := map[string]int{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		protos[r.Proto]++
		mu.Unlock()
		w.Write([]byte("ok"))
	})
	tlsSrv := httptest.NewUnstartedServer(h)
	tlsSrv.EnableHTTP2 = true
	tlsSrv.StartTLS()
	defer tlsSrv.Close()

	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	h2c := httptest.NewUnstartedServer(h)
	h2c.Config.Protocols = &p
	h2c.Start()
	defer h2c.Close()

	tests := []struct {
		name  string
		url   string
		proto Protocol
		want  string
	}{
		{"tls auto", tlsSrv.URL, Auto, "HTTP/2.0"},
		{"tls h2", tlsSrv.URL, H2, "HTTP/2.0"},
		{"tls http1", tlsSrv.URL, NetHTTP, "HTTP/1.1"},
		{"h2c", h2c.URL, H2C, "HTTP/2.0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			clear(protos)
			mu.Unlock()
			res, err := Run(context.Background(), Plan{Targets: []Target{{URL: tc.url}}, Concurrency: 4, MaxRequests: 40, Duration: 10 * time.Second,
				Protocol: tc.proto, InsecureSkipVerify: true})
			if err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if res.StatusCodes[200] != 40 || protos[tc.want] != 40 {
				t.Errorf("codes %v, protocols %v, want 40 via %s", res.StatusCodes, protos, tc.want)
			}
			if res.Connections+res.Reused != 40 {
				t.Errorf("connections %d + reused %d, want 40", res.Connections, res.Reused)
			}
		})
	}
}

func TestProgress(t *testing.T) {
	srv := okServer(t)
	var calls []Progress
	_, err := Run(context.Background(), Plan{
		Targets: []Target{{URL: srv.URL}}, Rate: 200, Duration: 1200 * time.Millisecond,
		ProgressInterval: 250 * time.Millisecond,
		Progress:         func(p Progress) { calls = append(calls, p) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) == 0 {
		t.Fatal("no progress reported")
	}
	last := calls[len(calls)-1]
	if last.Requests == 0 || last.Total != 1200*time.Millisecond {
		t.Errorf("last progress %+v, want requests and the planned total", last)
	}
}
