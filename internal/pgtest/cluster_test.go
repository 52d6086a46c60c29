//go:build unix

package pgtest

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestDBName(t *testing.T) {
	tests := []struct {
		name, test, prefix string
	}{
		{"plain", "TestFoo", "pgtest_testfoo_"},
		{"subtest", "TestFoo/bar baz", "pgtest_testfoo_bar_baz_"},
		{"quotes", `TestX/"; DROP`, "pgtest_testx____drop_"},
		{"unicode", "TestÄ", "pgtest_test__"},
		{"long", "Test" + strings.Repeat("x", 100), "pgtest_test" + strings.Repeat("x", 29) + "_"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := dbName(tc.test)
			if !strings.HasPrefix(got, tc.prefix) {
				t.Errorf("dbName(%q) = %q, want prefix %q", tc.test, got, tc.prefix)
			}
			if len(got) > 63 {
				t.Errorf("dbName(%q) = %q, longer than PostgreSQL's 63-byte identifiers", tc.test, got)
			}
			if again := dbName(tc.test); again == got {
				t.Errorf("dbName(%q) twice = %q, want distinct names", tc.test, got)
			}
		})
	}
}

func TestLineRing(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		want  string
	}{
		{"empty", nil, ""},
		{"partial", []string{"a", "b"}, "a | b"},
		{"exact", []string{"a", "b", "c"}, "a | b | c"},
		{"wrapped", []string{"a", "b", "c", "d", "e"}, "c | d | e"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newLineRing(3)
			for _, l := range tc.lines {
				r.add(l)
			}
			if got := r.String(); got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestWithDatabase(t *testing.T) {
	tests := []struct{ dsn, want string }{
		{"postgres://u:p@h:5/old?sslmode=disable", "postgres://u:p@h:5/new?sslmode=disable"},
		{"postgresql://h/", "postgresql://h/new"},
		{"host=h user=u dbname=old", "host=h user=u dbname=old dbname=new"},
	}
	for _, tc := range tests {
		got, err := withDatabase(tc.dsn, "new")
		if err != nil || got != tc.want {
			t.Errorf("withDatabase(%q) = %q, %v, want %q", tc.dsn, got, err, tc.want)
		}
	}
}

func TestCleanStale(t *testing.T) {
	root := t.TempDir()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		owner string // "" means no owner file
		old   bool
		kept  bool
	}{
		{"live owner", strconv.Itoa(os.Getpid()), false, true},
		{"dead owner", strconv.Itoa(dead.Process.Pid), false, false},
		{"garbage owner", "not a pid", false, false},
		{"being created", "", false, true},
		{"abandoned before owner", "", true, false},
	}
	for i, tc := range tests {
		dir := filepath.Join(root, dirPrefix+strconv.Itoa(i))
		if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
			t.Fatal(err)
		}
		if tc.owner != "" {
			if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(tc.owner), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if tc.old {
			old := time.Now().Add(-time.Hour)
			if err := os.Chtimes(dir, old, old); err != nil {
				t.Fatal(err)
			}
		}
	}
	unrelated := filepath.Join(root, "something-else")
	if err := os.Mkdir(unrelated, 0o755); err != nil {
		t.Fatal(err)
	}
	cleanStale(root)
	for i, tc := range tests {
		_, err := os.Stat(filepath.Join(root, dirPrefix+strconv.Itoa(i)))
		if kept := err == nil; kept != tc.kept {
			t.Errorf("%s: kept = %v, want %v", tc.name, kept, tc.kept)
		}
	}
	if _, err := os.Stat(unrelated); err != nil {
		t.Errorf("cleanStale removed an unrelated directory: %v", err)
	}
}

func TestStartClusterNoBinaries(t *testing.T) {
	o := defaultOptions()
	o.root = t.TempDir()
	o.lookupBindir = func() (string, error) { return "", errUnavailable }
	if _, err := startCluster(o); !errors.Is(err, errUnavailable) {
		t.Fatalf("startCluster without binaries = %v, want errUnavailable", err)
	}
}

// TestStartClusterPortTaken holds the first port offered, so the first
// postgres cannot bind and startCluster must move on to another port.
func TestStartClusterPortTaken(t *testing.T) {
	bindir, err := findBindir()
	if err != nil {
		unavailable(t, err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	busy := l.Addr().(*net.TCPAddr).Port

	tests := []struct {
		name     string
		attempts int
		wantErr  error
	}{
		{"retries on another port", 3, nil},
		{"gives up", 1, errPortInUse},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			offered := 0
			o := defaultOptions()
			o.root = reachableTempDir(t)
			o.lookupBindir = func() (string, error) { return bindir, nil }
			o.attempts = tc.attempts
			o.pickPort = func() (int, error) {
				offered++
				if offered == 1 {
					return busy, nil
				}
				return freePort()
			}
			c, err := startCluster(o)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("startCluster = %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				if entries, _ := os.ReadDir(o.root); len(entries) != 0 {
					t.Errorf("failed start left %d entries in %s", len(entries), o.root)
				}
				return
			}
			if c.port == busy {
				t.Errorf("cluster port = busy port %d", busy)
			}
			ctx := context.Background()
			conn, err := pgx.Connect(ctx, c.dsn("postgres"))
			if err != nil {
				t.Fatal(err)
			}
			conn.Close(ctx)
			if err := c.stop(); err != nil {
				t.Fatalf("stop: %v", err)
			}
			if _, err := os.Stat(c.dir); !os.IsNotExist(err) {
				t.Errorf("stop left %s behind: %v", c.dir, err)
			}
		})
	}
}

// TestExternalServer points EnvDSN at the private cluster, which exercises
// the code path for a shared server: per-database extensions, dropping.
func TestExternalServer(t *testing.T) {
	NewDatabase(t) // make sure the private cluster runs
	mu.Lock()
	admin := current.dsn("postgres")
	mu.Unlock()
	t.Setenv(EnvDSN, admin)

	var name string
	t.Run("create", func(t *testing.T) {
		dsn := NewDatabase(t)
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&name); err != nil {
			t.Fatal(err)
		}
		var exts int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_extension WHERE extname IN ('pg_stat_statements', 'hypopg')").Scan(&exts); err != nil {
			t.Fatal(err)
		}
		if exts != 2 {
			t.Errorf("extensions in new database = %d, want 2", exts)
		}
	})
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if name == "" || n != 0 {
		t.Errorf("database %q still exists after its test (%d rows)", name, n)
	}
}

// reachableTempDir is a temporary directory the postgres user can enter:
// t.TempDir nests it in a directory only the test's own user may open.
func reachableTempDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "pgtest-root-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
