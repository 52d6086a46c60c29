package ratelimit_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/perfengine/perfengine/apiopt/ratelimit"
)

func Example() {
	limit := ratelimit.Limit{Rate: 100, Period: time.Minute, Burst: 2}
	mem, err := ratelimit.NewMemory(limit)
	if err != nil {
		panic(err)
	}
	h := ratelimit.Middleware(mem, limit, ratelimit.ClientIP(), "default", nil)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	for range 3 {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
		fmt.Printf("%d %s retry-after=%q\n", w.Code, w.Header().Get("RateLimit"), w.Header().Get("Retry-After"))
	}
	// Output:
	// 200 "default";r=1;t=1 retry-after=""
	// 200 "default";r=0;t=2 retry-after=""
	// 429 "default";r=0;t=2 retry-after="1"
}
