package faults

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestFaults(t *testing.T) {
	tests := []struct {
		name   string
		cfg    Config
		status int
		reset  bool
	}{
		{"none", Config{}, 200, false},
		{"reset", Config{ResetRatio: 1}, 0, true},
		{"unavailable", Config{UnavailableRatio: 1}, 503, false},
		{"slow", Config{SlowRatio: 1, SlowDelay: time.Millisecond}, 200, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := New(tc.cfg, nil)
			srv := httptest.NewServer(h)
			defer srv.Close()
			tr := &http.Transport{DisableKeepAlives: true}
			defer tr.CloseIdleConnections()
			resp, err := (&http.Client{Transport: tr}).Get(srv.URL)
			if tc.reset {
				if err == nil || !(errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF)) {
					t.Fatalf("err %v, want a connection reset", err)
				}
				if h.Counts().Resets != 1 {
					t.Errorf("resets %d, want 1", h.Counts().Resets)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
			}
		})
	}
}
