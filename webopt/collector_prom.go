package webopt

import (
	"errors"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// collectorMetrics are the collector's Prometheus series: counters of
// beacons, and the p75 of each vital per route and device class, computed
// at scrape time from the window (durations in seconds, CLS unitless).
type collectorMetrics struct {
	c        *Collector
	accepted prometheus.Counter
	dropped  *prometheus.CounterVec
	overflow prometheus.Counter
	p75      [len(vitals)]*prometheus.Desc
}

func newCollectorMetrics(c *Collector) *collectorMetrics {
	m := &collectorMetrics{
		c: c,
		accepted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "perfengine_web_beacons_total", Help: "RUM beacons accepted.",
		}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "perfengine_web_beacons_dropped_total", Help: "RUM beacons refused, by reason.",
		}, []string{"reason"}),
		overflow: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "perfengine_web_route_overflow_total", Help: "RUM beacons counted under the overflow route because the route limit was reached.",
		}),
	}
	for i, v := range vitals {
		name, help := "perfengine_web_"+strings.ToLower(v.name)+"_p75_seconds", "p75 of "+v.name+" over the RUM window, in seconds."
		if v.name == CLS {
			name, help = "perfengine_web_cls_p75", "p75 of CLS over the RUM window."
		}
		m.p75[i] = prometheus.NewDesc(name, help, []string{"route", "device"}, nil)
	}
	return m
}

func (m *collectorMetrics) register(reg prometheus.Registerer) error {
	return errors.Join(reg.Register(m.accepted), reg.Register(m.dropped), reg.Register(m.overflow), reg.Register(vitalsCollector{m}))
}

// vitalsCollector is the scrape-time part of collectorMetrics.
type vitalsCollector struct{ m *collectorMetrics }

func (v vitalsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range v.m.p75 {
		ch <- d
	}
}

func (v vitalsCollector) Collect(ch chan<- prometheus.Metric) {
	for _, x := range v.m.c.Vitals() {
		i := vitalIndex(x.Name)
		val := x.P75
		if x.Name != CLS {
			val /= 1000
		}
		ch <- prometheus.MustNewConstMetric(v.m.p75[i], prometheus.GaugeValue, val, x.Route, x.Device)
	}
}
