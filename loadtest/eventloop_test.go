package loadtest

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestEnginesAgree runs the same closed-model plans on both engines
// against responses that span many reads, come in chunks, end with the
// connection or close it: each engine reads every byte, counts the same
// requests and opens a connection where the server closed one.
func TestEnginesAgree(t *testing.T) {
	big := strings.Repeat("x", 300<<10) // larger than a loop's read buffer
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big":
			w.Write([]byte(big))
		case "/chunked":
			for range 5 {
				w.Write([]byte(strings.Repeat("c", 1000)))
				w.(http.Flusher).Flush()
			}
		case "/close":
			w.Header().Set("Connection", "close")
			w.Write([]byte("bye"))
		}
	}))
	defer srv.Close()
	// A server that answers HTTP/1.0 with a body ended by closing.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					ln, err := br.ReadString('\n')
					if err != nil || ln == "\r\n" {
						break
					}
				}
				c.Write([]byte("HTTP/1.0 200 OK\r\n\r\n" + strings.Repeat("e", 20000)))
			}()
		}
	}()

	const n = 40
	tests := []struct {
		path      string
		in        int64 // body bytes per response, at least
		reconnect bool  // every response ends its connection
	}{
		{srv.URL + "/big", int64(len(big)), false},
		{srv.URL + "/chunked", 5000, false},
		{srv.URL + "/close", 3, true},
		{"http://" + ln.Addr().String() + "/", 20000, true},
	}
	for _, tc := range tests {
		for _, engine := range closedEngines() {
			t.Run(tc.path[strings.LastIndexByte(tc.path, '/'):]+"/"+string(engine), func(t *testing.T) {
				res, err := Run(context.Background(), Plan{Targets: []Target{{URL: tc.path}}, Concurrency: 4, MaxRequests: n,
					Duration: time.Minute, Timeout: 10 * time.Second, Engine: engine})
				if err != nil {
					t.Fatal(err)
				}
				if res.Requests != n || res.OK != n || len(res.Errors) != 0 {
					t.Fatalf("requests %d ok %d errors %v, want %d ok", res.Requests, res.OK, res.Errors, n)
				}
				if res.BytesIn < n*tc.in {
					t.Errorf("read %d bytes, want at least %d", res.BytesIn, n*tc.in)
				}
				if tc.reconnect && res.Connections != n {
					t.Errorf("%d connections for %d closing responses", res.Connections, n)
				}
				// A connection whose loop started late may find the
				// requests all taken: at most 4, each kept alive.
				if !tc.reconnect && (res.Connections > 4 || res.Connections+res.Reused != n) {
					t.Errorf("%d connections, %d reused, want at most 4 carrying all %d requests", res.Connections, res.Reused, n)
				}
			})
		}
	}
}
