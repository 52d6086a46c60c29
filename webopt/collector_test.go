package webopt

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

const (
	uaDesktop = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
	uaMobile  = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36"
)

// post sends one beacon over loopback HTTP and returns status and body.
func post(t *testing.T, url, ua, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	req.Header.Set("User-Agent", ua)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func newTestCollector(t *testing.T, o CollectorOptions, opts ...CollectorOption) (*Collector, *httptest.Server) {
	t.Helper()
	c, err := NewCollector(o, opts...)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	return c, srv
}

func find(vs []Vital, name, route, device string) (Vital, bool) {
	for _, v := range vs {
		if v.Name == name && v.Route == route && v.Device == device {
			return v, true
		}
	}
	return Vital{}, false
}

func TestCollectorP75PerRouteAndDevice(t *testing.T) {
	c, srv := newTestCollector(t, CollectorOptions{})
	// 100 desktop page views of /products/{id} with LCP 1..100 × 40 ms and
	// CLS 0.001..0.1; mobile views of / with a fixed LCP.
	var lcps []float64
	for i := 1; i <= 100; i++ {
		lcp := float64(i * 40)
		lcps = append(lcps, lcp)
		body := fmt.Sprintf(`{"r":"/products/%d","m":[{"n":"LCP","v":%g,"s":"img.hero","u":"%s/img/p.jpg"},{"n":"CLS","v":%g},{"n":"TTFB","v":120}]}`, i, lcp, srv.URL, float64(i)/1000)
		if code, msg := post(t, srv.URL, uaDesktop, body); code != http.StatusNoContent {
			t.Fatalf("beacon %d: %d %s", i, code, msg)
		}
	}
	for range 5 {
		if code, msg := post(t, srv.URL, uaMobile, `{"r":"/","m":[{"n":"LCP","v":3000},{"n":"INP","v":240},{"n":"FCP","v":900}]}`); code != http.StatusNoContent {
			t.Fatalf("mobile beacon: %d %s", code, msg)
		}
	}
	vs := c.Vitals()
	slices.Sort(lcps)
	exact := lcps[int(math.Ceil(0.75*float64(len(lcps))))-1]
	checks := []struct {
		name, route, device string
		want, tol           float64
		rating              Rating
		views               int
	}{
		{LCP, "/products/{id}", DeviceDesktop, exact, 0.025, RatingNeedsImprovement, 100},
		{CLS, "/products/{id}", DeviceDesktop, 0.075, 0.025, RatingGood, 100},
		{TTFB, "/products/{id}", DeviceDesktop, 120, 0.025, RatingGood, 100},
		{LCP, "/", DeviceMobile, 3000, 0.025, RatingNeedsImprovement, 5},
		{INP, "/", DeviceMobile, 240, 0.025, RatingNeedsImprovement, 5},
		{FCP, "/", DeviceMobile, 900, 0.025, RatingGood, 5},
	}
	for _, tc := range checks {
		v, ok := find(vs, tc.name, tc.route, tc.device)
		if !ok {
			t.Errorf("no %s p75 for %s/%s in %+v", tc.name, tc.route, tc.device, vs)
			continue
		}
		if math.Abs(v.P75-tc.want) > tc.tol*tc.want || v.Rating != tc.rating || v.Views != tc.views {
			t.Errorf("%s %s/%s = %+v, want p75 %v ±%.1f%%, %s, %d views", tc.name, tc.route, tc.device, v, tc.want, tc.tol*100, tc.rating, tc.views)
		}
	}
	if len(vs) != len(checks) {
		t.Errorf("Vitals() has %d series, want %d: %+v", len(vs), len(checks), vs)
	}
	if el, n := c.LCPElement("/products/{id}"); el != "/img/p.jpg" || n != 100 {
		t.Errorf(`LCPElement("/products/{id}") = %q, %d; want "/img/p.jpg", 100 (same-host URL as a path)`, el, n)
	}
}

func TestCollectorRefusesBadBeacons(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	c, srv := newTestCollector(t, CollectorOptions{MaxBeaconBytes: 1024}, WithCollectorRegisterer(reg))
	cases := []struct {
		name, body, reason string
	}{
		{"garbage", `garbage`, "malformed"},
		{"truncated", `{"r":"/","m":[{"n":"LCP","v":12`, "malformed"},
		{"two objects", `{"r":"/","m":[{"n":"LCP","v":1}]}{}`, "malformed"},
		{"unknown field", `{"r":"/","m":[{"n":"LCP","v":1}],"x":1}`, "malformed"},
		{"huge body", `{"r":"/` + strings.Repeat("a", 2000) + `","m":[]}`, "too_large"},
		{"no route", `{"m":[{"n":"LCP","v":1}]}`, "route"},
		{"relative route", `{"r":"x","m":[{"n":"LCP","v":1}]}`, "route"},
		{"no metrics", `{"r":"/","m":[]}`, "empty"},
		{"unknown metric", `{"r":"/","m":[{"n":"FID","v":1}]}`, "unknown_metric"},
		{"negative", `{"r":"/","m":[{"n":"LCP","v":-5}]}`, "out_of_range"},
		{"absurd", `{"r":"/","m":[{"n":"INP","v":1e12}]}`, "out_of_range"},
		{"absurd CLS", `{"r":"/","m":[{"n":"CLS","v":51}]}`, "out_of_range"},
		{"duplicate", `{"r":"/","m":[{"n":"LCP","v":1},{"n":"LCP","v":2}]}`, "duplicate"},
		{"too many", `{"r":"/","m":[{"n":"LCP","v":1},{"n":"INP","v":1},{"n":"CLS","v":0},{"n":"FCP","v":1},{"n":"TTFB","v":1},{"n":"LCP","v":1}]}`, "too_many"},
		{"attribution on CLS", `{"r":"/","m":[{"n":"CLS","v":0.1,"s":"div"}]}`, "attribution"},
		{"string value", `{"r":"/","m":[{"n":"LCP","v":"12"}]}`, "malformed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := testutil.ToFloat64(c.prom.dropped.WithLabelValues(tc.reason))
			code, msg := post(t, srv.URL, uaDesktop, tc.body)
			if code != http.StatusBadRequest || !strings.Contains(msg, tc.reason) {
				t.Errorf("POST %.60q = %d %q, want 400 naming %q", tc.body, code, msg, tc.reason)
			}
			if got := testutil.ToFloat64(c.prom.dropped.WithLabelValues(tc.reason)); got != before+1 {
				t.Errorf("dropped{reason=%q} = %v, want %v", tc.reason, got, before+1)
			}
		})
	}
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET = %d, want 405", resp.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(`{"r":"/","m":[{"n":"LCP","v":1}]}`))
	req.Header.Set("Content-Type", "image/png")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("POST image/png = %d, want 400", resp.StatusCode)
	}
	s := c.Stats()
	if s.Accepted != 0 || s.Dropped != uint64(len(cases))+2 || s.Series != 0 {
		t.Errorf("Stats() = %+v, want 0 accepted, %d dropped, no series", s, len(cases)+2)
	}
	if probs, err := testutil.CollectAndLint(c.prom.dropped); err != nil || len(probs) > 0 {
		t.Errorf("lint: %v %v", err, probs)
	}
}

