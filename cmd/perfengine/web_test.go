package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/perfengine/perfengine/webopt/audit"
)

func TestWebAudit(t *testing.T) {
	needChromium(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, `<!DOCTYPE html><html><head><title>t</title></head><body><h1 id="title">A page with words</h1><p>Some text.</p></body></html>`)
	}))
	defer srv.Close()
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"text", []string{"web", "audit", srv.URL, "--runs", "1", "--throttle", "none"}, 0, "h1#title", "run 1/1"},
		{"bad throttle", []string{"web", "audit", srv.URL, "--throttle", "3g"}, 1, "", `throttle "3g": must be lighthouse or none`},
		{"bad runs", []string{"web", "audit", srv.URL, "--runs", "0"}, 1, "", "--runs must be in 1..50"},
		{"bad URL", []string{"web", "audit", "ftp://x/"}, 1, "", `"ftp://x/" is not an absolute http(s) URL`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := runUnder(newWebCmd(), tc.args, &out, &errb)
			if code != tc.code || !strings.Contains(out.String(), tc.stdout) || !strings.Contains(errb.String(), tc.stderr) {
				t.Errorf("perfengine %s = %d\nstdout: %s\nstderr: %s\nwant %d, stdout with %q, stderr with %q", strings.Join(tc.args, " "), code, out.String(), errb.String(), tc.code, tc.stdout, tc.stderr)
			}
		})
	}
	var out, errb bytes.Buffer
	if code := runUnder(newWebCmd(), []string{"web", "audit", srv.URL, "--runs", "1", "--throttle", "none", "--json"}, &out, &errb); code != 0 {
		t.Fatalf("--json: %d %s", code, errb.String())
	}
	var rep audit.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("--json output: %v\n%s", err, out.String())
	}
	if rep.Median.LCP == nil || rep.Median.FCP == nil || rep.Median.TTFB == nil || len(rep.Runs) != 1 {
		t.Errorf("--json report = %+v, want LCP, FCP and TTFB of one run", rep.Median)
	}
}

func TestWebLeaks(t *testing.T) {
	needChromium(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, `<!DOCTYPE html><html><body><button id="open">open</button><script>
const kept = [];
document.getElementById('open').onclick = () => {
  const d = document.createElement('section'); d.id = 'panel';
  d.innerHTML = '<p>a</p><p>b</p><p>c</p>';
  document.body.append(d); d.remove(); kept.push(d);
};</script></body></html>`)
	}))
	defer srv.Close()
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"leak", []string{"web", "leaks", srv.URL, "--interact", "document.getElementById('open').click()", "--repeat", "3"}, 0, "detached_dom section#panel", ""},
		{"no script", []string{"web", "leaks", srv.URL}, 1, "", "no interaction to repeat"},
		{"bad repeat", []string{"web", "leaks", srv.URL, "--interact", "1", "--repeat", "0"}, 1, "", "--repeat must be in 1..100"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := runUnder(newWebCmd(), tc.args, &out, &errb)
			if code != tc.code || !strings.Contains(out.String(), tc.stdout) || !strings.Contains(errb.String(), tc.stderr) {
				t.Errorf("perfengine %s = %d\nstdout: %s\nstderr: %s\nwant %d, stdout with %q, stderr with %q", strings.Join(tc.args, " "), code, out.String(), errb.String(), tc.code, tc.stdout, tc.stderr)
			}
		})
	}
}

// needChromium skips without a browser on a laptop, and fails under CI.
func needChromium(t *testing.T) {
	t.Helper()
	if _, err := audit.FindChromium(""); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set and %v", err)
		}
		t.Skipf("skipping: %v", err)
	}
}
