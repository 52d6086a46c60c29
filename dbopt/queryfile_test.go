package dbopt

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

func TestReadQueries(t *testing.T) {
	f, err := os.Open("testdata/workload.sql")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	qs, skipped, err := ReadQueries(f)
	if err != nil {
		t.Fatalf("ReadQueries: %v", err)
	}
	want := []Query{
		{SQL: "SELECT * FROM orders WHERE customer_id = 42", Calls: 2},
		{SQL: "SELECT $$a;b$$ AS s, id FROM orders WHERE note = 'x;y' -- trailing; comment", Calls: 1},
		{SQL: "UPDATE orders SET status = 'done' WHERE id = 7", Calls: 1},
		{SQL: "SELECT * FROM products WHERE name = ? ORDER BY id LIMIT ?", Calls: 1},
	}
	if len(qs) != len(want) {
		t.Fatalf("ReadQueries = %d queries %+v, want %d", len(qs), qs, len(want))
	}
	for i := range want {
		if qs[i] != want[i] {
			t.Errorf("query %d = %+v, want %+v", i, qs[i], want[i])
		}
	}
	reasons := map[string]string{}
	for _, s := range skipped {
		reasons[s.Query] = s.Reason
	}
	if r := reasons["SELEC broken FROM"]; !strings.Contains(r, "syntax error") {
		t.Errorf("skipped reasons = %v, want a syntax error for the broken statement", reasons)
	}
	if r := reasons["CREATE TABLE x (a int)"]; !strings.Contains(r, "not a SELECT") {
		t.Errorf("skipped reasons = %v, want CREATE TABLE skipped", reasons)
	}
}

func TestReadQueriesBadInput(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr string
		skipped int
	}{
		{"empty", "", "", 0},
		{"comments only", "-- nothing\n/* here */", "", 0},
		{"nul bytes", "SELECT 1;\x00", "NUL", 0},
		{"huge statement", "SELECT '" + strings.Repeat("x", MaxQueryBytes) + "'", "", 1},
		{"unterminated quote", "SELECT 'abc", "", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			qs, skipped, err := ReadQueries(strings.NewReader(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ReadQueries = %v, want error %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ReadQueries = %v", err)
			}
			if len(qs) != 0 || len(skipped) != tc.skipped {
				t.Fatalf("ReadQueries = %d queries, %d skipped %v; want 0, %d", len(qs), len(skipped), skipped, tc.skipped)
			}
		})
	}
}

func FuzzReadQueries(f *testing.F) {
	seed, _ := os.ReadFile("testdata/workload.sql")
	f.Add(seed)
	for _, s := range []string{"SELECT 1; SELECT 2", "$$", "'", "/*", "SELECT * FROM t WHERE a = $1 AND b IN (SELECT c FROM d)", "select ?"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		qs, _, err := ReadQueries(bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, q := range qs {
			if q.SQL == "" || q.Calls < 1 {
				t.Fatalf("ReadQueries gave %+v", q)
			}
		}
	})
}
