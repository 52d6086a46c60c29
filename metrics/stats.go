package metrics

import "time"

// Stats summarises a series over a window.
type Stats struct {
	Name   string        `json:"name"`
	Window time.Duration `json:"window"`
	Count  int           `json:"count"`
	Last   float64       `json:"last"`
	Mean   float64       `json:"mean"`
	Min    float64       `json:"min"`
	Max    float64       `json:"max"`
	P50    float64       `json:"p50"`
	P95    float64       `json:"p95"`
	P99    float64       `json:"p99"`
	// Slope is the least-squares trend in units per second.
	Slope float64 `json:"slope"`
}
