package store

import (
	"context"
	"path/filepath"
	"testing"
)

// TestSQLitePragmas checks the settings the durability argument rests on.
func TestSQLitePragmas(t *testing.T) {
	s, err := OpenSQLite(filepath.Join(t.TempDir(), "p.db"), Retention{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	tests := []struct {
		name   string
		reader bool
		pragma string
		want   string
	}{
		{"writer WAL", false, "journal_mode", "wal"},
		{"writer synchronous NORMAL", false, "synchronous", "1"},
		{"writer busy timeout", false, "busy_timeout", "10000"},
		{"reader WAL", true, "journal_mode", "wal"},
		{"reader read-only", true, "query_only", "1"},
	}
	for _, tc := range tests {
		db := s.w
		if tc.reader {
			db = s.rd
		}
		var got string
		if err := db.QueryRowContext(ctx, "PRAGMA "+tc.pragma).Scan(&got); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got != tc.want {
			t.Errorf("%s: PRAGMA %s = %q, want %q", tc.name, tc.pragma, got, tc.want)
		}
	}
	if _, err := s.rd.ExecContext(ctx, "DELETE FROM actions"); err == nil {
		t.Error("the reader pool accepted a write")
	}
}
