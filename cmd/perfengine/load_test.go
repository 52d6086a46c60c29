package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func loadServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fail" {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestLoadCommand(t *testing.T) {
	srv := loadServer(t)
	dir := t.TempDir()
	targets := filepath.Join(dir, "targets.jsonl")
	os.WriteFile(targets, []byte("{\"url\":\""+srv.URL+"/a\"}\n{\"url\":\""+srv.URL+"/fail\",\"weight\":1}\n"), 0o644)
	broken := filepath.Join(dir, "broken.jsonl")
	os.WriteFile(broken, []byte("{\"url\":\""+srv.URL+"\"}\n{oops\n{\"url\":\"ftp://x\"}\n"), 0o644)
	report := filepath.Join(dir, "out.html")
	baseline := filepath.Join(dir, "base.json")

	tests := []struct {
		name       string
		args       []string
		code       int
		stdout     []string
		stderr     []string
		jsonChecks func(t *testing.T, m map[string]any)
	}{
		{name: "closed json", args: []string{"load", "--url", srv.URL, "-c", "2", "--max-requests", "50", "-d", "10s", "--json", "-q"},
			jsonChecks: func(t *testing.T, m map[string]any) {
				if m["requests"].(float64) != 50 || m["rate_target_rps"] != nil || m["success_ratio"].(float64) != 1 {
					t.Errorf("json = %v", m)
				}
			}},
		{name: "open text with report and baseline", args: []string{"load", "--url", srv.URL, "--rate", "100", "-d", "1200ms", "--report", report, "--save-baseline", baseline, "-q"},
			stdout: []string{"open model", "corrected", "uncorrected", "status  200: 120"}, stderr: []string{"report written", "baseline"}},
		{name: "targets file and thresholds fail", args: []string{"load", "--targets", targets, "-c", "1", "--max-requests", "10", "-d", "10s", "--threshold", "errors<1%", "--threshold", "p99<10s", "--json", "-q"},
			code: ExitThresholds, stderr: []string{"threshold FAIL errors<1%", "threshold ok   p99<10s", `{"error":"thresholds failed: errors<1% (actual 0.5)"}`}},
		{name: "broken targets lines", args: []string{"load", "--targets", broken, "-c", "1", "-d", "1s"},
			code: 1, stderr: []string{"line 2: invalid JSON", "line 3: url \"ftp://x\""}},
		{name: "unreachable", args: []string{"load", "--url", "http://127.0.0.1:1/", "-c", "1", "--max-requests", "3", "-q"},
			code: 1, stdout: []string{"connection_refused: 3"}, stderr: []string{"perfengine: no request succeeded (connection_refused: 3)"}},
		{name: "all failing", args: []string{"load", "--url", srv.URL + "/fail", "-c", "1", "--max-requests", "4", "-q"},
			code: 1, stderr: []string{"no request succeeded (status 503: 4)"}},
		{name: "needs a model", args: []string{"load", "--url", srv.URL}, code: 1, stderr: []string{"give --rate R"}},
		{name: "absurd rate", args: []string{"load", "--url", srv.URL, "--rate", "1e12"}, code: 1, stderr: []string{"rate 1e+12: must be"}},
		{name: "bad url", args: []string{"load", "--url", "localhost:80", "-c", "1"}, code: 1, stderr: []string{"scheme must be http or https"}},
		{name: "bad threshold", args: []string{"load", "--url", srv.URL, "-c", "1", "--threshold", "p99 under 3"}, code: 1, stderr: []string{"threshold \"p99 under 3\""}},
		{name: "progress lines when not a terminal", args: []string{"load", "--url", srv.URL, "--rate", "50", "-d", "1500ms"},
			stdout: []string{"open model"}, stderr: []string{"progress:     1s       "}},
		{name: "stress", args: []string{"stress", "--url", srv.URL, "--start", "50", "--max", "100", "--step", "50", "--step-duration", "300ms", "--slo-p99", "5s", "-q"},
			stdout: []string{"stress test, open model", "knee: 100"}},
		{name: "stress json", args: []string{"stress", "--url", srv.URL + "/fail", "--start", "1", "--max", "3", "--step", "1", "--step-duration", "100ms", "--closed", "--json", "-q"},
			jsonChecks: func(t *testing.T, m map[string]any) {
				if m["knee"].(float64) != -1 || m["breaking_point"].(float64) != 0 {
					t.Errorf("json = %v", m)
				}
			}},
		{name: "stress bad bounds", args: []string{"stress", "--url", srv.URL, "--start", "10", "--max", "5", "--step", "1"}, code: 1, stderr: []string{"max 5: must be >= start 10"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(tc.args, &out, &errb)
			if code != tc.code {
				t.Fatalf("run(%q) = %d, want %d; stderr: %s", tc.args, code, tc.code, errb.String())
			}
			for _, w := range tc.stdout {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stdout missing %q:\n%s", w, out.String())
				}
			}
			for _, w := range tc.stderr {
				if !strings.Contains(errb.String(), w) {
					t.Errorf("stderr missing %q:\n%s", w, errb.String())
				}
			}
			if code == 1 && strings.Count(strings.TrimSpace(errb.String()), "\n") != 0 {
				t.Errorf("failure reason is not one line: %q", errb.String())
			}
			if tc.jsonChecks != nil {
				var m map[string]any
				if err := json.Unmarshal(out.Bytes(), &m); err != nil {
					t.Fatalf("stdout is not JSON: %v\n%s", err, out.String())
				}
				tc.jsonChecks(t, m)
			}
		})
	}
	if b, err := os.ReadFile(report); err != nil || !bytes.Contains(b, []byte("<svg")) {
		t.Errorf("report: %v, want an HTML file with SVG plots", err)
	}
	if b, err := os.ReadFile(baseline); err != nil || !bytes.HasPrefix(b, []byte("[")) {
		t.Errorf("baseline = %q, %v, want a JSON array", b, err)
	}
}

// TestLoadInterrupt sends the process the SIGINT a user's Ctrl-C would, and
// expects the partial report and a non-zero exit.
func TestLoadInterrupt(t *testing.T) {
	arrived := make(chan struct{}, 1)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- struct{}{}:
		default:
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	go func() {
		<-arrived
		syscall.Kill(os.Getpid(), syscall.SIGINT)
	}()
	var out, errb bytes.Buffer
	code := run([]string{"load", "--url", srv.URL, "-c", "2", "-d", "1m", "--timeout", "1m", "-q"}, &out, &errb)
	if code != 1 || !strings.Contains(out.String(), "interrupted: partial result") || !strings.Contains(errb.String(), "interrupted") {
		t.Errorf("run() = %d, stdout %q, stderr %q; want 1 with the partial report", code, out.String(), errb.String())
	}
}