func TestCollectorRouteFlood(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	c, srv := newTestCollector(t, CollectorOptions{MaxRoutes: 3}, WithCollectorRegisterer(reg))
	for i := range 50 {
		body := fmt.Sprintf(`{"r":"/page-%c%d","m":[{"n":"LCP","v":1000}]}`, 'a'+i%26, i)
		if code, msg := post(t, srv.URL, uaDesktop, body); code != http.StatusNoContent {
			t.Fatalf("beacon %d: %d %s", i, code, msg)
		}
	}
	s := c.Stats()
	if s.Routes != 4 || s.Series != 4 {
		t.Errorf("after 50 distinct routes with MaxRoutes 3: %d routes, %d series; want 4 and 4 (3 + %q)", s.Routes, s.Series, OverflowRoute)
	}
	if got := testutil.ToFloat64(c.prom.overflow); got != 47 {
		t.Errorf("overflow counter = %v, want 47", got)
	}
	if v, ok := find(c.Vitals(), LCP, OverflowRoute, DeviceDesktop); !ok || v.Views != 47 {
		t.Errorf("overflow route = %+v (found %v), want 47 views", v, ok)
	}
}

func TestCollectorWindowExpires(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	c, srv := newTestCollector(t, CollectorOptions{Window: time.Minute}, WithCollectorClock(clock))
	post(t, srv.URL, uaDesktop, `{"r":"/old","m":[{"n":"LCP","v":4000}]}`)
	advance(30 * time.Second)
	post(t, srv.URL, uaDesktop, `{"r":"/new","m":[{"n":"LCP","v":1000}]}`)
	if n := len(c.Vitals()); n != 2 {
		t.Fatalf("within the window: %d series, want 2", n)
	}
	advance(30 * time.Second)
	vs := c.Vitals()
	if _, ok := find(vs, LCP, "/old", DeviceDesktop); ok || len(vs) != 1 {
		t.Errorf("a minute later: %+v, want only /new", vs)
	}
	advance(time.Minute)
	if vs := c.Vitals(); len(vs) != 0 || c.Stats().Routes != 0 {
		t.Errorf("two windows later: %+v, %d routes; want nothing kept", vs, c.Stats().Routes)
	}
}

