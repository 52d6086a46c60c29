package target

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"time"

	"github.com/perfengine/perfengine/metrics"
)

// Kind is what a target is and so how it is watched.
type Kind string

// Kinds of targets.
const (
	// Service is scraped at its Prometheus endpoint.
	Service Kind = "service"
	// HTTP is a synthetic probe of one URL.
	HTTP Kind = "http"
	// Database is a PostgreSQL or SQLite database; its Source comes from
	// the caller (the engine's database module).
	Database Kind = "database"
	// Prometheus reads a fleet's series from a Prometheus server.
	Prometheus Kind = "prometheus"
)

// Defaults of a Spec.
const (
	DefaultInterval = 15 * time.Second
	DefaultTimeout  = 5 * time.Second
	// MaxBackoff caps the wait after failures, so a target that comes back
	// is seen within a few minutes.
	MaxBackoff = 5 * time.Minute
)

// Label is the sample label that names the target of a sample.
const Label = "target"

// Source produces one round of samples of a target. Scrape must honour
// ctx: the watcher gives it the target's timeout. Samples are returned
// without the target label; the watcher adds it.
type Source interface {
	Scrape(ctx context.Context, now time.Time) (Result, error)
}

// SourceFunc adapts a function to Source.
type SourceFunc func(ctx context.Context, now time.Time) (Result, error)

// Scrape calls f.
func (f SourceFunc) Scrape(ctx context.Context, now time.Time) (Result, error) { return f(ctx, now) }

// Result is what one scrape found. A failed scrape may still carry
// samples (a probe's timings of a wrong status code).
type Result struct {
	Samples []metrics.Sample
	// Version is the running version the target reported (a build_info
	// label), or empty.
	Version string
	// Bytes read from the target.
	Bytes int64
	// Warnings are problems that did not fail the scrape (a Prometheus
	// server's partial answer).
	Warnings []string
}

// result is what the built-in sources return.
type result struct {
	samples  []metrics.Sample
	version  string
	bytes    int64
	warnings []string
}

func (r result) export() Result {
	return Result{Samples: r.samples, Version: r.version, Bytes: r.bytes, Warnings: r.warnings}
}

// Spec describes one target. The zero values of the optional fields mean
// their defaults.
type Spec struct {
	// Name is unique among targets: letters, digits, '.', '_' and '-',
	// at most 64.
	Name string
	Kind Kind
	// Labels are shown with the target; they are not added to its samples,
	// so its series keys stay stable when labels change.
	Labels map[string]string
	// URL is the Prometheus endpoint (Service), the probed URL (HTTP) or
	// the Prometheus server's base URL (Prometheus).
	URL string
	// Interval between scrapes; default 15s.
	Interval time.Duration
	// Timeout of one scrape; default 5s, at most Interval.
	Timeout time.Duration
	// MaxBytes bounds an exposition (Service); default 16 MiB.
	MaxBytes int64
	// Series names the series a Service derives its figures from.
	Series Series
	// Method and ExpectStatus configure an HTTP probe; default GET and any
	// 2xx or 3xx.
	Method       string
	ExpectStatus []int
	// Queries map sample names to PromQL (Prometheus); default
	// DefaultQueries. Lookback is the range read each time; default
	// 5 × Interval.
	Queries  map[string]string
	Lookback time.Duration
	// Version is a fixed version for targets that report none.
	Version string
	// Source scrapes a Database target (or any custom kind); it overrides
	// the built-in source of the other kinds.
	Source Source
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// ErrInvalid wraps every problem of a Spec.
var ErrInvalid = errors.New("invalid target")

// Validate names the first field of s that is wrong.
func (s Spec) Validate() error {
	bad := func(field string, format string, args ...any) error {
		return fmt.Errorf("%w %q: %s %s", ErrInvalid, s.Name, field, fmt.Sprintf(format, args...))
	}
	if !nameRE.MatchString(s.Name) {
		return bad("name", "must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
	switch s.Kind {
	case Service, HTTP, Prometheus:
		if s.Source == nil {
			u, err := url.Parse(s.URL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return bad("url", "%q must be an absolute http(s) URL", s.URL)
			}
		}
	case Database:
		if s.Source == nil {
			return bad("source", "is needed for a database target")
		}
	default:
		return bad("type", "%q must be service, http, database or prometheus", s.Kind)
	}
	if s.Interval < 0 || (s.Interval > 0 && s.Interval < 100*time.Millisecond) || s.Interval > 24*time.Hour {
		return bad("interval", "%s must be between 100ms and 24h", s.Interval)
	}
	if s.Timeout < 0 || (s.Timeout > 0 && s.Timeout < 10*time.Millisecond) {
		return bad("timeout", "%s must be at least 10ms", s.Timeout)
	}
	if s.Timeout > 0 && s.Timeout > s.withDefaults().Interval {
		return bad("timeout", "%s must not exceed the interval %s", s.Timeout, s.withDefaults().Interval)
	}
	if s.MaxBytes < 0 {
		return bad("maxBytes", "%d must not be negative", s.MaxBytes)
	}
	if s.Method != "" && !validMethod(s.Method) {
		return bad("method", "%q is not an HTTP method", s.Method)
	}
	for _, c := range s.ExpectStatus {
		if c < 100 || c > 599 {
			return bad("expectStatus", "%d must be in 100..599", c)
		}
	}
	for name, q := range s.Queries {
		if !metricNameRE.MatchString(name) || q == "" {
			return bad("queries", "%q must be a metric name with a non-empty PromQL query", name)
		}
	}
	if s.Lookback < 0 {
		return bad("lookback", "%s must not be negative", s.Lookback)
	}
	return nil
}

var metricNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

func validMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return true
	}
	return false
}

func (s Spec) withDefaults() Spec {
	if s.Interval == 0 {
		s.Interval = DefaultInterval
	}
	if s.Timeout == 0 {
		s.Timeout = min(DefaultTimeout, s.Interval)
	}
	if s.Method == "" {
		s.Method = http.MethodGet
	}
	if s.Lookback == 0 {
		s.Lookback = 5 * s.Interval
	}
	if s.Kind == Prometheus && len(s.Queries) == 0 {
		s.Queries = DefaultQueries
	}
	return s
}

// source builds the built-in source of s.
func (s Spec) source(client *http.Client) (Source, error) {
	if s.Source != nil {
		return s.Source, nil
	}
	switch s.Kind {
	case Service:
		src := newServiceSource(s.URL, client, s.MaxBytes, s.Series)
		return SourceFunc(func(ctx context.Context, now time.Time) (Result, error) {
			r, err := src.scrape(ctx, now)
			return r.export(), err
		}), nil
	case HTTP:
		p := &probeSource{method: s.Method, url: s.URL, expect: s.ExpectStatus}
		return SourceFunc(func(ctx context.Context, now time.Time) (Result, error) {
			r, err := p.scrape(ctx, now)
			return r.export(), err
		}), nil
	case Prometheus:
		p, err := newPromSource(s.URL, client, s.Queries, s.Lookback, s.Interval)
		if err != nil {
			return nil, err
		}
		return SourceFunc(func(ctx context.Context, now time.Time) (Result, error) {
			r, err := p.scrape(ctx, now)
			return r.export(), err
		}), nil
	}
	return nil, fmt.Errorf("%w %q: no source for type %q", ErrInvalid, s.Name, s.Kind)
}
