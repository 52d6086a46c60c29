package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/perfengine/perfengine/metrics"
)

// ErrInvalid marks a write the store refuses: a sample without a name or
// time, a non-finite value, an action or alert without an ID.
var ErrInvalid = errors.New("store: invalid")

// minute is the width of an aggregate bucket, in nanoseconds.
const minute = int64(time.Minute)

// nanos is how every backend stores instants: Unix nanoseconds in a 64-bit
// integer, so SQLite and PostgreSQL agree to the nanosecond and range
// queries are integer comparisons.
func nanos(t time.Time) int64 { return t.UnixNano() }

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

// labelsJSON is the canonical form of a label set: encoding/json sorts map
// keys, and the empty set is "{}", so equal sets give equal strings and an
// exact-labels query is one string comparison.
func labelsJSON(labels map[string]string) (string, error) {
	if len(labels) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(labels)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

func parseLabels(s string) (map[string]string, error) {
	if s == "" || s == "{}" {
		return nil, nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, fmt.Errorf("decode labels %q: %w", s, err)
	}
	return m, nil
}

func mapJSON(m map[string]string) (string, error) {
	if len(m) == 0 {
		return "", nil
	}
	b, err := json.Marshal(m)
	return string(b), err
}

func parseMap(s string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, fmt.Errorf("decode %q: %w", s, err)
	}
	return m, nil
}

func checkSample(i int, s metrics.Sample) error {
	switch {
	case s.Name == "":
		return fmt.Errorf("%w: sample %d has no name", ErrInvalid, i)
	case s.Time.IsZero():
		return fmt.Errorf("%w: sample %d (%s) has no time", ErrInvalid, i, s.Name)
	case math.IsNaN(s.Value) || math.IsInf(s.Value, 0):
		return fmt.Errorf("%w: sample %d (%s) has non-finite value %v", ErrInvalid, i, s.Name, s.Value)
	}
	return nil
}

func checkQuery(q SampleQuery) error {
	if q.Name == "" {
		return fmt.Errorf("%w: sample query has no name", ErrInvalid)
	}
	if q.Limit < 0 {
		return fmt.Errorf("%w: sample query limit %d is negative", ErrInvalid, q.Limit)
	}
	return nil
}

// queryRange returns [from, to) in nanoseconds; a zero To means now.
func queryRange(q SampleQuery, now time.Time) (int64, int64) {
	to := q.To
	if to.IsZero() {
		to = now
	}
	from := int64(math.MinInt64)
	if !q.From.IsZero() {
		from = nanos(q.From)
	}
	return from, nanos(to)
}

// cutoffs returns the instants before which raw samples are folded (a
// whole-minute boundary, so a minute is never split between raw rows and
// its aggregate) and before which aggregates are deleted.
func cutoffs(r Retention, now time.Time) (raw, agg int64) {
	raw = nanos(now.Add(-r.Raw))
	raw -= mod(raw, minute)
	return raw, nanos(now.Add(-r.Aggregate))
}

func mod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

func checkAction(a Action) error {
	if a.ID == "" {
		return fmt.Errorf("%w: action has no ID", ErrInvalid)
	}
	return nil
}

func checkBaseline(b Baseline) error {
	if b.Version == "" || b.Metric == "" {
		return fmt.Errorf("%w: baseline needs a version and a metric, got %q and %q", ErrInvalid, b.Version, b.Metric)
	}
	for i, v := range b.Values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%w: baseline %s/%s value %d is %v", ErrInvalid, b.Version, b.Metric, i, v)
		}
	}
	return nil
}

func checkAlert(a Alert) error {
	if a.ID == "" {
		return fmt.Errorf("%w: alert has no ID", ErrInvalid)
	}
	return nil
}

// seriesKey identifies a series in the write path's cache of series IDs.
type seriesKey struct{ name, labels string }

type seriesEntry struct {
	id   int64
	unit metrics.Unit
}

// reverse puts rows read newest-first (to apply a limit) back in
// time order.
func reverse[T any](s []T) {
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
}
