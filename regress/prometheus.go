package regress

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

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

// QueryRange runs q against the Prometheus HTTP API at baseURL
// (/api/v1/query_range) and returns one Series per result, named by its
// label set. Values Prometheus reports as NaN or ±Inf are missing (NaN);
// times are RFC 3339 in UTC. client nil means http.DefaultClient.
func QueryRange(ctx context.Context, client *http.Client, baseURL string, q RangeQuery) ([]Series, error) {
	if client == nil {
		client = http.DefaultClient
	}
	if q.Query == "" || q.Step <= 0 || !q.End.After(q.Start) {
		return nil, errors.New("query range: need a query, a positive step and end after start")
	}
	u, err := url.Parse(strings.TrimRight(baseURL, "/") + "/api/v1/query_range")
	if err != nil {
		return nil, fmt.Errorf("query range: %w", err)
	}
	form := url.Values{}
	form.Set("query", q.Query)
	form.Set("start", strconv.FormatFloat(float64(q.Start.UnixMilli())/1000, 'f', 3, 64))
	form.Set("end", strconv.FormatFloat(float64(q.End.UnixMilli())/1000, 'f', 3, 64))
	form.Set("step", strconv.FormatFloat(q.Step.Seconds(), 'f', -1, 64))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("query range: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("query range: %w", err)
	}
	defer resp.Body.Close()
	return parsePromMatrix(io.LimitReader(resp.Body, maxPromBody), resp.StatusCode)
}

type promResponse struct {
	Status    string `json:"status"`
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
	Data      struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string    `json:"metric"`
			Values [][2]json.RawMessage `json:"values"`
		} `json:"result"`
	} `json:"data"`
}

func parsePromMatrix(r io.Reader, status int) ([]Series, error) {
	var pr promResponse
	if err := json.NewDecoder(r).Decode(&pr); err != nil {
		return nil, fmt.Errorf("query range: HTTP %d: decode answer: %w", status, err)
	}
	if pr.Status != "success" {
		return nil, fmt.Errorf("query range: HTTP %d: %s: %s", status, pr.ErrorType, pr.Error)
	}
	if pr.Data.ResultType != "matrix" {
		return nil, fmt.Errorf("query range: result type %q, want matrix", pr.Data.ResultType)
	}
	out := make([]Series, 0, len(pr.Data.Result))
	for _, res := range pr.Data.Result {
		name := res.Metric["__name__"]
		labels := make(map[string]string, len(res.Metric))
		for k, v := range res.Metric {
			if k != "__name__" {
				labels[k] = v
			}
		}
		s := Series{Name: metrics.SeriesKey(name, labels)}
		for i, pair := range res.Values {
			var ts float64
			if err := json.Unmarshal(pair[0], &ts); err != nil {
				return nil, fmt.Errorf("query range: %s: point %d: bad timestamp %s", s.Name, i, pair[0])
			}
			var vs string
			if err := json.Unmarshal(pair[1], &vs); err != nil {
				return nil, fmt.Errorf("query range: %s: point %d: value %s is not a string", s.Name, i, pair[1])
			}
			v, err := strconv.ParseFloat(vs, 64)
			if err != nil {
				return nil, fmt.Errorf("query range: %s: point %d: %q is not a number", s.Name, i, vs)
			}
			if math.IsInf(v, 0) {
				v = math.NaN()
			}
			sec, frac := math.Modf(ts)
			t := time.Unix(int64(sec), int64(math.Round(frac*1e9))).UTC()
			s.Values = append(s.Values, v)
			s.Times = append(s.Times, t.Format(time.RFC3339Nano))
		}
		out = append(out, s)
	}
	return out, nil
}
