package batch

import (
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func api() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/products/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":`+r.PathValue("id")+`}`)
	})
	mux.HandleFunc("GET /api/me", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "" {
			http.Error(w, "no user", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"user":"`+strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")+`"}`)
	})
	mux.HandleFunc("PUT /api/products/{id}", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	})
	return mux
}

// TestGolden runs each testdata/*.txt: a request body, a line "----", the
// expected status and response body.
func TestGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.txt")
	if len(files) == 0 {
		t.Fatal("no golden files")
	}
	h := Handler(api(), Config{MaxRequests: 3, MaxBytes: 512})
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			in, want, ok := strings.Cut(string(raw), "\n----\n")
			if !ok {
				t.Fatalf("%s: no ---- separator", f)
			}
			r := httptest.NewRequest("POST", "/batch", strings.NewReader(in))
			r.Header.Set("Authorization", "Bearer alice")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			got := w.Result().Status + "\n" + w.Body.String()
			if *update {
				os.WriteFile(f, []byte(in+"\n----\n"+got), 0o644)
				return
			}
			if got != want {
				t.Errorf("%s:\ngot  %s\nwant %s", f, got, want)
			}
		})
	}
}

func TestMethodNotAllowed(t *testing.T) {
	w := httptest.NewRecorder()
	Handler(api(), Config{}).ServeHTTP(w, httptest.NewRequest("GET", "/batch", nil))
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET /batch: %d", w.Code)
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{`[{"method":"GET","path":"/a"}]`, `[]`, `{}`, `[{"path":"//x"}]`, `[{"path":"/batch"}]`,
		`[{"path":"/a","headers":{"Host":"x"}}]`, `[{"path":"/a","body":"x"}] junk`, `[` + strings.Repeat(`{"path":"/a"},`, 30) + `{"path":"/a"}]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		reqs, err := Decode(strings.NewReader(string(b)), 20, "/batch")
		if err != nil {
			return
		}
		if len(reqs) == 0 || len(reqs) > 20 {
			t.Fatalf("Decode accepted %d requests", len(reqs))
		}
		for _, q := range reqs {
			if !strings.HasPrefix(q.Path, "/") || strings.HasPrefix(q.Path, "//") {
				t.Fatalf("Decode accepted path %q", q.Path)
			}
		}
		// A decoded batch runs without panicking.
		out := run(api(), httptest.NewRequest("POST", "/batch", nil), reqs[0])
		if _, err := json.Marshal(out); err != nil {
			t.Fatalf("response does not encode: %v", err)
		}
	})
}
