package target

import (
	"math"
	"slices"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/perfengine/perfengine/metrics"
)

// Names of the figures a service target reports, besides the engine's own
// metrics.ResponseTimeMs (p95), metrics.ThroughputRPS and metrics.ErrorRate.
const (
	LatencyP50Ms = "response_time_p50_ms"
	LatencyP99Ms = "response_time_p99_ms"
	// CPUCorePercent is the target's process CPU in percent of one core:
	// the daemon does not know the size of the target's machine.
	CPUCorePercent = "cpu_core_percent"
	// Up is 1 when the last scrape or probe succeeded, 0 otherwise.
	Up = "up"
	// ScrapeDurationMs is how long the last scrape or probe took.
	ScrapeDurationMs = "scrape_duration_ms"
	// ScrapeBytes is the size of the last exposition read.
	ScrapeBytes = "scrape_bytes"
)

// Conventional series, tried in this order when a target names none.
var (
	defaultHistograms = []string{
		"http_request_duration_seconds",        // client_golang/promhttp
		"http_server_request_duration_seconds", // OpenTelemetry semantic conventions
	}
	defaultCounters = []string{"http_requests_total"}
	// statusLabels hold the response status, by convention.
	statusLabels = []string{"code", "http_response_status_code", "status_code", "status"}
)

// Series names which series of an exposition a service target derives its
// figures from. The zero value uses the conventional names.
type Series struct {
	// Histogram is the request duration histogram in seconds, classic or
	// native. Default: http_request_duration_seconds, then
	// http_server_request_duration_seconds.
	Histogram string `yaml:"histogram" json:"histogram,omitempty"`
	// Counter counts requests; default http_requests_total, else the
	// histogram's count.
	Counter string `yaml:"counter" json:"counter,omitempty"`
	// StatusLabel holds the status code; default code,
	// http_response_status_code, status_code or status, whichever is present.
	StatusLabel string `yaml:"statusLabel" json:"statusLabel,omitempty"`
	// Match keeps only series with these label values (e.g. a handler).
	Match map[string]string `yaml:"match" json:"match,omitempty"`
	// VersionLabel is the label that carries the running version, read
	// from any *_build_info or target_info series; default "version".
	VersionLabel string `yaml:"versionLabel" json:"versionLabel,omitempty"`
}

// bucket is one histogram bucket, not cumulative: Count observations in
// (Lower, Upper].
type bucket struct {
	Lower, Upper float64
	Count        float64
}

// hist is one series' histogram as a sorted list of buckets.
type hist struct {
	count   float64
	buckets []bucket
}

// deriver turns consecutive scrapes into rates. It keeps the previous
// cumulative values of every series it reads, by series key, so a counter
// reset (the new value below the old) is taken as a restart from zero, as
// Prometheus's rate() does. Not safe for concurrent use: one per target.
type deriver struct {
	series Series

	last    time.Time
	prevH   map[string]hist
	prevC   map[string]float64 // request counters by series key
	prevCPU float64
	hasCPU  bool
}

func newDeriver(s Series) *deriver {
	if s.VersionLabel == "" {
		s.VersionLabel = "version"
	}
	return &deriver{series: s}
}

// derived is one scrape's figures.
type derived struct {
	samples []metrics.Sample
	version string
	// found is false when none of the series the target needs is present.
	found   bool
	missing string
}

