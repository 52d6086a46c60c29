package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/perfengine/perfengine/regress"
)

func runCmd(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return out.String(), errb.String(), code
}

// TestRegressDetectJSON checks the documented shape of `regress detect
// --json` against golden files.
func TestRegressDetectJSON(t *testing.T) {
	for _, name := range []string{"steps.csv", "latency.json"} {
		t.Run(name, func(t *testing.T) {
			out, stderr, code := runCmd(t, "regress", "detect", "--input", filepath.Join("testdata", "regress", name), "--json")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			var got struct {
				N            int `json:"n"`
				ChangePoints []struct {
					Index      *int     `json:"index"`
					MeanBefore *float64 `json:"mean_before"`
					MeanAfter  *float64 `json:"mean_after"`
					ChangePct  *float64 `json:"change_pct"`
					PValue     *float64 `json:"p_value"`
				} `json:"change_points"`
			}
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("output is not JSON: %v\n%s", err, out)
			}
			for _, c := range got.ChangePoints {
				if c.Index == nil || c.MeanBefore == nil || c.MeanAfter == nil || c.ChangePct == nil || c.PValue == nil {
					t.Errorf("change point lacks a field: %s", out)
				}
			}
			golden := filepath.Join("testdata", "regress", strings.TrimSuffix(name, filepath.Ext(name))+".detect.golden")
			if *update {
				if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if out != string(want) {
				t.Errorf("regress detect --json =\n%s\nwant\n%s", out, want)
			}
		})
	}
}

func TestRegressCommands(t *testing.T) {
	td := func(name string) string { return filepath.Join("testdata", "regress", name) }
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "store.db")
	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   string // substring
		stderrIs string // the whole one-line error, when code is 1
	}{
		{"detect text", []string{"regress", "detect", "--input", td("latency.json")}, 0, "70     2026-11-27T04:01:10Z", ""},
		{"detect empty json", []string{"regress", "detect", "--input", td("bad.csv")}, 1, "", "perfengine: testdata/regress/bad.csv: read csv: line 3: \"abc\" is not a number\n"},
		{"detect no input", []string{"regress", "detect"}, 1, "", "perfengine: --input is required (a CSV or JSON file, or - for standard input)\n"},
		{"detect bad method", []string{"regress", "detect", "--input", td("steps.csv"), "--method", "magic"}, 1, "", "perfengine: detect: method \"magic\" must be binseg, pelt or edivisive\n"},
		{"compare files", []string{"regress", "compare", "--baseline", td("before.csv"), "--candidate", td("after.csv")}, 0, "verdict: fail", ""},
		{"compare exit code", []string{"regress", "compare", "--baseline", td("before.csv"), "--candidate", td("after.csv"), "--exit-code"}, 1, "", ""},
		{"compare same", []string{"regress", "compare", "--baseline", td("before.csv"), "--candidate", td("before.csv"), "--exit-code"}, 0, "verdict: pass (score 100/100)", ""},
		{"baseline v1", []string{"regress", "baseline", "create", "--version", "v1", "--input", td("before.csv"), "--store", dsn}, 0, "baseline v1: response_time_ms, 40 values", ""},
		{"baseline v2", []string{"regress", "baseline", "create", "--version", "v2", "--input", td("after.csv"), "--store", dsn}, 0, "", ""},
		{"compare versions", []string{"regress", "compare", "--baseline", "v1", "--candidate", "v2", "--store", dsn, "--json"}, 0, `"verdict": "fail"`, ""},
		{"compare version with file", []string{"regress", "compare", "--baseline", "v1", "--candidate", td("before.csv"), "--store", dsn}, 0, "verdict: pass", ""},
		{"compare unknown version", []string{"regress", "compare", "--baseline", "v1", "--candidate", "v9", "--store", dsn}, 1, "", "perfengine: regress: no baseline for version \"v9\"\n"},
		{"compare missing file", []string{"regress", "compare", "--baseline", "nope/x.csv", "--candidate", "v1", "--store", dsn}, 1, "", "perfengine: nope/x.csv: no such file\n"},
		{"baseline without version", []string{"regress", "baseline", "create", "--input", td("before.csv"), "--store", dsn}, 1, "", "perfengine: --version is required (or set PERFENGINE_VERSION)\n"},
	}
	t.Setenv("PERFENGINE_VERSION", "")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, stderr, code := runCmd(t, tc.args...)
			if code != tc.code {
				t.Fatalf("%v exited %d, want %d; stderr %q", tc.args, code, tc.code, stderr)
			}
			if !strings.Contains(out, tc.stdout) {
				t.Errorf("stdout %q, want it to contain %q", out, tc.stdout)
			}
			if tc.stderrIs != "" {
				lines := strings.Split(strings.TrimSpace(stderr), "\n")
				if last := lines[len(lines)-1] + "\n"; last != tc.stderrIs {
					t.Errorf("last stderr line %q, want %q", last, tc.stderrIs)
				}
			}
		})
	}
}

// TestRegressDetectHistory runs detect on a file of three metrics, one of
// which regresses by 20 % at 10:01:50.
func TestRegressDetectHistory(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"regress", "detect", "--input", filepath.Join("testdata", "regress", "history.csv"), "--json"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	out := decodeJSON[historyOutput](t, stdout.String())
	if len(out.Metrics) != 3 || len(out.Changes) != 1 {
		t.Fatalf("metrics %v, changes %+v; want 3 metrics and one change", out.Metrics, out.Changes)
	}
	c := out.Changes[0]
	if c.Metric != "response_time_p95_ms" || c.Change != regress.Regression || c.Class != regress.ClassPerformance ||
		c.ChangePoint.Time != "2026-12-06T10:01:50Z" || c.Ratio.Lo < 1.1 || c.Ratio.Hi > 1.3 {
		t.Errorf("change %+v, want a performance regression of about 1.2x at 10:01:50", c)
	}
}
