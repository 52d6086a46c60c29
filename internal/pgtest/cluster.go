//go:build unix

package pgtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// dirPrefix names the cluster directories under os.TempDir, so that ones
// left behind by a killed test binary can be found and removed.
const dirPrefix = "perfengine-pgtest-"

// ownerFile holds the PID of the test binary that owns a cluster directory.
const ownerFile = "owner.pid"

// readyLine is what postgres logs once it accepts connections. Messages are
// forced to English (lc_messages=C) so this can be matched.
const readyLine = "database system is ready to accept connections"

type options struct {
	root         string              // where cluster directories go
	pickPort     func() (int, error) // a port to try
	attempts     int                 // ports to try before giving up
	startTimeout time.Duration       // for postgres to become ready
	lookupBindir func() (string, error)
}

func defaultOptions() options {
	return options{
		root:         os.TempDir(),
		pickPort:     freePort,
		attempts:     5,
		startTimeout: 2 * time.Minute,
		lookupBindir: findBindir,
	}
}

type cluster struct {
	dir    string
	port   int
	cmd    *exec.Cmd
	exited chan struct{} // closed when postgres has exited
	tail   *lineRing
}

func (c *cluster) dsn(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, db)
}

// startCluster runs initdb and postgres. Errors wrapping errUnavailable mean
// this machine cannot run PostgreSQL at all.
func startCluster(o options) (*cluster, error) {
	bindir, err := o.lookupBindir()
	if err != nil {
		return nil, err
	}
	cred, err := credential()
	if err != nil {
		return nil, err
	}
	cleanStale(o.root)

	dir, err := os.MkdirTemp(o.root, dirPrefix)
	if err != nil {
		return nil, fmt.Errorf("create cluster directory: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			_ = os.RemoveAll(dir)
		}
	}()
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return nil, fmt.Errorf("write owner: %w", err)
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, fmt.Errorf("hand cluster directory to the postgres user: %w", err)
		}
	}
	data := filepath.Join(dir, "data")

	initdb := command(filepath.Join(bindir, "initdb"), dir, cred,
		"-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %w: %s", err, lastLines(string(out), 10))
	}

	var c *cluster
	for attempt := 0; ; attempt++ {
		port, err := o.pickPort()
		if err != nil {
			return nil, fmt.Errorf("pick a port: %w", err)
		}
		c, err = startPostgres(bindir, dir, data, port, cred, o.startTimeout)
		if err == nil {
			break
		}
		// Another process can take the port between freePort closing
		// it and postgres binding it; a new port fixes that.
		if errors.Is(err, errPortInUse) && attempt+1 < o.attempts {
			continue
		}
		return nil, err
	}
	if err := prepareTemplate(c); err != nil {
		_ = c.stop()
		return nil, err
	}
	ok = true
	return c, nil
}

var errPortInUse = errors.New("port in use")

func startPostgres(bindir, dir, data string, port int, cred *syscall.Credential, timeout time.Duration) (*cluster, error) {
	cmd := command(filepath.Join(bindir, "postgres"), dir, cred,
		"-D", data,
		"-c", "listen_addresses=127.0.0.1",
		"-c", "port="+strconv.Itoa(port),
		// No Unix socket: its default directory belongs to the system
		// server and may not be writable by us.
		"-c", "unix_socket_directories=",
		"-c", "shared_preload_libraries=pg_stat_statements",
		"-c", "pg_stat_statements.track=all",
		// Test data is disposable: skip the durability work.
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
		// Several test binaries run clusters at once; keep each small.
		"-c", "shared_buffers=32MB",
		"-c", "max_connections=200",
		"-c", "lc_messages=C",
		"-c", "log_min_messages=warning",
		"-c", "log_statement=none",
	)
	// If the test binary dies without tearing down (a timeout panic,
	// SIGKILL), postgres goes with it: SIGQUIT is its immediate shutdown.
	setParentDeathSignal(cmd.SysProcAttr, syscall.SIGQUIT)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	c := &cluster{dir: dir, port: port, cmd: cmd, exited: make(chan struct{}), tail: newLineRing(20)}
	ready := make(chan struct{})
	go func() {
		// Draining stderr for the life of the server also keeps postgres
		// from blocking on a full pipe.
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		seenReady := false
		for sc.Scan() {
			line := sc.Text()
			c.tail.add(line)
			if !seenReady && strings.Contains(line, readyLine) {
				seenReady = true
				close(ready)
			}
		}
		_ = cmd.Wait()
		close(c.exited)
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-ready:
		return c, nil
	case <-c.exited:
		log := c.tail.String()
		if strings.Contains(log, "Address already in use") {
			return nil, fmt.Errorf("postgres on port %d: %w", port, errPortInUse)
		}
		return nil, fmt.Errorf("postgres exited during startup: %s", log)
	case <-timer.C:
		_ = cmd.Process.Kill()
		<-c.exited
		return nil, fmt.Errorf("postgres not ready after %s: %s", timeout, c.tail.String())
	}
}

