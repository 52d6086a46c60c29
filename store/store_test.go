package store_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"

	"github.com/perfengine/perfengine/internal/pgtest"
	"github.com/perfengine/perfengine/store"
	"github.com/perfengine/perfengine/store/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(pgtest.Wrap(m)) }

func openSQLite(t *testing.T) store.Store {
	t.Helper()
	s, err := store.OpenSQLite(filepath.Join(t.TempDir(), "store.db"), store.Retention{})
	if err != nil {
		t.Fatalf("OpenSQLite = %v", err)
	}
	return s
}

func openPostgres(t *testing.T) store.Store {
	t.Helper()
	s, err := store.OpenPostgres(context.Background(), pgtest.NewDatabase(t), store.Retention{})
	if err != nil {
		t.Fatalf("OpenPostgres = %v", err)
	}
	return s
}

func TestSQLite(t *testing.T)   { storetest.Run(t, openSQLite) }
func TestPostgres(t *testing.T) { storetest.Run(t, openPostgres) }

func TestOpen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	tests := []struct {
		name    string
		dsn     func(t *testing.T) string
		want    string // type of the store, or "" for an error
		wantErr error
	}{
		{"sqlite file", func(*testing.T) string { return "sqlite:" + filepath.Join(dir, "a", "b.db") }, "*store.SQLite", nil},
		{"sqlite directory", func(*testing.T) string { return "sqlite:" + dir }, "*store.SQLite", nil},
		{"sqlite URL form", func(*testing.T) string { return "sqlite://" + filepath.Join(dir, "c.db") }, "*store.SQLite", nil},
		{"postgres", func(t *testing.T) string { return pgtest.NewDatabase(t) }, "*store.Postgres", nil},
		{"postgresql scheme", func(t *testing.T) string {
			return "postgresql://" + strings.TrimPrefix(pgtest.NewDatabase(t), "postgres://")
		}, "*store.Postgres", nil},
		{"empty", func(*testing.T) string { return "" }, "", store.ErrInvalid},
		{"sqlite without path", func(*testing.T) string { return "sqlite:" }, "", store.ErrInvalid},
		{"unknown scheme", func(*testing.T) string { return "mysql://root@localhost/db" }, "", store.ErrInvalid},
		{"path with query", func(*testing.T) string { return "sqlite:" + dir + "/x.db?mode=ro" }, "", store.ErrInvalid},
		{"bad postgres URL", func(*testing.T) string { return "postgres://u:secret@[::1/db" }, "", store.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dsn := tc.dsn(t)
			s, err := store.Open(ctx, dsn, store.Retention{})
			if tc.want == "" {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Open(%q) = %v, want %v", dsn, err, tc.wantErr)
				}
				if err != nil && strings.Contains(err.Error(), "secret") {
					t.Errorf("Open error shows the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open(%q) = %v", dsn, err)
			}
			defer s.Close()
			if got := typeName(s); got != tc.want {
				t.Errorf("Open(%q) = %s, want %s", dsn, got, tc.want)
			}
		})
	}
}

func typeName(s store.Store) string {
	switch s.(type) {
	case *store.SQLite:
		return "*store.SQLite"
	case *store.Postgres:
		return "*store.Postgres"
	}
	return "unknown"
}

func TestSQLitePath(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, path, want string
	}{
		{"existing directory", dir, filepath.Join(dir, store.DefaultSQLiteFile)},
		{"new directory with slash", filepath.Join(dir, "new") + "/", filepath.Join(dir, "new", store.DefaultSQLiteFile)},
		{"file in new directories", filepath.Join(dir, "a", "b", "x.db"), filepath.Join(dir, "a", "b", "x.db")},
	}
	for _, tc := range tests {
		s, err := store.OpenSQLite(tc.path, store.Retention{})
		if err != nil {
			t.Fatalf("%s: OpenSQLite(%q) = %v", tc.name, tc.path, err)
		}
		if s.Path() != tc.want {
			t.Errorf("%s: Path() = %q, want %q", tc.name, s.Path(), tc.want)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSQLiteMigrations reopens a store (nothing is applied twice) and
// refuses a file written by a newer program.
func TestSQLiteMigrations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	for range 3 {
		s, err := store.OpenSQLite(path, store.Retention{})
		if err != nil {
			t.Fatalf("OpenSQLite = %v", err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n, v int
	if err := db.QueryRow("SELECT count(*), max(version) FROM schema_migrations").Scan(&n, &v); err != nil {
		t.Fatal(err)
	}
	if n != v {
		t.Errorf("schema_migrations has %d rows for version %d after reopening", n, v)
	}
	if _, err := db.Exec("INSERT INTO schema_migrations VALUES (999, 0)"); err != nil {
		t.Fatal(err)
	}
	if s, err := store.OpenSQLite(path, store.Retention{}); err == nil || !strings.Contains(err.Error(), "newer") {
		if s != nil {
			s.Close()
		}
		t.Errorf("OpenSQLite on a newer schema = %v, want an error saying it is newer", err)
	}
}

// TestPostgresConcurrentMigrations opens one database from several
// goroutines at once, as engines of a fleet starting together would.
func TestPostgresConcurrentMigrations(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			s, err := store.OpenPostgres(ctx, dsn, store.Retention{})
			if err == nil {
				err = s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("OpenPostgres #%d = %v", i, err)
		}
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n, v int
	if err := conn.QueryRow(ctx, "SELECT count(*), max(version) FROM perfengine.schema_migrations").Scan(&n, &v); err != nil {
		t.Fatal(err)
	}
	if n != v {
		t.Errorf("schema_migrations has %d rows for version %d", n, v)
	}
}
