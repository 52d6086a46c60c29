// Package store persists what the engine sees and does: metric samples
// (raw, then downsampled), actions with how to undo them, release baselines
// and alerts. SQLite is the embedded default; PostgreSQL is shared by a
// fleet. Every backend passes the same conformance suite, store/storetest.
//
// # Samples and retention
//
// Samples are kept raw for Retention.Raw (default 24 h). Compact, which the
// owner calls periodically with the current time, folds older raw samples
// into one row per series and minute (count, sum, min, max) and deletes
// aggregates older than Retention.Aggregate (default 30 days), so the store
// stays bounded: a series sampled every second holds at most 86,400 raw
// rows and 43,200 aggregates. A minute is folded only once it is entirely
// past the raw retention, so it is never split between raw rows and its
// aggregate; a late sample for an already folded minute is merged into the
// aggregate by the next Compact. QuerySamples returns raw samples where
// they exist and aggregates (their mean, stamped with the start of their
// minute) beyond.
//
// A series is a name and a label set; labels are stored as canonical JSON
// (sorted keys), so a query for exact labels is one string comparison.
//
// # Durability
//
// A write that returned nil survives the process being killed: SQLite runs
// in WAL mode with synchronous=NORMAL (see OpenSQLite for why not FULL),
// and the package's tests kill a writing child process with SIGKILL and
// find every acknowledged write. PostgreSQL's durability is the server's.
//
// # Example
//
//	s, err := store.Open(ctx, "sqlite:.perfengine", store.Retention{})
//	if err != nil {
//		return err
//	}
//	defer s.Close()
//	err = s.WriteSamples(ctx, []metrics.Sample{
//		{Name: metrics.ResponseTimeMs, Value: 212, Unit: metrics.UnitMilliseconds, Time: time.Now()},
//	})
//	recent, err := s.QuerySamples(ctx, store.SampleQuery{
//		Name: metrics.ResponseTimeMs, From: time.Now().Add(-time.Hour),
//	})
package store
