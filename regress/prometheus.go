package regress

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/perfengine/perfengine/metrics"
)

// RangeQuery is a Prometheus range query.
type RangeQuery struct {
	Query      string
	Start, End time.Time
	Step       time.Duration
}

// maxPromBody bounds a query_range answer read into memory (64 MiB, about
// a million points).
const maxPromBody = 64 << 20

// ErrPromBodyTooLarge means a Prometheus answer passed maxPromBody.
var ErrPromBodyTooLarge = fmt.Errorf("prometheus answer larger than %d bytes", maxPromBody)

// PromClient reads series from a Prometheus server's HTTP API through
// client_golang's API client. It is safe for concurrent use.
type PromClient struct {
	api v1.API
}

// NewPromClient returns a client of the server at baseURL. client nil
// means http.DefaultClient's transport. Answers are read up to 64 MiB.
func NewPromClient(baseURL string, client *http.Client) (*PromClient, error) {
	rt := http.DefaultTransport
	var c http.Client
	if client != nil {
		c = *client
		if client.Transport != nil {
			rt = client.Transport
		}
	}
	c.Transport = limitedTransport{rt}
	ac, err := api.NewClient(api.Config{Address: baseURL, Client: &c})
	if err != nil {
		return nil, fmt.Errorf("prometheus client %q: %w", baseURL, err)
	}
	return &PromClient{api: v1.NewAPI(ac)}, nil
}

// QueryRange runs q (/api/v1/query_range) and returns one Series per
// result, named by its label set, and the warnings the server sent with
// the answer (a partial answer from a federated or remote-read source, for
// example). Values Prometheus reports as NaN or ±Inf are missing (NaN);
// times are RFC 3339 in UTC.
func (c *PromClient) QueryRange(ctx context.Context, q RangeQuery) ([]Series, []string, error) {
	if q.Query == "" || q.Step <= 0 || !q.End.After(q.Start) {
		return nil, nil, errors.New("query range: need a query, a positive step and end after start")
	}
	v, warns, _, err := c.api.QueryRange(ctx, q.Query, v1.Range{Start: q.Start, End: q.End, Step: q.Step})
	if err != nil {
		return nil, warns, fmt.Errorf("query range: %w", err)
	}
	m, ok := v.(model.Matrix)
	if !ok {
		return nil, warns, fmt.Errorf("query range: result type %q, want matrix", v.Type())
	}
	return seriesFromMatrix(m), warns, nil
}

// QueryRange runs q against the Prometheus HTTP API at baseURL; see
// PromClient.QueryRange. It drops the server's warnings: use a PromClient
// to see them. client nil means http.DefaultClient.
func QueryRange(ctx context.Context, client *http.Client, baseURL string, q RangeQuery) ([]Series, error) {
	c, err := NewPromClient(baseURL, client)
	if err != nil {
		return nil, err
	}
	ss, _, err := c.QueryRange(ctx, q)
	return ss, err
}

func seriesFromMatrix(m model.Matrix) []Series {
	out := make([]Series, 0, len(m))
	for _, ss := range m {
		name := string(ss.Metric[model.MetricNameLabel])
		labels := make(map[string]string, len(ss.Metric))
		for k, v := range ss.Metric {
			if k != model.MetricNameLabel {
				labels[string(k)] = string(v)
			}
		}
		s := Series{Name: metrics.SeriesKey(name, labels)}
		s.Values = make([]float64, 0, len(ss.Values))
		s.Times = make([]string, 0, len(ss.Values))
		for _, p := range ss.Values {
			v := float64(p.Value)
			if math.IsInf(v, 0) {
				v = math.NaN()
			}
			s.Values = append(s.Values, v)
			s.Times = append(s.Times, p.Timestamp.Time().UTC().Format(time.RFC3339Nano))
		}
		out = append(out, s)
	}
	return out
}

// limitedTransport bounds every answer body: the API client reads bodies
// whole.
type limitedTransport struct{ rt http.RoundTripper }

func (t limitedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.rt.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = &limitedBody{rc: resp.Body, left: maxPromBody}
	return resp, nil
}

type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One byte more tells a body of exactly the limit from a larger one.
		var one [1]byte
		if n, _ := b.rc.Read(one[:]); n > 0 {
			return 0, ErrPromBodyTooLarge
		}
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }
