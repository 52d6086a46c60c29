package metrics

import (
	"slices"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
)

// Exporter is a prometheus.Collector that exports the samples a callback
// returns at each scrape. A sample becomes a gauge (a counter for UnitTotal)
// named <namespace>_<name>, with its labels, converted to Prometheus base
// units: milliseconds become seconds (gc_pause_p99_ms is exported as
// perfengine_gc_pause_p99_seconds) and the unit's suffix (_seconds,
// _percent, _ratio, _bytes, _total) is added when the name lacks it.
//
// The set of names is only known at scrape time, so the exporter is an
// unchecked collector: Describe sends nothing. Register it on a registry the
// caller owns, never the global one. It is safe for concurrent use as long
// as the callback is.
type Exporter struct {
	namespace string
	source    func() []Sample
	dropped   atomic.Uint64
}

var _ prometheus.Collector = (*Exporter)(nil)

// NewExporter returns an exporter of the samples source returns. An empty
// namespace exports the names without a prefix.
func NewExporter(namespace string, source func() []Sample) *Exporter {
	return &Exporter{namespace: sanitizeMetricName(namespace), source: source}
}

// Describe sends nothing: the exporter is unchecked.
func (e *Exporter) Describe(chan<- *prometheus.Desc) {}

// Dropped returns how many samples were left out of scrapes so far because
// they could not be exported: no usable name, a name already exported with
// another type, or the same name and labels twice in one scrape.
func (e *Exporter) Dropped() uint64 { return e.dropped.Load() }

// Collect exports the samples of one call to the source.
func (e *Exporter) Collect(ch chan<- prometheus.Metric) {
	if e.source == nil {
		return
	}
	samples := e.source()
	// One family has one type and one help text: the first sample of a name
	// sets them for the scrape.
	type family struct {
		vt   prometheus.ValueType
		help string
	}
	families := make(map[string]family, len(samples))
	seen := make(map[string]struct{}, len(samples))
	for i := range samples {
		s := &samples[i]
		name, value, vt := PrometheusName(e.namespace, s.Name, s.Unit, s.Value)
		if name == "" {
			e.dropped.Add(1)
			continue
		}
		fam, known := families[name]
		if known && fam.vt != vt {
			e.dropped.Add(1)
			continue
		}
		if !known {
			fam = family{vt: vt, help: helpText(s.Name, s.Unit)}
		}
		labelNames := make([]string, 0, len(s.Labels))
		for k := range s.Labels {
			labelNames = append(labelNames, k)
		}
		slices.Sort(labelNames)
		labelValues := make([]string, len(labelNames))
		for j, k := range labelNames {
			labelValues[j] = strings.ToValidUTF8(s.Labels[k], "\uFFFD")
			labelNames[j] = sanitizeLabelName(k)
		}
		id := SeriesKey(name, mapOf(labelNames, labelValues))
		if _, dup := seen[id]; dup || hasDuplicate(labelNames) {
			e.dropped.Add(1)
			continue
		}
		desc := prometheus.NewDesc(name, fam.help, labelNames, nil)
		m, err := prometheus.NewConstMetric(desc, vt, value, labelValues...)
		if err != nil {
			e.dropped.Add(1)
			continue
		}
		families[name] = fam
		seen[id] = struct{}{}
		ch <- m
	}
}

// PrometheusName returns the Prometheus name, value and type of a sample:
// the exporter's naming rule, exposed so dashboards and tests can find a
// sample's series. It returns an empty name when nothing usable is left of
// the sample's name.
func PrometheusName(namespace, name string, unit Unit, value float64) (string, float64, prometheus.ValueType) {
	base := sanitizeMetricName(name)
	if base == "" || strings.Trim(base, "_") == "" {
		return "", 0, prometheus.GaugeValue
	}
	vt := prometheus.GaugeValue
	switch unit {
	case UnitMilliseconds:
		base = trimAnySuffix(base, "_milliseconds", "_ms")
		base = withSuffix(base, "_seconds")
		value /= 1000
	case UnitSeconds:
		if !strings.HasSuffix(base, "_seconds") {
			base = trimAnySuffix(base, "_s")
		}
		base = withSuffix(base, "_seconds")
	case UnitPercent:
		base = withSuffix(base, "_percent")
	case UnitRatio:
		base = withSuffix(base, "_ratio")
	case UnitBytes:
		base = withSuffix(base, "_bytes")
	case UnitTotal:
		base = withSuffix(base, "_total")
		vt = prometheus.CounterValue
	}
	if namespace != "" {
		base = namespace + "_" + base
	}
	return base, value, vt
}

func helpText(name string, unit Unit) string {
	name = strings.ToValidUTF8(name, "\uFFFD")
	if unit == "" {
		return "perfengine sample " + name + "."
	}
	return "perfengine sample " + name + " (" + strings.ToValidUTF8(string(unit), "\uFFFD") + "), in Prometheus base units."
}

func trimAnySuffix(s string, suffixes ...string) string {
	for _, suf := range suffixes {
		if t, ok := strings.CutSuffix(s, suf); ok && t != "" {
			return t
		}
	}
	return s
}

func withSuffix(s, suf string) string {
	if strings.HasSuffix(s, suf) {
		return s
	}
	return s + suf
}

// sanitizeMetricName maps a name onto [a-zA-Z_:][a-zA-Z0-9_:]*, replacing
// every other character (dots, dashes, spaces) with an underscore.
func sanitizeMetricName(s string) string {
	return sanitize(s, true)
}

// sanitizeLabelName maps a label name onto [a-zA-Z_][a-zA-Z0-9_]*; names
// starting with "__" are reserved for Prometheus, so they get a prefix.
func sanitizeLabelName(s string) string {
	s = sanitize(s, false)
	if s == "" {
		return "label"
	}
	if strings.HasPrefix(s, "__") {
		return "label" + s
	}
	return s
}

func sanitize(s string, colons bool) string {
	ok := s != ""
	for i := 0; i < len(s); i++ {
		if !validNameByte(s[i], i == 0, colons) {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		if r < utf8.RuneSelf && validNameByte(byte(r), false, colons) {
			if i == 0 && r >= '0' && r <= '9' {
				b.WriteByte('_')
			}
			b.WriteRune(r)
			continue
		}
		b.WriteByte('_')
	}
	return b.String()
}

func validNameByte(c byte, first, colons bool) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		return true
	case c == ':':
		return colons
	case c >= '0' && c <= '9':
		return !first
	}
	return false
}

func mapOf(keys, values []string) map[string]string {
	if len(keys) == 0 {
		return nil
	}
	m := make(map[string]string, len(keys))
	for i, k := range keys {
		m[k] = values[i]
	}
	return m
}

func hasDuplicate(sorted []string) bool {
	seen := make(map[string]struct{}, len(sorted))
	for _, s := range sorted {
		if _, ok := seen[s]; ok {
			return true
		}
		seen[s] = struct{}{}
	}
	return false
}