// hints records what the collector tells the rewriter.
type hints struct {
	mu  sync.Mutex
	got []string
}

func (h *hints) SetLCPHint(route, target string) {
	h.mu.Lock()
	h.got = append(h.got, route+" "+target)
	h.mu.Unlock()
}

func TestCollectorHintsTheMostFrequentLCP(t *testing.T) {
	h := &hints{}
	_, srv := newTestCollector(t, CollectorOptions{MinHintViews: 3}, WithLCPHinter(h))
	send := func(sel, u string) {
		body := fmt.Sprintf(`{"r":"/","m":[{"n":"LCP","v":2600,"s":%q,"u":%q}]}`, sel, u)
		if code, msg := post(t, srv.URL, uaDesktop, body); code != http.StatusNoContent {
			t.Fatalf("%d %s", code, msg)
		}
	}
	send("h1", "")
	send("h1", "")
	send("img.hero", srv.URL+"/static/hero.png")
	send("h1", "") // third view of h1: hint it
	for range 5 {
		send("img.hero", srv.URL+"/static/hero.png")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	want := []string{"/ h1", "/ /static/hero.png"}
	if !slices.Equal(h.got, want) {
		t.Errorf("hints = %q, want %q", h.got, want)
	}
}

func TestSubscribe(t *testing.T) {
	c, srv := newTestCollector(t, CollectorOptions{})
	var mu sync.Mutex
	var got []Metric
	unsub := c.Subscribe(func(m Metric) { mu.Lock(); got = append(got, m); mu.Unlock() })
	unsubPanic := c.Subscribe(func(Metric) { panic("subscriber bug") })
	defer unsubPanic()
	post(t, srv.URL, uaMobile, `{"r":"/cart","m":[{"n":"INP","v":520},{"n":"CLS","v":0.02}]}`)
	unsub()
	unsub() // idempotent
	post(t, srv.URL, uaMobile, `{"r":"/cart","m":[{"n":"INP","v":80}]}`)
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || got[0].Name != INP || got[0].Rating != RatingPoor || got[0].Device != DeviceMobile || got[0].Route != "/cart" ||
		got[1].Name != CLS || got[1].Value != 0.02 || got[1].Rating != RatingGood {
		t.Errorf("subscriber got %+v, want INP 520 poor and CLS 0.02 good on /cart, mobile, and nothing after unsubscribe", got)
	}
}

func TestCollectorPrometheus(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	_, srv := newTestCollector(t, CollectorOptions{}, WithCollectorRegisterer(reg))
	post(t, srv.URL, uaDesktop, `{"r":"/","m":[{"n":"LCP","v":2000},{"n":"CLS","v":0.2}]}`)
	want := `
# HELP perfengine_web_cls_p75 p75 of CLS over the RUM window.
# TYPE perfengine_web_cls_p75 gauge
perfengine_web_cls_p75{device="desktop",route="/"} 0.2
# HELP perfengine_web_beacons_total RUM beacons accepted.
# TYPE perfengine_web_beacons_total counter
perfengine_web_beacons_total 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "perfengine_web_cls_p75", "perfengine_web_beacons_total"); err != nil {
		t.Error(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "perfengine_web_lcp_p75_seconds" {
			if v := mf.GetMetric()[0].GetGauge().GetValue(); math.Abs(v-2) > 0.05 {
				t.Errorf("perfengine_web_lcp_p75_seconds = %v, want 2 ±2.5%%", v)
			}
			return
		}
	}
	t.Error("no perfengine_web_lcp_p75_seconds")
}

func TestCollectorOptionsValidate(t *testing.T) {
	err := CollectorOptions{Path: "rum", MaxBeaconBytes: -1, MaxRoutes: 1e6, Window: time.Second, MinHintViews: -1}.Validate()
	for _, field := range []string{"path", "maxBeaconBytes", "maxRoutes", "window", "minHintViews"} {
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("Validate() = %v, want it to name %s", err, field)
		}
	}
	if err := (CollectorOptions{}).Validate(); err != nil {
		t.Errorf("zero options: %v", err)
	}
}

func TestNormalizeRoute(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/", "/"},
		{"", "/"},
		{"/products/42", "/products/{id}"},
		{"/products/42/reviews?page=2", "/products/{id}/reviews"},
		{"/u/3f2504e0-4f89-11d3-9a0c-0305e82c3301", "/u/{id}"},
		{"/blog/2024-summer-sale", "/blog/2024-summer-sale"},
		{"/static/hero.png", "/static/hero.png"},
		{"/orders/a1b2c3d4e5", "/orders/{id}"},
	} {
		if got := NormalizeRoute(tc.in); got != tc.want {
			t.Errorf("NormalizeRoute(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestDeviceClass(t *testing.T) {
	for _, tc := range []struct{ ua, want string }{
		{uaDesktop, DeviceDesktop},
		{uaMobile, DeviceMobile},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148", DeviceMobile},
		{"Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X)", DeviceTablet},
		{"Mozilla/5.0 (Linux; Android 14; SM-X910) AppleWebKit/537.36 Chrome/131.0 Safari/537.36", DeviceTablet},
		{"", DeviceDesktop},
	} {
		if got := deviceClass(tc.ua); got != tc.want {
			t.Errorf("deviceClass(%.40q) = %q, want %q", tc.ua, got, tc.want)
		}
	}
}

func TestRate(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    float64
		want Rating
	}{
		{LCP, 2500, RatingGood}, {LCP, 2501, RatingNeedsImprovement}, {LCP, 4001, RatingPoor},
		{INP, 200, RatingGood}, {INP, 500, RatingNeedsImprovement}, {INP, 501, RatingPoor},
		{CLS, 0.1, RatingGood}, {CLS, 0.25, RatingNeedsImprovement}, {CLS, 0.26, RatingPoor},
		{FCP, 1800, RatingGood}, {FCP, 3001, RatingPoor}, {TTFB, 800, RatingGood}, {TTFB, 1801, RatingPoor},
		{"FID", 1, RatingPoor}, {LCP, math.NaN(), RatingPoor},
	} {
		if got := Rate(tc.name, tc.v); got != tc.want {
			t.Errorf("Rate(%s, %v) = %s, want %s", tc.name, tc.v, got, tc.want)
		}
	}
}

func TestHistogramQuantile(t *testing.T) {
	var h histogram
	for v := 1; v <= 10000; v++ {
		h.add(float64(v))
	}
	for _, q := range []float64{0.5, 0.75, 0.9, 0.99} {
		want := q * 10000
		if got := quantile(q, &h); math.Abs(got-want) > 0.025*want {
			t.Errorf("quantile(%v) = %v, want %v ±2.5%%", q, got, want)
		}
	}
	var z histogram
	if got := quantile(0.75, &z); got != 0 {
		t.Errorf("empty quantile = %v, want 0", got)
	}
	z.add(0)
	if got := quantile(0.75, &z); got != 0 {
		t.Errorf("quantile of one 0 = %v, want 0", got)
	}
	z.add(1e9)
	if got := quantile(1, &z); got != 1e9 {
		t.Errorf("quantile past the last bucket = %v, want the max 1e9", got)
	}
}

func TestScriptIsSmall(t *testing.T) {
	s := ScriptTag("/_perfengine/rum")
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(s))
	zw.Close()
	t.Logf("collector <script>: %d bytes, %d gzipped", len(s), b.Len())
	if b.Len() >= 2048 {
		t.Errorf("collector script is %d bytes gzipped, want under 2048", b.Len())
	}
	if !strings.Contains(s, `"/_perfengine/rum"`) || strings.Contains(s, "__ENDPOINT__") || strings.Contains(s, "\n//") {
		t.Errorf("script lacks its endpoint or keeps comments:\n%s", s)
	}
	if got := Script(`</script><x>`); strings.Contains(got, "</script>") {
		t.Errorf("endpoint is not escaped for a <script> element: %s", got)
	}
}
