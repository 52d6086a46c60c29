package webopt

import (
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzBeacon feeds arbitrary bodies to the beacon decoder and the
// collector's handler: neither may panic, a refusal is a 400, and an
// accepted beacon holds only known vitals within their ranges.
// Run: go test -fuzz FuzzBeacon -fuzztime 30s ./webopt
func FuzzBeacon(f *testing.F) {
	for _, s := range []string{
		`{"r":"/","m":[{"n":"LCP","v":1234.5,"s":"img.hero","u":"http://example.com/hero.png"},{"n":"CLS","v":0.01}]}`,
		`{"r":"/products/42","m":[{"n":"INP","v":200},{"n":"FCP","v":900},{"n":"TTFB","v":80}]}`,
		`{"r":"/","m":[{"n":"LCP","v":-1}]}`,
		`{"r":"/","m":[{"n":"LCP","v":1e308}]}`,
		`{"r":"/\u0000","m":[{"n":"LCP","v":1}]}`,
		`{"r":"/","m":null}`,
		`[]`, `null`, `{`, "\xff\xfe",
	} {
		f.Add([]byte(s))
	}
	c, err := NewCollector(CollectorOptions{MaxRoutes: 8})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := decodeBeacon(body)
		if err == nil {
			if len(b.Metrics) == 0 || len(b.Metrics) > maxBeaconMetrics || !strings.HasPrefix(b.Route, "/") {
				t.Fatalf("accepted %q as %+v", body, b)
			}
			for _, m := range b.Metrics {
				i := vitalIndex(m.Name)
				if i < 0 || math.IsNaN(m.Value) || m.Value < 0 || m.Value > vitals[i].max {
					t.Fatalf("accepted metric %+v from %q", m, body)
				}
			}
		}
		rec := httptest.NewRecorder()
		c.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/_perfengine/rum", strings.NewReader(string(body))))
		if want := map[bool]int{true: http.StatusNoContent, false: http.StatusBadRequest}[err == nil]; rec.Code != want {
			t.Fatalf("handler answered %d to %q, want %d (decode error %v)", rec.Code, body, want, err)
		}
		if s := c.Stats(); s.Routes > 9 {
			t.Fatalf("%d routes kept with MaxRoutes 8", s.Routes)
		}
	})
}
