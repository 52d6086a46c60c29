// Package dbopt is perfengine's database optimizer for PostgreSQL and
// SQLite: health checks, slow queries, a workload-wide index advisor,
// safe index creation with undo, maintenance, and pool sizing.
//
// # Health
//
// Health runs PgHero's checks with PgHero's thresholds as defaults (long
// running and slow queries, cache hit rates, connections, transaction ID
// wraparound, sequences near overflow, invalid, duplicate and unused
// indexes, tables that need indexes, bloat, vacuum and analyze, blocked
// queries, replication lag). On SQLite it checks statistics, free pages,
// the WAL and full scans of the statements the application ran.
//
// # Index advice
//
// The advisor takes a workload: pg_stat_statements (normalized $n queries
// are explained through PREPARE with plan_cache_mode = force_generic_plan,
// since PostgreSQL 15 has no EXPLAIN (GENERIC_PLAN)), a query file, or the
// application's own timings from package querytrace. Each statement is
// parsed with the real PostgreSQL parser (pg_query); candidate btree
// indexes come from its WHERE, JOIN, ORDER BY and GROUP BY columns:
// equality columns first (most selective first), then one range or the
// sort columns, and partial indexes for constant predicates on columns
// with few values. A range column whose values follow the table's physical
// order (|pg_stats.correlation| ≥ 0.9, as appended timestamps do) on a
// table of 100k rows or more also gets a BRIN candidate: a summary per
// range of pages, kilobytes where the B-tree takes megabytes, which saves
// less per query and so is chosen when the size budget has no room for
// the B-tree. With AdviseOptions.Covering, a plain SELECT whose every
// column is known (no star, no subquery) also gets covering candidates on
// PostgreSQL 11 and later: the
// same keys with the other columns it reads in INCLUDE, which pay when the
// planner then answers it with an index-only scan (a table mostly
// all-visible after VACUUM). A B-tree's size is estimated from the layout PostgreSQL
// builds (the key's average width from pg_stats, posting lists for runs of
// equal keys where deduplication applies, which excludes numeric and
// char(n) keys, leaves at the default fillfactor), not taken from hypopg,
// which counts a tuple per row and so overstates an index on a column
// with few values several times over.
// Candidates are costed with hypopg what-if indexes on a
// read-only session and chosen greedily across the whole workload: each
// round takes the index with the largest saving, weighted by calls × time,
// less a charge for its bytes (an index the size of the tables read is
// charged 1 % of the workload's cost), given the indexes already chosen,
// if it clears a bar that rises with the table's share of writes and fits
// in the size budget; picks made redundant by later ones are dropped
// again, the wider index taking the narrower one's rank. Every suggestion names the
// queries it speeds up and by how much. On SQLite the same candidates are
// created for real inside a transaction that is rolled back, and kept only
// when EXPLAIN QUERY PLAN then uses them, the idea of SQLite's .expert.
//
// The same pass gives query advice, Advice.QueryIssues, for what no index
// fixes: pages read by OFFSET into a big table (a literal of 1000 rows or
// more, or a parameter), SELECTs of a big table with neither WHERE nor
// LIMIT, SELECT * on wide rows (500 bytes or 30 columns), and, from a
// querytrace handle's counts, statements prepared for nearly every run
// (100 preparations or more, under two runs each), each with its evidence
// and fix. N+1 patterns come from request traces instead
// (querytrace.Requests).
//
// AddIndex builds a suggestion with CREATE INDEX CONCURRENTLY under lock
// and statement timeouts, drops an invalid leftover, marks the index as
// perfengine's, and shows with EXPLAIN that the planner uses it. DropIndex
// undoes it and refuses any index perfengine did not create.
//
// # Example
//
//	o, err := dbopt.New("postgres://app@127.0.0.1:5432/shop")
//	if err != nil {
//		return err
//	}
//	defer o.Close()
//	if err := o.Initialize(ctx); err != nil {
//		return err // unreachable server, wrong password: the DSN without its password
//	}
//	report, _ := o.Health(ctx)
//	fmt.Println(report.Status)
//	advice, err := o.IndexSuggestions(ctx) // the workload of pg_stat_statements
//	if err != nil {
//		return err // ErrNoStatStatements names the fix
//	}
//	for _, s := range advice.Suggestions {
//		fmt.Printf("%s saves %.0f%% for %d queries\n", s.Statement, s.SavingsPct, len(s.Queries))
//		if _, err := o.AddIndex(ctx, s); err != nil {
//			return err
//		}
//	}
package dbopt
