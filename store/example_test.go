package store_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/perfengine/perfengine/metrics"
	"github.com/perfengine/perfengine/store"
)

func ExampleOpen() {
	dir, err := os.MkdirTemp("", "perfengine-example-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	ctx := context.Background()
	s, err := store.Open(ctx, "sqlite:"+dir, store.Retention{})
	if err != nil {
		panic(err)
	}
	defer s.Close()

	t0 := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	route := map[string]string{"route": "GET /api/products"}
	err = s.WriteSamples(ctx, []metrics.Sample{
		{Name: metrics.ResponseTimeMs, Value: 180, Unit: metrics.UnitMilliseconds, Labels: route, Time: t0},
		{Name: metrics.ResponseTimeMs, Value: 240, Unit: metrics.UnitMilliseconds, Labels: route, Time: t0.Add(10 * time.Second)},
	})
	if err != nil {
		panic(err)
	}
	got, err := s.QuerySamples(ctx, store.SampleQuery{Name: metrics.ResponseTimeMs, Labels: route})
	if err != nil {
		panic(err)
	}
	for _, sm := range got {
		fmt.Println(sm.Time.Format(time.TimeOnly), sm.Key(), sm.Value, sm.Unit)
	}
	// Output:
	// 03:04:00 response_time_ms{route="GET /api/products"} 180 ms
	// 03:04:10 response_time_ms{route="GET /api/products"} 240 ms
}

// Compact folds samples past the raw retention into 1-minute means.
func ExampleSQLite_Compact() {
	dir, err := os.MkdirTemp("", "perfengine-example-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	ctx := context.Background()
	s, err := store.OpenSQLite(dir, store.Retention{Raw: time.Hour, Aggregate: 24 * time.Hour})
	if err != nil {
		panic(err)
	}
	defer s.Close()

	now := time.Date(2026, 1, 2, 12, 0, 0, 0, time.UTC)
	var samples []metrics.Sample
	for i := range 6 { // two hours ago, one every 20 s
		samples = append(samples, metrics.Sample{
			Name: "cpu_percent", Value: float64(10 * (i + 1)), Unit: metrics.UnitPercent,
			Time: now.Add(-2*time.Hour + time.Duration(i)*20*time.Second),
		})
	}
	if err := s.WriteSamples(ctx, samples); err != nil {
		panic(err)
	}
	if err := s.Compact(ctx, now); err != nil {
		panic(err)
	}
	got, err := s.QuerySamples(ctx, store.SampleQuery{Name: "cpu_percent", To: now})
	if err != nil {
		panic(err)
	}
	for _, sm := range got {
		fmt.Println(sm.Time.Format(time.TimeOnly), sm.Value)
	}
	// Output:
	// 10:00:00 20
	// 10:01:00 50
}
