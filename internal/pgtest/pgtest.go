package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode"

	"github.com/jackc/pgx/v5"
)

// EnvDSN names the environment variable that points pgtest at an existing
// server (a DSN of a superuser, or a role allowed to create databases)
// instead of starting a private cluster.
const EnvDSN = "PERFENGINE_TEST_PG_DSN"

// errUnavailable marks reasons to skip: the machine cannot run PostgreSQL
// (no binaries, no unprivileged user), as opposed to a cluster that broke.
var errUnavailable = errors.New("postgresql unavailable")

// server is where databases are created: the private cluster or the server
// of EnvDSN.
type server struct {
	admin    string // DSN of the maintenance database
	template string // template for CREATE DATABASE; "" means the default
	external bool
}

var (
	mu      sync.Mutex
	current *cluster // the private cluster, once started
	srvErr  error    // why the cluster could not start; sticky for the run
	dbSeq   atomic.Int64
)

// NewDatabase creates an empty database for the calling test and returns
// its DSN. The database has the pg_stat_statements extension (and hypopg,
// when installed) and is dropped, with its connections, when the test and
// its subtests finish. It skips the test when no PostgreSQL can be run
// here, or fails it when the environment variable CI is set.
func NewDatabase(t testing.TB) string {
	t.Helper()
	srv, err := getServer()
	if err != nil {
		if errors.Is(err, errUnavailable) {
			unavailable(t, err)
		}
		t.Fatalf("pgtest: %v", err)
	}
	name := dbName(t.Name())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := createDatabase(ctx, srv, name); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := dropDatabase(ctx, srv.admin, name); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	dsn, err := withDatabase(srv.admin, name)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	if srv.external {
		// A shared server's template1 is not ours to change, so the
		// extensions go into each database; a server without them is
		// still useful to tests that do not need them.
		for _, ext := range []string{"pg_stat_statements", "hypopg"} {
			if err := execSQL(ctx, dsn, "CREATE EXTENSION IF NOT EXISTS "+ext); err != nil {
				t.Logf("pgtest: extension %s not available on %s: %v", ext, EnvDSN, err)
			}
		}
	}
	return dsn
}

func unavailable(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("pgtest: %v (CI is set, so this fails instead of skipping)", err)
	}
	t.Skipf("pgtest: %v (install PostgreSQL 15 with postgresql-15-hypopg, or set %s)", err, EnvDSN)
}

// getServer starts the private cluster on first use.
func getServer() (server, error) {
	if dsn := os.Getenv(EnvDSN); dsn != "" {
		return server{admin: dsn, external: true}, nil
	}
	mu.Lock()
	defer mu.Unlock()
	if current == nil && srvErr == nil {
		current, srvErr = startCluster(defaultOptions())
	}
	if srvErr != nil {
		return server{}, srvErr
	}
	return server{admin: current.dsn("postgres"), template: "template1"}, nil
}

// Runner is what TestMain runs: *testing.M, or anything wrapping it, such
// as goleak's VerifyTestMain expects.
type Runner interface{ Run() int }

// Wrap returns a Runner that runs m and then stops the cluster, so that
// goleak.VerifyTestMain(pgtest.Wrap(m)) checks for leaks after teardown.
func Wrap(m Runner) Runner { return wrapped{m} }

// Main runs the tests and then stops the cluster, returning the exit code
// for os.Exit. A failed teardown turns success into failure.
func Main(m *testing.M) int { return Wrap(m).Run() }

type wrapped struct{ m Runner }

func (w wrapped) Run() int {
	code := w.m.Run()
	if err := teardown(); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

func teardown() error {
	mu.Lock()
	defer mu.Unlock()
	c := current
	current, srvErr = nil, nil
	if c == nil {
		return nil
	}
	return c.stop()
}

// dbName turns a test name into a database name that shows up readably in
// pg_stat_activity and cannot collide, even on a shared server.
func dbName(test string) string {
	var b strings.Builder
	b.WriteString("pgtest_")
	for _, r := range strings.ToLower(test) {
		if b.Len() >= 40 {
			break
		}
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	fmt.Fprintf(&b, "_%d_%s", dbSeq.Add(1), hex.EncodeToString(rnd[:]))
	return b.String()
}

func createDatabase(ctx context.Context, srv server, name string) error {
	q := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize()
	if srv.template != "" {
		q += " TEMPLATE " + pgx.Identifier{srv.template}.Sanitize()
	}
	if err := execSQL(ctx, srv.admin, q); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

func dropDatabase(ctx context.Context, admin, name string) error {
	// FORCE ends the connections a test leaves open (a pool it did not
	// close), which would otherwise make the drop fail.
	q := "DROP DATABASE IF EXISTS " + pgx.Identifier{name}.Sanitize() + " WITH (FORCE)"
	if err := execSQL(ctx, admin, q); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

func execSQL(ctx context.Context, dsn, sql string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql)
	return err
}

// withDatabase returns dsn pointing at database name instead.
func withDatabase(dsn, name string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("parse %s: %w", EnvDSN, err)
		}
		u.Path = "/" + name
		return u.String(), nil
	}
	// keyword=value form: a later dbname overrides an earlier one.
	return dsn + " dbname=" + name, nil
}
