// Package querytrace times an application's own SQL statements, in
// process, so slow queries are found even where pg_stat_statements is not
// installed, and on SQLite, which has nothing like it.
//
// A Recorder keeps a compact log-bucket latency histogram per statement
// text (16 buckets per power of two, ±3.2 %, a few hundred bytes; the
// number of statements is bounded, so inlined literals cannot grow it
// without limit). Two adapters feed it:
// Tracer, a pgx.QueryTracer, and Connector, a database/sql driver wrapper.
// dbopt reads the Recorder for slow queries and as the index advisor's
// workload.
//
//	rec := querytrace.NewRecorder(0)
//	db := sql.OpenDB(querytrace.NewConnector(&sqlite.Driver{}, "app.db", rec))
//	// ... the application runs its queries through db ...
//	for _, s := range rec.Snapshot() {
//		fmt.Printf("%6d calls  p95 %.1f ms  %s\n", s.Calls, s.P95Ms, s.Query)
//	}
//
// For pgx, set cfg.ConnConfig.Tracer = querytrace.NewTracer(rec) on the
// pool's config.
package querytrace
