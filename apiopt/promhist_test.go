package apiopt_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/perfengine/perfengine/apiopt"
)

// TestLatencyIsAPrometheusHistogram scrapes /metrics the way Prometheus
// does, in text and in protobuf (which carries native histograms), and
// finds per-route latency as a histogram whose buckets add up.
func TestLatencyIsAPrometheusHistogram(t *testing.T) {
	reg := prometheus.NewRegistry()
	opt, err := apiopt.New(apiopt.Config{Cache: apiopt.CacheConfig{Disabled: true}}, apiopt.WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	defer opt.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) { time.Sleep(20 * time.Millisecond) })
	mux.HandleFunc("GET /fast", func(w http.ResponseWriter, r *http.Request) {})
	h := opt.Middleware(mux)
	for i := 0; i < 20; i++ {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/fast", nil))
	}
	for i := 0; i < 3; i++ {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/slow", nil))
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()

	text := scrape(t, srv.URL, "text/plain")
	for _, want := range []string{
		"# TYPE perfengine_api_request_duration_seconds histogram",
		`perfengine_api_request_duration_seconds_bucket{route="GET /slow",le="0.01"} 0`,
		`perfengine_api_request_duration_seconds_bucket{route="GET /slow",le="+Inf"} 3`,
		`perfengine_api_request_duration_seconds_count{route="GET /fast"} 20`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text exposition lacks %q", want)
		}
	}
	body := scrape(t, srv.URL, `application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited`)
	dec := expfmt.NewDecoder(bytes.NewReader([]byte(body)), expfmt.NewFormat(expfmt.TypeProtoDelim))
	found := false
	for {
		mf := new(dto.MetricFamily)
		if err := dec.Decode(mf); err != nil {
			break
		}
		if mf.GetName() != "perfengine_api_request_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			hist := m.GetHistogram()
			if hist.GetSchema() != 3 || len(hist.GetPositiveSpan()) == 0 {
				t.Errorf("route %v: no native buckets (schema %d, spans %v)", m.GetLabel(), hist.GetSchema(), hist.GetPositiveSpan())
			}
			var n int64
			var c int64
			for _, d := range hist.GetPositiveDelta() {
				c += d
				n += c
			}
			if uint64(n) != hist.GetSampleCount() {
				t.Errorf("route %v: native buckets hold %d of %d observations", m.GetLabel(), n, hist.GetSampleCount())
			}
			found = true
		}
	}
	if !found {
		t.Fatal("no latency histogram in the protobuf exposition")
	}
}

func scrape(t *testing.T, url, accept string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Accept", accept)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
