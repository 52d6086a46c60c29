package faults_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/perfengine/perfengine/netopt/faults"
)

// Every request to this server is answered 503 with Retry-After: 2.
func ExampleNew() {
	h := faults.New(faults.Config{UnavailableRatio: 1, RetryAfter: "2"}, nil)
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, resp.Header.Get("Retry-After"), h.Counts().Unavailable)
	// Output: 503 2 1
}
