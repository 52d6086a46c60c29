package dbopt

import (
	"errors"
	"strings"
	"testing"
)

func TestParseDSN(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		wantKind string
		wantConn string
		wantErr  string
	}{
		{"postgres url", "postgres://u:p@127.0.0.1:5432/db?sslmode=disable", KindPostgres, "postgres://u:p@127.0.0.1:5432/db?sslmode=disable", ""},
		{"postgresql url", "postgresql://127.0.0.1/db", KindPostgres, "postgresql://127.0.0.1/db", ""},
		{"key value", "host=127.0.0.1 dbname=x", KindPostgres, "host=127.0.0.1 dbname=x", ""},
		{"sqlite path", "sqlite:app.db", KindSQLite, "app.db", ""},
		{"sqlite absolute", "sqlite:///var/lib/app.db", KindSQLite, "/var/lib/app.db", ""},
		{"sqlite memory", "sqlite::memory:", KindSQLite, ":memory:", ""},
		{"sqlite options", "sqlite:app.db?_pragma=busy_timeout(5000)", KindSQLite, "app.db?_pragma=busy_timeout(5000)", ""},
		{"empty", "", "", "", "empty"},
		{"sqlite no path", "sqlite:", "", "", "needs a path"},
		{"unknown scheme", "mysql://x", "", "", `unknown scheme "mysql"`},
		{"bad port", "postgres://127.0.0.1:99999999/db", "", "", "bad DSN"},
		{"nul", "postgres://a\x00b", "", "", "NUL"},
		{"too long", "sqlite:" + strings.Repeat("a", maxDSNLen), "", "", "longer than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := ParseDSN(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrBadDSN) {
					t.Fatalf("ParseDSN(%q) = %v, want error containing %q", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseDSN(%q) = %v", tc.in, err)
			}
			if d.Kind != tc.wantKind || d.Conn != tc.wantConn {
				t.Fatalf("ParseDSN(%q) = %+v, want %s %q", tc.in, d, tc.wantKind, tc.wantConn)
			}
		})
	}
}

func TestDSNNeverEchoesPassword(t *testing.T) {
	for _, in := range []string{
		"postgres://bob:s3cretpw@127.0.0.1:99999999/db",
		"host=127.0.0.1 password=s3cretpw port=notaport",
	} {
		_, err := ParseDSN(in)
		if err == nil {
			t.Fatalf("ParseDSN(%q) = nil, want an error", in)
		}
		if strings.Contains(err.Error(), "s3cretpw") {
			t.Errorf("ParseDSN(%q) error %q shows the password", in, err)
		}
	}
	d, _ := ParseDSN("postgres://bob:s3cretpw@127.0.0.1/db")
	if s := d.String(); strings.Contains(s, "s3cretpw") {
		t.Errorf("DSN.String() = %q shows the password", s)
	}
}

func FuzzParseDSN(f *testing.F) {
	for _, s := range []string{"postgres://u:p@127.0.0.1:5432/db", "sqlite:app.db", "host=x password=y", "sqlite:", "postgres://[::1", "postgresql://%zz", "x=y=z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDSN(s)
		if err != nil {
			if !errors.Is(err, ErrBadDSN) {
				t.Fatalf("ParseDSN(%q) error %v does not wrap ErrBadDSN", s, err)
			}
			return
		}
		if d.Kind != KindPostgres && d.Kind != KindSQLite {
			t.Fatalf("ParseDSN(%q) kind %q", s, d.Kind)
		}
		_ = d.String()
	})
}

func TestOwnQueryKeepsOnlyWorkload(t *testing.T) {
	tests := []struct {
		q    string
		skip bool
	}{
		{"SELECT id FROM products WHERE name = ?", false},
		{"UPDATE products SET price = ? WHERE id = ?", false},
		{"  create index products_name_idx on products(name)", true},
		{"DROP INDEX products_name_idx", true},
		{"BEGIN", true},
		{"ROLLBACK", true},
		{"EXPLAIN QUERY PLAN SELECT 1", true},
		{"SELECT name FROM sqlite_master", true},
	}
	for _, tc := range tests {
		if got := ownQuery(tc.q); got != tc.skip {
			t.Errorf("ownQuery(%q) = %v, want %v", tc.q, got, tc.skip)
		}
	}
}
