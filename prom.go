package perfengine

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/perfengine/perfengine/metrics"
)

// engineMetrics are the engine's own Prometheus metrics. The latest value of
// every series the modules report is exported too, as perfengine_<name>.
type engineMetrics struct {
	moduleFailures *prometheus.CounterVec
	actions        *prometheus.CounterVec
}

func newEngineMetrics(reg prometheus.Registerer, e *Engine) (*engineMetrics, error) {
	m := &engineMetrics{
		moduleFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "perfengine_engine_module_failures_total",
			Help: "Collections that failed, timed out or panicked, by module.",
		}, []string{"module"}),
		actions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "perfengine_engine_actions_total",
			Help: "Actions applied, failed or undone, by module and resulting state.",
		}, []string{"module", "state"}),
	}
	cycles := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "perfengine_engine_cycles_total",
		Help: "Monitoring cycles run.",
	}, func() float64 {
		e.mu.RLock()
		defer e.mu.RUnlock()
		return float64(e.cycles)
	})
	status := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "perfengine_engine_status",
		Help: "The engine's status: 0 healthy, 1 warning, 2 critical.",
	}, func() float64 { return float64(e.Status().rank()) })
	samples := metrics.NewExporter("perfengine", e.CurrentMetrics)
	for _, c := range []prometheus.Collector{m.moduleFailures, m.actions, cycles, status, samples} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
