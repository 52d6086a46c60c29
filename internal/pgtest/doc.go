// Package pgtest gives tests a fresh PostgreSQL database on a private,
// throwaway cluster started from the machine's own PostgreSQL binaries.
//
// The first call to NewDatabase in a test binary runs initdb into a temporary
// directory and starts postgres on a free loopback port with
// pg_stat_statements preloaded (track = all) and fsync off; the extensions
// pg_stat_statements and hypopg (when installed) are created in template1,
// so every database made from it has them. Each NewDatabase call then costs
// one CREATE DATABASE, and the database is dropped when the test ends. The
// cluster is shared by every test of the binary and removed when the binary's
// TestMain returns through Main or Wrap, so packages that use pgtest must
// call one of them from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
// or, with goleak, which then checks for leaks after the cluster is gone:
//
//	func TestMain(m *testing.M) { goleak.VerifyTestMain(pgtest.Wrap(m)) }
//
// and in a test:
//
//	dsn := pgtest.NewDatabase(t)
//	pool, err := pgxpool.New(ctx, dsn)
//
// PostgreSQL refuses to run as root; when the test runs as root, initdb and
// postgres run as the "postgres" OS user and the directory is handed to it.
// With PERFENGINE_TEST_PG_DSN set, no cluster is started: databases are
// created on (and dropped from) that server instead. When neither binaries
// nor that variable are available the test is skipped with the reason,
// unless the environment variable CI is set, where it fails: CI must not go
// green by skipping.
package pgtest
