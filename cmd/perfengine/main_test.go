package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/perfengine/perfengine"
	"github.com/perfengine/perfengine/dashboard"
	"github.com/perfengine/perfengine/internal/demo"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestMain(m *testing.M) {
	// signal.NotifyContext starts the runtime's signal watcher, which lives
	// as long as the process.
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("os/signal.loop"), goleak.IgnoreAnyFunction("os/signal.signal_recv"))
}

// TestServeRejectsBadConfig runs `serve` in process on each bad file in
// testdata/config and compares the one line on stderr with its golden file.
func TestServeRejectsBadConfig(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "config", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		if name == "valid" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run([]string{"serve", "--config", file, "--addr", "127.0.0.1:0", "--data-dir", t.TempDir()}, &stdout, &stderr)
			if code != 1 {
				t.Fatalf("serve --config %s exited %d, want 1; stderr %s", file, code, stderr.String())
			}
			if n := strings.Count(stderr.String(), "\n"); n != 1 || !strings.HasPrefix(stderr.String(), "perfengine: ") {
				t.Errorf("stderr is not one line starting with \"perfengine: \" (%d lines): %q", n, stderr.String())
			}
			golden := strings.TrimSuffix(file, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, stderr.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if stderr.String() != string(want) {
				t.Errorf("serve --config %s:\n got %s\nwant %s", file, stderr.String(), want)
			}
		})
	}
}

func TestServeRejectsBadEnvAndFlags(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want []string // substrings of the one-line error
	}{
		{"cpu warning not a number", map[string]string{"CPU_WARNING_THRESHOLD": "abc"}, nil, []string{"CPU_WARNING_THRESHOLD=abc", "must be a number"}},
		{"cpu warning above critical", map[string]string{"CPU_WARNING_THRESHOLD": "95", "CPU_CRITICAL_THRESHOLD": "90"}, nil, []string{"thresholds.cpu.warning=95", "critical level 90"}},
		{"interval not a duration", map[string]string{"PERFORMANCE_MONITORING_INTERVAL": "often"}, nil, []string{"PERFORMANCE_MONITORING_INTERVAL=often"}},
		{"bad addr flag", nil, []string{"--addr", "nope"}, []string{"server.addr=nope", "host:port"}},
		{"beyond loopback without token", nil, []string{"--addr", "0.0.0.0:0"}, []string{"not a loopback address", "PERFENGINE_TOKEN"}},
		{"missing config file", nil, []string{"--config", filepath.Join("testdata", "config", "absent.yaml")}, []string{"read config", "absent.yaml"}},
		{"stray argument", nil, []string{"extra"}, []string{"unknown command"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var stdout, stderr bytes.Buffer
			args := append([]string{"serve", "--data-dir", t.TempDir()}, tc.args...)
			if code := run(args, &stdout, &stderr); code != 1 {
				t.Fatalf("serve %v exited %d, want 1", args, code)
			}
			line := stderr.String()
			if strings.Count(line, "\n") != 1 {
				t.Errorf("stderr is not one line: %q", line)
			}
			for _, w := range tc.want {
				if !strings.Contains(line, w) {
					t.Errorf("serve %v with %v: stderr %q lacks %q", args, tc.env, line, w)
				}
			}
		})
	}
}

// started runs a long-lived command in process until the test ends, and
// returns the URLs it announced on stderr ("... on http://...").
type started struct {
	urls   map[string]string // "dashboard", "demo service" -> URL
	stdout *bytes.Buffer
	done   chan error
	cancel context.CancelFunc

	mu     sync.Mutex
	stderr []string // every line, logs included
}

// logged reports whether a line of stderr so far contains every part.
func (s *started) logged(parts ...string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.stderr {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(l, p)
		}
		if all {
			return true
		}
	}
	return false
}

func start(t *testing.T, want []string, args ...string) *started {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	s := &started{urls: map[string]string{}, stdout: &bytes.Buffer{}, done: make(chan error, 1), cancel: cancel}
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(s.stdout)
	root.SetErr(pw)
	go func() {
		err := root.ExecuteContext(ctx)
		pw.Close()
		s.done <- err
	}()
	// Whatever happens in the test, the command ends before goleak looks.
	t.Cleanup(func() { s.stop(t) })
	found := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.stderr = append(s.stderr, line)
			s.mu.Unlock()
			for _, w := range want {
				if _, ok := s.urls[w]; ok {
					continue
				}
				if _, url, ok := strings.Cut(line, "perfengine: "+w+" on "); ok {
					s.urls[w], _, _ = strings.Cut(url, " ")
					if len(s.urls) == len(want) {
						close(found)
					}
				}
			}
		}
		io.Copy(io.Discard, pr)
	}()
	select {
	case <-found:
	case err := <-s.done:
		s.done = nil
		t.Fatalf("%v ended before it served: %v", args, err)
	}
	return s
}

