package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/perfengine/perfengine"
)

// TestRollbackCommand asks a running daemon for a manual rollback and finds
// it in the daemon's action history with its reason.
func TestRollbackCommand(t *testing.T) {
	t.Setenv("PERFENGINE_TOKEN", "s3cret-token")
	t.Setenv("PERFENGINE_VERSION", "v2.1.0")
	s := start(t, []string{"dashboard"}, "serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir())
	base := s.urls["dashboard"]

	var stdout, stderr bytes.Buffer
	code := run([]string{"rollback", "--server", base, "--reason", "checkout errors after deploy", "--to", "v2.0.3"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("rollback exited %d: %s", code, stderr.String())
	}
	if out := stdout.String(); !strings.Contains(out, "v2.1.0 -> v2.0.3, applied: dry run: would roll back v2.1.0 to v2.0.3") {
		t.Errorf("stdout %q, want the applied dry-run rollback", out)
	}
	_, body := get(t, client(t), base+"/api/v1/actions?state=applied")
	var found bool
	for _, a := range decodeJSON[struct{ Actions []perfengine.Action }](t, body).Actions {
		found = found || (a.Kind == "rollback" && a.Params["reason"] == "checkout errors after deploy")
	}
	if !found {
		t.Errorf("applied actions %s, want the manual rollback with its reason", body)
	}

	stdout.Reset()
	stderr.Reset()
	code = run([]string{"rollback", "--server", base, "--reason", "again", "--to", "v2.0.2"}, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "cooldown") {
		t.Errorf("second rollback exited %d with %q, want 1 and the cooldown", code, stderr.String())
	}
	t.Setenv("PERFENGINE_TOKEN", "")
	stderr.Reset()
	if code := run([]string{"rollback", "--server", base, "--reason", "x"}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "token") {
		t.Errorf("without a token: exit %d, %q", code, stderr.String())
	}
}