// derive reads one scrape. The first scrape only sets the baseline: rates
// need two.
func (d *deriver) derive(now time.Time, fams []*dto.MetricFamily) derived {
	var out derived
	byName := make(map[string]*dto.MetricFamily, len(fams))
	for _, f := range fams {
		byName[f.GetName()] = f
	}
	out.version = d.versionOf(fams)

	hf := d.pick(byName, d.series.Histogram, defaultHistograms, dto.MetricType_HISTOGRAM)
	cf := d.pick(byName, d.series.Counter, defaultCounters, dto.MetricType_COUNTER)
	if hf == nil && cf == nil {
		want := strings.Join(append(slices.Clone(defaultHistograms), defaultCounters...), ", ")
		if d.series.Histogram != "" || d.series.Counter != "" {
			want = strings.TrimSuffix(d.series.Histogram+", "+d.series.Counter, ", ")
		}
		out.missing = want
	} else {
		out.found = true
	}

	first := d.last.IsZero()
	elapsed := now.Sub(d.last).Seconds()
	d.last = now

	curH := map[string]hist{}
	var delta []bucket
	var hCount, hErr float64
	if hf != nil {
		status := d.statusLabel(hf)
		for _, m := range hf.GetMetric() {
			if !d.matches(m) {
				continue
			}
			h, ok := readHist(m.GetHistogram())
			if !ok {
				continue
			}
			key := labelKey(m)
			curH[key] = h
			prev, seen := d.prevH[key]
			dh := diffHist(h, prev, seen)
			delta = mergeBuckets(delta, dh.buckets)
			hCount += dh.count
			if isServerError(labelValue(m, status)) {
				hErr += dh.count
			}
		}
	}
	curC := map[string]float64{}
	var cCount, cErr float64
	if cf != nil {
		status := d.statusLabel(cf)
		for _, m := range cf.GetMetric() {
			if !d.matches(m) {
				continue
			}
			v := m.GetCounter().GetValue()
			key := labelKey(m)
			curC[key] = v
			prev, seen := d.prevC[key]
			dv := v
			if seen && v >= prev {
				dv = v - prev
			}
			cCount += dv
			if isServerError(labelValue(m, status)) {
				cErr += dv
			}
		}
	}
	d.prevH, d.prevC = curH, curC

	cpu, hasCPU := gaugeOrCounter(byName["process_cpu_seconds_total"])
	var cpuDelta float64
	cpuOK := hasCPU && d.hasCPU && !first
	if cpuOK {
		cpuDelta = cpu - d.prevCPU
		if cpuDelta < 0 { // restarted
			cpuDelta = cpu
		}
	}
	d.prevCPU, d.hasCPU = cpu, hasCPU

	add := func(name string, v float64, u metrics.Unit) {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return
		}
		out.samples = append(out.samples, metrics.Sample{Name: name, Value: v, Unit: u, Time: now})
	}
	if v, ok := gaugeOrCounter(byName["process_resident_memory_bytes"]); ok {
		add(metrics.RSSBytes, v, metrics.UnitBytes)
	}
	if v, ok := gaugeOrCounter(byName["go_memstats_heap_inuse_bytes"]); ok {
		add(metrics.HeapInUseBytes, v, metrics.UnitBytes)
	}
	if v, ok := gaugeOrCounter(byName["go_goroutines"]); ok {
		add(metrics.Goroutines, v, metrics.UnitCount)
	}
	if first || elapsed <= 0 {
		return out
	}
	if cpuOK {
		add(CPUCorePercent, 100*cpuDelta/elapsed, metrics.UnitPercent)
	}
	requests, errs := hCount, hErr
	if cf != nil {
		requests, errs = cCount, cErr
	}
	if out.found {
		add(metrics.ThroughputRPS, requests/elapsed, metrics.UnitPerSecond)
		if requests > 0 {
			add(metrics.ErrorRate, errs/requests, metrics.UnitRatio)
		}
	}
	if total := sumBuckets(delta); total > 0 {
		add(LatencyP50Ms, 1000*quantile(0.50, delta, total), metrics.UnitMilliseconds)
		add(metrics.ResponseTimeMs, 1000*quantile(0.95, delta, total), metrics.UnitMilliseconds)
		add(LatencyP99Ms, 1000*quantile(0.99, delta, total), metrics.UnitMilliseconds)
	}
	return out
}

// pick returns the family named, or the first conventional one present,
// of the wanted type (an untyped family of that name is accepted too).
func (d *deriver) pick(by map[string]*dto.MetricFamily, name string, defaults []string, typ dto.MetricType) *dto.MetricFamily {
	names := defaults
	if name != "" {
		names = []string{name}
	}
	for _, n := range names {
		f, ok := by[n]
		if !ok && typ == dto.MetricType_COUNTER {
			// OpenMetrics text names the family without _total.
			f, ok = by[strings.TrimSuffix(n, "_total")]
		}
		if ok && (f.GetType() == typ || (typ == dto.MetricType_HISTOGRAM && f.GetType() == dto.MetricType_GAUGE_HISTOGRAM)) {
			return f
		}
	}
	return nil
}