// stop cancels the command and waits for it; it may be called again.
func (s *started) stop(t *testing.T) {
	t.Helper()
	s.cancel()
	if s.done == nil {
		return
	}
	if err := <-s.done; err != nil {
		s.mu.Lock()
		var last []string
		for _, l := range s.stderr {
			if !strings.Contains(l, "level=DEBUG") {
				last = append(last, l)
			}
		}
		s.mu.Unlock()
		last = last[max(0, len(last)-25):]
		t.Errorf("command ended with %v; its last log lines:\n%s", err, strings.Join(last, "\n"))
	}
	s.done = nil
}

func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func client(t *testing.T) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func TestServe(t *testing.T) {
	s := start(t, []string{"dashboard"}, "serve", "--config", filepath.Join("testdata", "config", "valid.yaml"),
		"--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--json")
	c := client(t)
	base := s.urls["dashboard"]

	code, body := get(t, c, base+"/healthz")
	if h := decodeJSON[map[string]any](t, body); code != 200 || h["ok"] != true {
		t.Errorf("/healthz = %d %s", code, body)
	}
	code, body = get(t, c, base+"/metrics")
	if code != 200 || !strings.Contains(body, "perfengine_goroutines") || !strings.Contains(body, "perfengine_engine_cycles_total") {
		t.Errorf("/metrics = %d without perfengine_ runtime metrics: %.500s", code, body)
	}
	code, body = get(t, c, base+"/api/v1/summary")
	sum := decodeJSON[perfengine.Summary](t, body)
	switch sum.Status {
	case perfengine.StatusHealthy, perfengine.StatusWarning, perfengine.StatusCritical:
	default:
		t.Errorf("/api/v1/summary = %d with status %q", code, sum.Status)
	}
	code, body = get(t, c, base+"/api/v1/debug")
	if d := decodeJSON[perfengine.DebugInfo](t, body); code != 200 || d.Config.Thresholds.CPU.Warning != 60 {
		t.Errorf("the config file was not applied: cpu warning %v", d.Config.Thresholds.CPU.Warning)
	}
	s.stop(t)
	if out := decodeJSON[map[string]string](t, s.stdout.String()); out["dashboard_url"] != base {
		t.Errorf("--json stdout = %q, want the dashboard URL %s", s.stdout.String(), base)
	}
}

// TestServeWatchesDatabase points the daemon at a small SQLite database and
// finds the database module, healthy, in the summary.
func TestServeWatchesDatabase(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "shop.db")
	db, err := demo.OpenSQLite(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.Exec(`CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO items (name) VALUES ('a'), ('b')`)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "perfengine.yaml")
	yaml := "monitoringInterval: 1h\ndatabase:\n  dsn: sqlite:" + dbPath + "\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	s := start(t, []string{"dashboard"}, "serve", "--config", cfg, "--addr", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "store"))
	_, body := get(t, client(t), s.urls["dashboard"]+"/api/v1/summary")
	var names []string
	for _, m := range decodeJSON[perfengine.Summary](t, body).Modules {
		names = append(names, m.Name)
		if m.Name == "database" && !m.Healthy {
			t.Errorf("database module unhealthy: %s", m.LastError)
		}
	}
	if !slices.Contains(names, "database") || !slices.Contains(names, "regression") {
		t.Errorf("modules = %v, want database and regression among them", names)
	}
}

func TestDemo(t *testing.T) {
	s := start(t, []string{"demo service", "dashboard"}, "demo", "--addr", "127.0.0.1:0", "--dashboard-addr", "127.0.0.1:0",
		"--data-dir", t.TempDir(), "--load-rate", "50", "--json")
	c := client(t)
	code, body := get(t, c, s.urls["demo service"]+"/api/products?category=books")
	if p := decodeJSON[demo.ProductPage](t, body); code != 200 || len(p.Products) != demo.PageSize {
		t.Errorf("demo /api/products = %d with %d products", code, len(p.Products))
	}
	code, body = get(t, c, s.urls["dashboard"]+"/api/v1/summary")
	if sum := decodeJSON[perfengine.Summary](t, body); code != 200 || sum.Status == "" || len(sum.Modules) == 0 {
		t.Errorf("dashboard summary = %d %.300s", code, body)
	}
	// The shop is instrumented the client_golang way, for a daemon to watch.
	if _, body := get(t, c, s.urls["dashboard"]+"/metrics"); !strings.Contains(body, `http_requests_total{code="200",method="get"}`) ||
		!strings.Contains(body, "http_request_duration_seconds_bucket") {
		t.Errorf("dashboard /metrics lacks the shop's request series")
	}
	// The overview has a panel per layer: the database's figures and index
	// advice, and the demo host the load generator's client calls. The
	// index advice is the engine's: every create_index action it holds is
	// in the panel (how soon the advisor finds one depends on the machine's
	// load; internal/demo tests that it does).
	host := strings.TrimPrefix(s.urls["demo service"], "http://")
	var page, db, hosts string
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(time.Second) {
		_, page = get(t, c, s.urls["dashboard"]+"/")
		_, db, _ = strings.Cut(page, `<section id="database">`)
		_, hosts, _ = strings.Cut(page, `<table id="hosts">`)
		if strings.Contains(db, `data-metric="db_`) && strings.Contains(hosts, "<td>"+host+"</td>") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no database figures or no row for %s in the dashboard after 90 s:\n%.3000s\nhosts:\n%.1500s", host, db, hosts)
		}
	}
	// The actions first: one the page shows later was there before.
	_, body = get(t, c, s.urls["dashboard"]+"/api/v1/actions")
	_, page = get(t, c, s.urls["dashboard"]+"/")
	_, db, _ = strings.Cut(page, `<section id="database">`)
	indexes := 0
	for _, a := range decodeJSON[dashboard.ActionsBody](t, body).Actions {
		if a.Kind == perfengine.ActionCreateIndex {
			indexes++
			if !strings.Contains(db, ">"+html.EscapeString(a.Target)+"</td>") {
				t.Errorf("index action %s is not in the database panel:\n%.3000s", a.Target, db)
			}
		}
	}
	if indexes == 0 && !strings.Contains(db, "No index to suggest") {
		t.Errorf("no index action, and the panel does not say so:\n%.3000s", db)
	}
	s.stop(t)
	res := decodeJSON[demo.RunResult](t, s.stdout.String())
	if res.DemoURL != s.urls["demo service"] || res.Load.Failed != 0 {
		t.Errorf("demo --json result = %+v", res)
	}
}

