package audit

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// dialogPage opens and closes a dialog per click of #open. With leak set it
// keeps every closed dialog in a history array, as an undo stack or an
// analytics hook that holds elements would.
func dialogPage(leak bool) string {
	keep := ""
	if leak {
		keep = "history.push(d);"
	}
	return `<!doctype html><html><body><button id="open">open</button><script>
const history = [];
document.getElementById('open').addEventListener('click', () => {
  const d = document.createElement('div');
  d.className = 'dialog modal';
  for (let i = 0; i < 20; i++) { const p = document.createElement('p'); p.textContent = 'row ' + i; d.appendChild(p); }
  document.body.appendChild(d);
  d.remove();
  ` + keep + `
});
</script></body></html>`
}

func TestDetachedDOM(t *testing.T) {
	needChromium(t)
	for _, tc := range []struct {
		name string
		leak bool
	}{{"leaks", true}, {"control", false}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				w.Write([]byte(dialogPage(tc.leak)))
			}))
			defer srv.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			rep, err := DetachedDOM(ctx, srv.URL, `document.getElementById('open').click()`, 4, Options{Settle: 200 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("detached nodes per round: %v, roots %v", rep.Detached, rep.Roots)
			if len(rep.Detached) != 5 {
				t.Fatalf("Detached = %v, want a count before and after each of 4 rounds", rep.Detached)
			}
			if got := len(rep.Findings) == 1; got != tc.leak {
				t.Fatalf("findings %+v, want a detached_dom finding: %v", rep.Findings, tc.leak)
			}
			if tc.leak {
				f := rep.Findings[0]
				if f.Kind != "detached_dom" || !strings.Contains(f.Element, "div.dialog.modal") || rep.PerRound < 20 {
					t.Errorf("finding %+v, per round %v: want the dialog named and ≥ 20 nodes a round", f, rep.PerRound)
				}
			}
		})
	}
}

func TestDetachedDOMRejectsBadInput(t *testing.T) {
	for _, tc := range []struct {
		url, js string
		n       int
	}{{"ftp://x", "1", 1}, {"http://127.0.0.1:1/", " ", 1}, {"http://127.0.0.1:1/", "1", 101}} {
		if _, err := DetachedDOM(context.Background(), tc.url, tc.js, tc.n, Options{}); err == nil {
			t.Errorf("DetachedDOM(%q, %q, %d): no error", tc.url, tc.js, tc.n)
		}
	}
}