func (d *deriver) statusLabel(f *dto.MetricFamily) string {
	if d.series.StatusLabel != "" {
		return d.series.StatusLabel
	}
	for _, m := range f.GetMetric() {
		for _, l := range m.GetLabel() {
			if slices.Contains(statusLabels, l.GetName()) {
				return l.GetName()
			}
		}
	}
	return ""
}

func (d *deriver) matches(m *dto.Metric) bool {
	for k, v := range d.series.Match {
		if labelValue(m, k) != v {
			return false
		}
	}
	return true
}

// versionOf reads the version label of a build_info-like series.
func (d *deriver) versionOf(fams []*dto.MetricFamily) string {
	for _, f := range fams {
		n := f.GetName()
		if !strings.HasSuffix(n, "build_info") && n != "target_info" {
			continue
		}
		for _, m := range f.GetMetric() {
			if v := labelValue(m, d.series.VersionLabel); v != "" {
				return v
			}
		}
	}
	return ""
}

func isServerError(code string) bool {
	return len(code) == 3 && code[0] == '5'
}

func labelValue(m *dto.Metric, name string) string {
	if name == "" {
		return ""
	}
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// labelKey identifies a series within its family.
func labelKey(m *dto.Metric) string {
	var b strings.Builder
	for _, l := range m.GetLabel() {
		b.WriteString(l.GetName())
		b.WriteByte('=')
		b.WriteString(l.GetValue())
		b.WriteByte(0)
	}
	return b.String()
}

// gaugeOrCounter returns the sum of a family's values, whatever its type.
func gaugeOrCounter(f *dto.MetricFamily) (float64, bool) {
	if f == nil || len(f.GetMetric()) == 0 {
		return 0, false
	}
	var sum float64
	for _, m := range f.GetMetric() {
		switch {
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Untyped != nil:
			sum += m.GetUntyped().GetValue()
		default:
			return 0, false
		}
	}
	return sum, true
}

// readHist turns a classic or native histogram into buckets. A histogram
// with both (client_golang exposes the classic buckets alongside the
// native ones in protobuf) is read by its native buckets, the finer ones.
func readHist(h *dto.Histogram) (hist, bool) {
	if h == nil {
		return hist{}, false
	}
	count := float64(h.GetSampleCount())
	if h.SampleCountFloat != nil {
		count = h.GetSampleCountFloat()
	}
	if h.Schema != nil && (len(h.GetPositiveSpan()) > 0 || h.ZeroCount != nil || h.ZeroCountFloat != nil || len(h.GetBucket()) == 0) {
		return hist{count: count, buckets: nativeBuckets(h)}, true
	}
	var out []bucket
	prevUpper, prevCum := 0.0, 0.0
	for _, b := range h.GetBucket() {
		cum := float64(b.GetCumulativeCount())
		if b.CumulativeCountFloat != nil {
			cum = b.GetCumulativeCountFloat()
		}
		ub := b.GetUpperBound()
		if n := cum - prevCum; n > 0 {
			out = append(out, bucket{Lower: prevUpper, Upper: ub, Count: n})
		}
		prevUpper, prevCum = ub, cum
	}
	// Observations above the last bound fall in the implicit +Inf bucket.
	if n := count - prevCum; n > 0 {
		out = append(out, bucket{Lower: prevUpper, Upper: math.Inf(1), Count: n})
	}
	return hist{count: count, buckets: out}, true
}

// nativeBuckets expands a native histogram's positive spans. With schema s
// the bucket of index i holds (base^(i-1), base^i] where base = 2^(2^-s).
// Durations are not negative, so negative buckets count towards the zero
// bucket.
func nativeBuckets(h *dto.Histogram) []bucket {
	schema := h.GetSchema()
	base := math.Exp2(math.Exp2(-float64(schema)))
	zero := float64(h.GetZeroCount())
	if h.ZeroCountFloat != nil {
		zero = h.GetZeroCountFloat()
	}
	zero += sumSpans(h.GetNegativeSpan(), h.GetNegativeDelta(), h.GetNegativeCount())
	var out []bucket
	if zero > 0 {
		out = append(out, bucket{Lower: 0, Upper: h.GetZeroThreshold(), Count: zero})
	}
	idx := int32(0)
	var abs float64
	k := 0
	floats := len(h.GetPositiveCount()) > 0
	for _, sp := range h.GetPositiveSpan() {
		idx += sp.GetOffset()
		for range sp.GetLength() {
			var n float64
			if floats {
				if k >= len(h.GetPositiveCount()) {
					return out
				}
				n = h.GetPositiveCount()[k]
			} else {
				if k >= len(h.GetPositiveDelta()) {
					return out
				}
				abs += float64(h.GetPositiveDelta()[k])
				n = abs
			}
			k++
			if n > 0 {
				upper := math.Pow(base, float64(idx))
				out = append(out, bucket{Lower: upper / base, Upper: upper, Count: n})
			}
			idx++
		}
	}
	return out
}

func sumSpans(spans []*dto.BucketSpan, deltas []int64, counts []float64) float64 {
	n := 0
	for _, sp := range spans {
		n += int(sp.GetLength())
	}
	var sum, abs float64
	if len(counts) > 0 {
		for i := 0; i < n && i < len(counts); i++ {
			sum += counts[i]
		}
		return sum
	}
	for i := 0; i < n && i < len(deltas); i++ {
		abs += float64(deltas[i])
		sum += abs
	}
	return sum
}

// diffHist is cur minus prev, bucket by bucket. A series not seen before,
// or one whose count went down (the process restarted), counts from zero.
func diffHist(cur, prev hist, seen bool) hist {
	if !seen || cur.count < prev.count {
		return cur
	}
	out := hist{count: cur.count - prev.count}
	j := 0
	for _, b := range cur.buckets {
		for j < len(prev.buckets) && less(prev.buckets[j], b) {
			j++
		}
		n := b.Count
		if j < len(prev.buckets) && prev.buckets[j].Lower == b.Lower && prev.buckets[j].Upper == b.Upper {
			n -= prev.buckets[j].Count
		}
		if n > 0 {
			out.buckets = append(out.buckets, bucket{Lower: b.Lower, Upper: b.Upper, Count: n})
		}
	}
	return out
}

func less(a, b bucket) bool {
	return a.Upper < b.Upper || (a.Upper == b.Upper && a.Lower < b.Lower)
}

// mergeBuckets adds b into a, keeping the result sorted by bounds.
func mergeBuckets(a, b []bucket) []bucket {
	for _, x := range b {
		i, found := slices.BinarySearchFunc(a, x, func(e, t bucket) int {
			switch {
			case less(e, t):
				return -1
			case less(t, e):
				return 1
			}
			return 0
		})
		if found {
			a[i].Count += x.Count
		} else {
			a = slices.Insert(a, i, x)
		}
	}
	return a
}

func sumBuckets(bs []bucket) float64 {
	var s float64
	for _, b := range bs {
		s += b.Count
	}
	return s
}

// quantile interpolates linearly within the bucket that holds rank q, as
// Prometheus's histogram_quantile does. A rank in the +Inf bucket answers
// that bucket's lower bound: the largest value known.
func quantile(q float64, bs []bucket, total float64) float64 {
	rank := q * total
	var cum float64
	for _, b := range bs {
		if cum+b.Count >= rank {
			if math.IsInf(b.Upper, 1) {
				return b.Lower
			}
			return b.Lower + (b.Upper-b.Lower)*(rank-cum)/b.Count
		}
		cum += b.Count
	}
	if len(bs) == 0 {
		return math.NaN()
	}
	return bs[len(bs)-1].Lower
}
