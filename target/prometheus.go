package target

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/perfengine/perfengine/metrics"
	"github.com/perfengine/perfengine/regress"
)

// DefaultQueries read a fleet's figures from the conventional client_golang
// series, summed over every instance and split by version, so the
// detector and the thresholds judge what the fleet sees.
var DefaultQueries = map[string]string{
	metrics.ResponseTimeMs: `1000 * histogram_quantile(0.95, sum by (le, version) (rate(http_request_duration_seconds_bucket[5m])))`,
	LatencyP50Ms:           `1000 * histogram_quantile(0.50, sum by (le, version) (rate(http_request_duration_seconds_bucket[5m])))`,
	LatencyP99Ms:           `1000 * histogram_quantile(0.99, sum by (le, version) (rate(http_request_duration_seconds_bucket[5m])))`,
	metrics.ThroughputRPS:  `sum by (version) (rate(http_requests_total[5m]))`,
	metrics.ErrorRate:      `sum by (version) (rate(http_requests_total{code=~"5.."}[5m])) / sum by (version) (rate(http_requests_total[5m]))`,
}

// maxPromSeries bounds the series one query may add per scrape, so a query
// without aggregation cannot flood the store.
const maxPromSeries = 50

// promSource reads each query's range and reports the newest point of
// every result series. The range, not an instant query, is read so a
// server a step behind still answers with its last point.
type promSource struct {
	c        *regress.PromClient
	queries  map[string]string
	lookback time.Duration
	step     time.Duration
}

func newPromSource(base string, client *http.Client, queries map[string]string, lookback, step time.Duration) (*promSource, error) {
	c, err := regress.NewPromClient(base, client)
	if err != nil {
		return nil, err
	}
	return &promSource{c: c, queries: queries, lookback: lookback, step: step}, nil
}

func (p *promSource) scrape(ctx context.Context, now time.Time) (result, error) {
	var r result
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(p.queries)) {
		ss, warns, err := p.c.QueryRange(ctx, regress.RangeQuery{
			Query: p.queries[name], Start: now.Add(-p.lookback), End: now, Step: p.step,
		})
		for _, w := range warns {
			r.warnings = append(r.warnings, name+": "+w)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		if len(ss) > maxPromSeries {
			r.warnings = append(r.warnings, fmt.Sprintf("%s: %d series, only the first %d kept: aggregate the query", name, len(ss), maxPromSeries))
			ss = ss[:maxPromSeries]
		}
		for _, s := range ss {
			v, ok := newest(s.Values)
			if !ok {
				continue
			}
			labels := seriesLabels(s.Name)
			if ver := labels["version"]; ver != "" && r.version == "" {
				r.version = ver
			}
			r.samples = append(r.samples, metrics.Sample{Name: name, Value: v, Labels: labels, Time: now})
		}
	}
	return r, errors.Join(errs...)
}

func newest(vs []float64) (float64, bool) {
	for i := len(vs) - 1; i >= 0; i-- {
		if !math.IsNaN(vs[i]) {
			return vs[i], true
		}
	}
	return 0, false
}

// seriesLabels parses the labels back out of a series key
// (name{k="v",...}); an empty set is nil, so the sample's key is the bare
// name the thresholds judge.
func seriesLabels(key string) map[string]string {
	_, rest, ok := strings.Cut(key, "{")
	if !ok {
		return nil
	}
	rest = strings.TrimSuffix(rest, "}")
	out := map[string]string{}
	for rest != "" {
		k, after, ok := strings.Cut(rest, `="`)
		if !ok {
			break
		}
		var v strings.Builder
		i := 0
		for ; i < len(after); i++ {
			if after[i] == '\\' && i+1 < len(after) {
				i++
				v.WriteByte(after[i])
				continue
			}
			if after[i] == '"' {
				break
			}
			v.WriteByte(after[i])
		}
		out[k] = v.String()
		rest = strings.TrimPrefix(after[min(i+1, len(after)):], ",")
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
