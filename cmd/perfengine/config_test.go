package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/perfengine/perfengine"
)

func TestConfigDefaultsListsEveryKey(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"config", "defaults", "--json"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var lines []struct {
		Key, Env, Value, ReadBy string
	}
	if err := json.Unmarshal(out.Bytes(), &lines); err != nil {
		t.Fatal(err)
	}
	if len(lines) != len(perfengine.ConfigKeys()) {
		t.Fatalf("%d keys listed, want %d", len(lines), len(perfengine.ConfigKeys()))
	}
	byKey := map[string]string{}
	for _, l := range lines {
		if l.ReadBy == "" || l.Env == "" {
			t.Errorf("%s: env %q, read by %q", l.Key, l.Env, l.ReadBy)
		}
		byKey[l.Key] = l.Value
	}
	for k, want := range map[string]string{"monitoringInterval": "30s", "thresholds.cpu.warning": "70", "regression.sensitivity": "moderate"} {
		if byKey[k] != want {
			t.Errorf("default of %s = %q, want %q", k, byKey[k], want)
		}
	}

	out.Reset()
	if code := run([]string{"config", "defaults"}, &out, &errb); code != 0 {
		t.Fatal(errb.String())
	}
	if !strings.Contains(out.String(), "PERFENGINE_THRESHOLDS_CPU_WARNING (CPU_WARNING_THRESHOLD)") ||
		!strings.Contains(out.String(), "PERFENGINE_DATABASE_DSN or PERFENGINE_DATABASE_DSN_FILE") {
		t.Errorf("text output lacks env names and secret files:\n%s", out.String())
	}
}

func TestConfigShowSaysWhereEachValueCameFrom(t *testing.T) {
	file := filepath.Join(t.TempDir(), "perfengine.yaml")
	if err := os.WriteFile(file, []byte("monitoringInterval: 10s\ndatabase: {dsn: 'postgres://app:hunter2@127.0.0.1/shop'}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PERFENGINE_THRESHOLDS_CPU_WARNING", "60")
	var out, errb bytes.Buffer
	if code := run([]string{"config", "show", "--config", file, "--addr", "127.0.0.1:7171"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	rows := map[string][]string{}
	for _, line := range strings.Split(out.String(), "\n") {
		if f := strings.Fields(line); len(f) >= 3 {
			rows[f[0]] = f[1:]
		}
	}
	for key, want := range map[string][2]string{
		"monitoringInterval":      {"10s", "file"},
		"thresholds.cpu.warning":  {"60", "env"},
		"server.addr":             {"127.0.0.1:7171", "flag"},
		"thresholds.cpu.critical": {"90", "default"},
		"database.dsn":            {"postgres://app:xxxxx@127.0.0.1/...", "file"},
	} {
		if r := rows[key]; len(r) < 2 || r[0] != want[0] || r[1] != want[1] {
			t.Errorf("%s = %v, want %v", key, r, want)
		}
	}
	if strings.Contains(out.String(), "hunter2") {
		t.Error("config show prints a password")
	}
}

func TestConfigValidateReportsEveryProblem(t *testing.T) {
	file := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(file, []byte("monitoringIntervall: 5s\nthresholds:\n  cpu: {warning: 95}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PERFENGINE_API_RATE_LIMIT", "many")
	var out, errb bytes.Buffer
	if code := run([]string{"config", "validate", file}, &out, &errb); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	for _, want := range []string{
		"monitoringIntervall: is not a configuration key; did you mean monitoringInterval?",
		"PERFENGINE_API_RATE_LIMIT=many: must be a whole number",
		"thresholds.cpu.warning=95: must not be above the critical level 90",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if !strings.Contains(errb.String(), "3 problem(s)") {
		t.Errorf("stderr = %q", errb.String())
	}

	errb.Reset()
	run([]string{"config", "validate", file, "--json"}, &out, &errb)
	var e map[string]string
	if err := json.Unmarshal(errb.Bytes(), &e); err != nil || !strings.Contains(e["error"], "3 problem(s)") {
		t.Errorf("--json error = %q (%v), want a JSON object", errb.String(), err)
	}

	good := filepath.Join(t.TempDir(), "good.yaml")
	if err := os.WriteFile(good, []byte("thresholds:\n  cpu: {warning: 60}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PERFENGINE_API_RATE_LIMIT", "100")
	out.Reset()
	if code := run([]string{"config", "validate", good}, &out, &errb); code != 0 || !strings.Contains(out.String(), "valid") {
		t.Errorf("valid file: exit %d, %s", code, out.String())
	}
}

func TestRootVersionFlag(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"--version"}, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "perfengine ") {
		t.Errorf("--version: exit %d, %q", code, out.String())
	}
}

// TestREADMEListsEveryKey keeps the README's configuration reference equal
// to `config defaults --markdown`; -update rewrites it.
func TestREADMEListsEveryKey(t *testing.T) {
	const begin, end = "<!-- config-keys:begin -->\n", "<!-- config-keys:end -->"
	path := filepath.Join("..", "..", "README.md")
	readme, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i, j := bytes.Index(readme, []byte(begin)), bytes.Index(readme, []byte(end))
	if i < 0 || j < i {
		t.Fatalf("README.md has no %q ... %q block", begin, end)
	}
	var table bytes.Buffer
	if err := printKeysMarkdown(&table, perfengine.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	got := readme[i+len(begin) : j]
	if *update {
		out := append(append(append([]byte{}, readme[:i+len(begin)]...), table.Bytes()...), readme[j:]...)
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal(got, table.Bytes()) {
		t.Errorf("README.md's key table differs from `perfengine config defaults --markdown`; run go test ./cmd/perfengine -run TestREADMEListsEveryKey -update")
	}
}
