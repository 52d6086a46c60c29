package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestSilenceCommands adds, lists and expires a silence on a running
// daemon.
func TestSilenceCommands(t *testing.T) {
	t.Setenv("PERFENGINE_TOKEN", "s3cret-token")
	s := start(t, []string{"dashboard"}, "serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir())
	base := s.urls["dashboard"]
	cli := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := run(append(args, "--server", base), &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
	code, out, errOut := cli("silence", "add", "--matcher", "target=orders-db", "--matcher", `alertname=~"slow.*"`, "--duration", "2h", "--comment", "index rebuild", "--author", "ops")
	if code != 0 || !strings.HasPrefix(out, "silence ") {
		t.Fatalf("silence add: %d %q %q", code, out, errOut)
	}
	id := strings.Fields(out)[1]
	code, out, _ = cli("silence", "list")
	if code != 0 || !strings.Contains(out, id) || !strings.Contains(out, "active") || !strings.Contains(out, `target="orders-db",alertname=~"slow.*"`) || !strings.Contains(out, "by ops: index rebuild") {
		t.Fatalf("silence list: %d %q", code, out)
	}
	if code, out, errOut = cli("silence", "expire", id); code != 0 || !strings.Contains(out, "expired") {
		t.Fatalf("silence expire: %d %q %q", code, out, errOut)
	}
	if _, out, _ = cli("silence", "list"); !strings.Contains(out, "expired") {
		t.Errorf("after expiry: %q", out)
	}
	if code, _, errOut = cli("silence", "expire", "nope"); code != 1 || !strings.Contains(errOut, "not_found") {
		t.Errorf("expire unknown: %d %q", code, errOut)
	}
	if code, _, errOut = cli("silence", "add", "--matcher", "target", "--comment", "x"); code != 1 || !strings.Contains(errOut, "--matcher") {
		t.Errorf("bad matcher: %d %q", code, errOut)
	}
	t.Setenv("PERFENGINE_TOKEN", "")
	if code, _, errOut = cli("silence", "add", "--matcher", "target=db", "--comment", "x"); code != 1 || !strings.Contains(errOut, "token") {
		t.Errorf("without a token: %d %q", code, errOut)
	}
}