func TestVersion(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"version", "--json"}, &stdout, &stderr); code != 0 {
		t.Fatalf("version --json exited %d: %s", code, stderr.String())
	}
	b := decodeJSON[BuildInfo](t, stdout.String())
	if b.Version == "" || !strings.HasPrefix(b.Go, "go") || b.Platform == "" {
		t.Errorf("version = %+v", b)
	}
	stdout.Reset()
	if code := run([]string{"version"}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "go        "+b.Go) {
		t.Errorf("version = %d %q", code, stdout.String())
	}
}

func TestHelpAndCompletion(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"demo", "--help"}, {"serve", "--help"}, {"version", "--help"}, {"completion", "bash"}} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != 0 || stdout.Len() == 0 {
			t.Errorf("perfengine %v = %d, %d bytes; stderr %s", args, code, stdout.Len(), stderr.String())
		}
		if args[len(args)-1] == "--help" && !strings.Contains(stdout.String(), "Examples:") {
			t.Errorf("perfengine %v has no examples", args)
		}
	}
}

func TestOneLine(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{errors.New("plain"), "plain"},
		{errors.Join(errors.New("a"), errors.New("b")), "a; b"},
		{fmt.Errorf("wrap: %w", errors.New("x\n  y\r\n")), "wrap: x; y"},
	}
	for _, tc := range tests {
		if got := oneLine(tc.err); got != tc.want {
			t.Errorf("oneLine(%q) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

func decodeJSON[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("decode %T from %.300q: %v", v, s, err)
	}
	return v
}

// Example_badConfig shows what serve prints for an invalid configuration:
// one line naming the field, the value and the allowed range.
func Example_badConfig() {
	code := run([]string{"serve", "--config", filepath.Join("testdata", "config", "warning_above_critical.yaml")}, os.Stdout, os.Stdout)
	fmt.Println("exit", code)
	// Output:
	// perfengine: invalid configuration: thresholds.cpu.warning=95: must not be above the critical level 90
	// exit 1
}

// TestServeBuildsAPIAndNetworkModules turns modules.api and modules.network
// on and off: on, the dashboard is served through the API optimizer
// (compressed) and both modules report in the summary; off, neither does.
func TestServeBuildsAPIAndNetworkModules(t *testing.T) {
	for _, on := range []bool{true, false} {
		t.Run(fmt.Sprint("on=", on), func(t *testing.T) {
			t.Setenv("PERFENGINE_MODULES_API", fmt.Sprint(on))
			t.Setenv("PERFENGINE_MODULES_NETWORK", fmt.Sprint(on))
			s := start(t, []string{"dashboard"}, "serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir())
			c := client(t)
			req, err := http.NewRequest("GET", s.urls["dashboard"]+"/", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Accept-Encoding", "gzip")
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if got := resp.Header.Get("Content-Encoding") == "gzip"; got != on {
				t.Errorf("dashboard Content-Encoding %q with modules.api=%v", resp.Header.Get("Content-Encoding"), on)
			}
			_, body := get(t, c, s.urls["dashboard"]+"/api/v1/summary")
			var names []string
			for _, m := range decodeJSON[perfengine.Summary](t, body).Modules {
				names = append(names, m.Name)
			}
			if slices.Contains(names, "api") != on || slices.Contains(names, "network") != on {
				t.Errorf("modules = %v with modules.api and modules.network %v", names, on)
			}
		})
	}
}
