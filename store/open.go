package store

import (
	"context"
	"fmt"
	"strings"
)

// Open opens the store a DSN names: "sqlite:PATH" (a file, or a directory
// for DefaultSQLiteFile in it) or a "postgres://" / "postgresql://" URL.
func Open(ctx context.Context, dsn string, r Retention) (Store, error) {
	kind, target, err := parseDSN(dsn)
	if err != nil {
		return nil, err
	}
	switch kind {
	case "sqlite":
		return OpenSQLite(target, r)
	default:
		return OpenPostgres(ctx, target, r)
	}
}

// parseDSN splits a store DSN into its backend and what that backend opens.
func parseDSN(dsn string) (kind, target string, err error) {
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		path := strings.TrimPrefix(dsn, "sqlite:")
		// sqlite:///abs/path and sqlite://rel read as URLs to some; take
		// the path they mean.
		if rest, ok := strings.CutPrefix(path, "//"); ok {
			path = rest
		}
		if path == "" {
			return "", "", fmt.Errorf("%w: store DSN %q names no SQLite path", ErrInvalid, dsn)
		}
		return "sqlite", path, nil
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return "postgres", dsn, nil
	case dsn == "":
		return "", "", fmt.Errorf("%w: empty store DSN", ErrInvalid)
	default:
		scheme, _, _ := strings.Cut(dsn, ":")
		if len(scheme) > 20 {
			scheme = scheme[:20] + "…"
		}
		return "", "", fmt.Errorf("%w: store DSN scheme %q: want sqlite:PATH, postgres:// or postgresql://", ErrInvalid, scheme)
	}
}
