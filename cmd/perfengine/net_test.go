package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/perfengine/perfengine/netopt/faults"
)

func runNetCmd(args []string, stdout, stderr io.Writer) int {
	return runUnder(newNetCmd(), args, stdout, stderr)
}

func TestNetProbe(t *testing.T) {
	flaky := httptest.NewServer(faults.New(faults.Config{UnavailableRatio: 0.1, RetryAfter: "0", Seed: 7}, nil))
	defer flaky.Close()
	down := httptest.NewServer(faults.New(faults.Config{UnavailableRatio: 1, RetryAfter: "0"}, nil))
	defer down.Close()
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"retries hide a flaky host", []string{"net", "probe", flaky.URL, "--count", "30"}, 0, "30 requests, 30 ok, 0 failed", "30/30 requests"},
		{"json", []string{"net", "probe", flaky.URL, "--count", "5", "--json"}, 0, `"ok": 5`, ""},
		{"host down", []string{"net", "probe", down.URL, "--count", "3", "--no-hedge"}, 1, "503 Service Unavailable", "perfengine: net probe: all 3 requests failed"},
		{"bad URL", []string{"net", "probe", "ftp://x"}, 1, "", `perfengine: net probe: "ftp://x" is not an absolute http(s) URL`},
		{"bad count", []string{"net", "probe", flaky.URL, "--count", "0"}, 1, "", "--count must be in 1..1000000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := runNetCmd(tc.args, &out, &errb)
			if code != tc.code || !strings.Contains(out.String(), tc.stdout) || !strings.Contains(errb.String(), tc.stderr) {
				t.Errorf("net probe %v = %d\nstdout: %s\nstderr: %s\nwant %d, %q, %q", tc.args, code, out.String(), errb.String(), tc.code, tc.stdout, tc.stderr)
			}
			if tc.name == "json" {
				var r netProbeResult
				if err := json.Unmarshal(out.Bytes(), &r); err != nil || len(r.Hosts) != 1 || r.Hosts[0].Requests != 5 {
					t.Errorf("JSON %s: %v", out.String(), err)
				}
			}
		})
	}
}