// prepareTemplate installs the extensions into template1, so that every
// database created from it has them without per-test work.
func prepareTemplate(c *cluster) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.dsn("template1"))
	if err != nil {
		return fmt.Errorf("connect to template1: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"); err != nil {
		return fmt.Errorf("create extension pg_stat_statements: %w", err)
	}
	var hypopg bool
	if err := conn.QueryRow(ctx, "SELECT count(*) > 0 FROM pg_available_extensions WHERE name = 'hypopg'").Scan(&hypopg); err != nil {
		return fmt.Errorf("look for hypopg: %w", err)
	}
	// Without hypopg the cluster still serves every test that does not
	// use what-if indexes; those check for the extension themselves.
	if hypopg {
		if _, err := conn.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS hypopg"); err != nil {
			return fmt.Errorf("create extension hypopg: %w", err)
		}
	}
	return nil
}

// stop shuts postgres down fast (aborting open transactions, which tests
// no longer need) and removes the directory.
func (c *cluster) stop() error {
	var errs []error
	if err := c.cmd.Process.Signal(syscall.SIGINT); err != nil && !errors.Is(err, os.ErrProcessDone) {
		errs = append(errs, fmt.Errorf("signal postgres: %w", err))
	}
	timer := time.NewTimer(time.Minute)
	defer timer.Stop()
	select {
	case <-c.exited:
	case <-timer.C:
		_ = c.cmd.Process.Kill()
		<-c.exited
		errs = append(errs, fmt.Errorf("postgres did not shut down within a minute; killed"))
	}
	if err := os.RemoveAll(c.dir); err != nil {
		errs = append(errs, fmt.Errorf("remove cluster directory: %w", err))
	}
	return errors.Join(errs...)
}

func command(path, dir string, cred *syscall.Credential, args ...string) *exec.Cmd {
	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	// A fixed environment: English messages to match on, UTC so times in
	// tests do not depend on the machine, and nothing like PGDATA or
	// PGPORT leaking in from the developer's shell.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C", "LANG=C", "TZ=UTC"}
	// Own process group: a ^C in the terminal reaches the test binary,
	// which tears the cluster down in order, not postgres directly.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: cred}
	return cmd
}

// credential returns the identity to run PostgreSQL as: nil (ourselves)
// unless we are root, which PostgreSQL refuses to run as.
func credential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("%w: running as root and there is no postgres user to run the server as: %v", errUnavailable, err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("%w: postgres user has non-numeric ids %s:%s", errUnavailable, u.Uid, u.Gid)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}

// findBindir locates initdb and postgres: pg_config first, then the
// newest Debian-style /usr/lib/postgresql/N/bin.
func findBindir() (string, error) {
	var candidates []string
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		candidates = append(candidates, strings.TrimSpace(string(out)))
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	candidates = append(candidates, dirs...)
	for _, d := range candidates {
		if isExecutable(filepath.Join(d, "initdb")) && isExecutable(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", fmt.Errorf("%w: no initdb and postgres binaries (looked in pg_config --bindir and /usr/lib/postgresql/*/bin)", errUnavailable)
}

func versionOf(bindir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(bindir)))
	return n
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// cleanStale removes cluster directories whose owning test binary is gone.
// Their postgres died with the owner (Pdeathsig); only the files remain.
func cleanStale(root string) {
	dirs, _ := filepath.Glob(filepath.Join(root, dirPrefix+"*"))
	for _, dir := range dirs {
		if stale(dir) {
			_ = os.RemoveAll(dir)
		}
	}
}

func stale(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, ownerFile))
	if err != nil {
		// No owner yet may mean another binary is creating it right
		// now; only an old directory without one is abandoned.
		fi, statErr := os.Stat(dir)
		return statErr == nil && time.Since(fi.ModTime()) > 10*time.Minute
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return true
	}
	if alive(pid) {
		return false
	}
	// The owner is gone; a postmaster that somehow outlived it still uses
	// the directory, so leave it alone.
	if pm, err := os.ReadFile(filepath.Join(dir, "data", "postmaster.pid")); err == nil {
		first, _, _ := strings.Cut(string(pm), "\n")
		if p, err := strconv.Atoi(strings.TrimSpace(first)); err == nil && alive(p) {
			return false
		}
	}
	return true
}

func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
