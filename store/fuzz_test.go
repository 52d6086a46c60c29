package store

import (
	"strings"
	"testing"
)

// FuzzParseDSN feeds store DSNs, which come from config files and the
// environment: parsing never panics, and what it accepts is well formed.
func FuzzParseDSN(f *testing.F) {
	for _, s := range []string{
		"sqlite:.perfengine", "sqlite:/var/lib/perfengine/store.db", "sqlite:///abs", "sqlite:",
		"postgres://u:p@127.0.0.1:5432/db?sslmode=disable", "postgresql://h/db", "", "mysql://x", "sqlite",
		"SQLITE:x", "postgres:/x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, dsn string) {
		kind, target, err := parseDSN(dsn)
		if err != nil {
			if kind != "" || target != "" {
				t.Errorf("parseDSN(%q) = %q, %q with error %v", dsn, kind, target, err)
			}
			return
		}
		switch kind {
		case "sqlite":
			if target == "" || !strings.HasSuffix(dsn, target) {
				t.Errorf("parseDSN(%q) = sqlite %q", dsn, target)
			}
		case "postgres":
			if target != dsn {
				t.Errorf("parseDSN(%q) = postgres %q, want the DSN unchanged", dsn, target)
			}
		default:
			t.Errorf("parseDSN(%q) = kind %q", dsn, kind)
		}
	})
}
