package apiopt_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/perfengine/perfengine/apiopt"
)

func Example() {
	opt, err := apiopt.New(apiopt.Config{
		Cache:     apiopt.CacheConfig{Routes: map[string]time.Duration{"GET /api/products": 30 * time.Second}},
		RateLimit: apiopt.RateLimitConfig{Rate: 600, Period: time.Minute, Burst: 3},
	})
	if err != nil {
		panic(err)
	}
	defer opt.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/products", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, "["+strings.Repeat(`{"id":1,"name":"widget"},`, 60)+`{"id":2}]`)
	})
	h := opt.Middleware(mux)
	for range 4 {
		r := httptest.NewRequest("GET", "/api/products", nil)
		r.Header.Set("Accept-Encoding", "br, gzip")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Printf("%d %-35q %q\n", w.Code, w.Header().Get("Cache-Status"), w.Header().Get("Content-Encoding"))
	}
	s := opt.Metrics(context.Background())
	fmt.Printf("hit ratio %.2f, %s: %d requests, %d limited\n", s.HitRatio, s.Routes[0].Route, s.Routes[0].Requests, s.Routes[0].Limited)
	// Output:
	// 200 "perfengine; fwd=uri-miss; stored"  "br"
	// 200 "perfengine; hit"                   "br"
	// 200 "perfengine; hit"                   "br"
	// 429 ""                                  ""
	// hit ratio 0.67, GET /api/products: 4 requests, 1 limited
}
