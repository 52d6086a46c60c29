package h1_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/perfengine/perfengine/loadtest/h1"
)

// A request is rendered once and sent many times on one keep-alive
// connection; the responses are parsed without allocating.
func ExampleConn_Do() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("hello"))
	}))
	defer srv.Close()

	req, err := h1.NewRequest("GET", srv.URL+"/", http.Header{"Accept": {"text/plain"}}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	conn, err := h1.Dial(req.Addr(), time.Second)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()
	for range 3 {
		conn.SetDeadline(time.Now().Add(time.Second))
		resp, err := conn.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(resp.Status, resp.Close, conn.Reusable())
	}
	// Output:
	// 200 false true
	// 200 false true
	// 200 false true
}
