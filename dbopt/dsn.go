package dbopt

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// Kinds of database the optimizer understands.
const (
	KindPostgres = "postgres"
	KindSQLite   = "sqlite"
)

// maxDSNLen bounds what ParseDSN accepts; a longer string is a mistake.
const maxDSNLen = 4096

// ErrBadDSN is wrapped by every error ParseDSN returns.
var ErrBadDSN = errors.New("dbopt: bad DSN")

// DSN is a parsed data source name: postgres://… (or postgresql://, or a
// libpq key=value string) and sqlite:PATH.
type DSN struct {
	Kind string // KindPostgres or KindSQLite
	// Conn is what the driver opens: the PostgreSQL connection string as
	// given, or the SQLite path (which may carry ?_pragma=… options).
	Conn string
}

// String returns the DSN with any password replaced by "xxxxx".
func (d DSN) String() string {
	if d.Kind == KindSQLite {
		return "sqlite:" + d.Conn
	}
	return RedactDSN(d.Conn)
}

// ParseDSN checks a DSN without connecting. Errors never echo a password.
func ParseDSN(s string) (DSN, error) {
	if len(s) > maxDSNLen {
		return DSN{}, fmt.Errorf("%w: longer than %d bytes", ErrBadDSN, maxDSNLen)
	}
	if strings.IndexByte(s, 0) >= 0 {
		return DSN{}, fmt.Errorf("%w: contains a NUL byte", ErrBadDSN)
	}
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return DSN{}, fmt.Errorf("%w: empty; want postgres://… or sqlite:PATH", ErrBadDSN)
	case strings.HasPrefix(s, "sqlite:"):
		p := strings.TrimPrefix(s, "sqlite:")
		p = strings.TrimPrefix(p, "//")
		if p == "" {
			return DSN{}, fmt.Errorf("%w: sqlite: needs a path, as in sqlite:app.db", ErrBadDSN)
		}
		return DSN{Kind: KindSQLite, Conn: p}, nil
	case strings.HasPrefix(s, "postgres://"), strings.HasPrefix(s, "postgresql://"):
		if _, err := url.Parse(s); err != nil {
			return DSN{}, fmt.Errorf("%w: %s", ErrBadDSN, redactErr(err, s))
		}
		if _, err := pgconn.ParseConfig(s); err != nil {
			return DSN{}, fmt.Errorf("%w: %s", ErrBadDSN, redactErr(err, s))
		}
		return DSN{Kind: KindPostgres, Conn: s}, nil
	case strings.Contains(s, "="):
		if _, err := pgconn.ParseConfig(s); err != nil {
			return DSN{}, fmt.Errorf("%w: %s", ErrBadDSN, redactErr(err, s))
		}
		return DSN{Kind: KindPostgres, Conn: s}, nil
	}
	scheme, _, _ := strings.Cut(s, ":")
	if len(scheme) > 20 {
		scheme = scheme[:20] + "…"
	}
	return DSN{}, fmt.Errorf("%w: unknown scheme %q; want postgres://… or sqlite:PATH", ErrBadDSN, scheme)
}

// RedactDSN hides the password of a PostgreSQL URL or key=value string.
func RedactDSN(s string) string {
	if u, err := url.Parse(s); err == nil && u.Scheme != "" && u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
			return u.String()
		}
		return s
	}
	if i := strings.Index(s, "password="); i >= 0 {
		j := strings.IndexByte(s[i:], ' ')
		if j < 0 {
			return s[:i] + "password=xxxxx"
		}
		return s[:i] + "password=xxxxx" + s[i+j:]
	}
	return s
}

// redactErr renders err without the password, which pgconn and net/url
// may quote.
func redactErr(err error, dsn string) string {
	msg := err.Error()
	if u, perr := url.Parse(dsn); perr == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			msg = strings.ReplaceAll(msg, pw, "xxxxx")
		}
	}
	if strings.Contains(msg, dsn) {
		msg = strings.ReplaceAll(msg, dsn, RedactDSN(dsn))
	}
	if i := strings.Index(dsn, "password="); i >= 0 {
		pw := dsn[i+len("password="):]
		if j := strings.IndexByte(pw, ' '); j >= 0 {
			pw = pw[:j]
		}
		if pw != "" {
			msg = strings.ReplaceAll(msg, pw, "xxxxx")
		}
	}
	return msg
}
