package netopt

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

var errBadRetryAfter = errors.New("netopt: Retry-After is neither seconds nor an HTTP date")

// ParseRetryAfter reads a Retry-After value (RFC 9110 §10.2.3): a number of
// seconds or an HTTP date, relative to now. A date in the past means zero.
// Anything else is an error, never a panic.
func ParseRetryAfter(v string, now time.Time) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, errBadRetryAfter
	}
	if v[0] >= '0' && v[0] <= '9' {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return 0, errBadRetryAfter
		}
		return time.Duration(n) * time.Second, nil
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, errBadRetryAfter
	}
	return max(t.Sub(now), 0), nil
}
