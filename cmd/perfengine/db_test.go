package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"
)

func TestDBAdviseSQLite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "shop.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		`CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT, category TEXT)`,
		`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
		 INSERT INTO products (name, category) SELECT 'p' || i, 'c' || (i % 20) FROM n`,
	} {
		if _, err := db.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	qfile := filepath.Join(dir, "q.sql")
	os.WriteFile(qfile, []byte("SELECT * FROM products WHERE name = 'p42';\nSELEC nope;\n"), 0o644)

	var out, errb bytes.Buffer
	code := run([]string{"db", "advise", "--dsn", "sqlite:" + path, "--queries", qfile, "--json", "--apply"}, &out, &errb)
	if code != 0 {
		t.Fatalf("db advise = %d, stderr %s", code, errb.String())
	}
	var got struct {
		Suggestions []struct {
			Table      string   `json:"table"`
			Columns    []string `json:"columns"`
			Statement  string   `json:"statement"`
			CostBefore float64  `json:"cost_before"`
			CostAfter  float64  `json:"cost_after"`
			SavingsPct float64  `json:"savings_pct"`
			SizeBytes  int64    `json:"size_bytes"`
			Queries    []string `json:"queries"`
		} `json:"suggestions"`
		Skipped []struct{ Query, Reason string } `json:"skipped"`
		Applied []struct {
			Name string   `json:"name"`
			Used []string `json:"used_by"`
		} `json:"applied"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out.String())
	}
	if len(got.Suggestions) != 1 || got.Suggestions[0].Table != "products" || got.Suggestions[0].Columns[0] != "name" ||
		got.Suggestions[0].SavingsPct <= 50 || got.Suggestions[0].SizeBytes <= 0 || len(got.Suggestions[0].Queries) != 1 {
		t.Fatalf("suggestions = %+v, want products(name) with a saving", got.Suggestions)
	}
	if len(got.Skipped) != 1 || !strings.Contains(got.Skipped[0].Reason, "syntax error") {
		t.Errorf("skipped = %+v, want the syntax error", got.Skipped)
	}
	if len(got.Applied) != 1 || len(got.Applied[0].Used) != 1 {
		t.Errorf("applied = %+v, want the index created and used", got.Applied)
	}
	if !strings.Contains(errb.String(), "analyzed 1 queries") {
		t.Errorf("stderr = %q, want progress", errb.String())
	}

	out.Reset()
	errb.Reset()
	if code := run([]string{"db", "health", "--dsn", "sqlite:" + path}, &out, &errb); code != 0 {
		t.Fatalf("db health = %d, stderr %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "vacuum") || !strings.Contains(out.String(), "wal_checkpoint") {
		t.Errorf("db health output = %s, want the SQLite checks", out.String())
	}
}

func TestDBErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no dsn", []string{"db", "health"}, "--dsn is required"},
		{"bad scheme", []string{"db", "health", "--dsn", "mysql://x"}, "unknown scheme"},
		{"missing file", []string{"db", "health", "--dsn", "sqlite:" + filepath.Join(t.TempDir(), "none.db")}, "no such file"},
		{"bad budget", []string{"db", "advise", "--dsn", "sqlite:x.db", "--budget", "lots"}, "--budget"},
		{"missing queries", []string{"db", "advise", "--dsn", "sqlite:x.db", "--queries", filepath.Join(t.TempDir(), "q.sql")}, "--queries"},
		{"unreachable", []string{"db", "health", "--dsn", "postgres://127.0.0.1:1/x?connect_timeout=2"}, "connect"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(tc.args, &out, &errb)
			lines := strings.Split(strings.TrimSpace(errb.String()), "\n")
			last := lines[len(lines)-1]
			if code == 0 || !strings.HasPrefix(last, "perfengine: ") || !strings.Contains(last, tc.want) {
				t.Fatalf("run(%v) = %d, stderr %q; want failure naming %q", tc.args, code, errb.String(), tc.want)
			}
		})
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"4096", 4096}, {"100k", 100 << 10}, {"500MB", 500 << 20}, {"2GiB", 2 << 30}, {"1.5 gb", 3 << 29},
	}
	for _, tc := range tests {
		got, err := parseSize(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "-1", "lots", "1e30TB"} {
		if _, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) = nil error, want one", bad)
		}
	}
}
