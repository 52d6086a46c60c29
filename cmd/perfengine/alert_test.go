package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func runAlertCmd(args []string, stdout, stderr io.Writer) int {
	return runUnder(newAlertCmd(), args, stdout, stderr)
}

func TestAlertTest(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var msg struct{ Text string }
		body, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(body, &msg)
		got = append(got, msg.Text)
		if strings.HasSuffix(r.URL.Path, "/gone") {
			http.Error(w, "no such hook", http.StatusNotFound)
		}
	}))
	defer srv.Close()
	t.Setenv("ALERT_WEBHOOK_URL", "")
	t.Setenv("ALERT_EMAIL_ENDPOINT", "")

	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   string // substring
		stderr   string // substring of the last line
		received int
	}{
		{"webhook ok", []string{"alert", "test", "--webhook", srv.URL + "/hook"}, 0, "webhook", "sending a test alert via webhook", 1},
		{"json", []string{"alert", "test", "--webhook", srv.URL + "/hook", "--json"}, 0, `"ok": true`, "", 1},
		{"webhook refused", []string{"alert", "test", "--webhook", srv.URL + "/gone"}, 1, "FAILED", "perfengine: 1 of 1 notifiers failed", 1},
		{"nothing configured", []string{"alert", "test"}, 1, "", "perfengine: no notifier configured", 0},
		{"bad endpoint", []string{"alert", "test", "--email", "smtp://h/"}, 1, "", "no recipient", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got = nil
			var stdout, stderr bytes.Buffer
			code := runAlertCmd(tc.args, &stdout, &stderr)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr %s", code, tc.code, stderr.String())
			}
			if !strings.Contains(stdout.String(), tc.stdout) {
				t.Errorf("stdout %q, want it to contain %q", stdout.String(), tc.stdout)
			}
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			if !strings.Contains(lines[len(lines)-1], tc.stderr) {
				t.Errorf("stderr %q, want its last line to contain %q", stderr.String(), tc.stderr)
			}
			if len(got) != tc.received {
				t.Errorf("receiver got %d alerts, want %d", len(got), tc.received)
			}
			if tc.received > 0 && !strings.HasPrefix(got[0], "[INFO] perfengine: test alert") {
				t.Errorf("received %q", got[0])
			}
		})
	}
}
