package store

// Run with:
//
//	go test -run '^$' -bench WriteSamples -benchtime 2000x ./store/

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/perfengine/perfengine/internal/pgtest"
	"github.com/perfengine/perfengine/metrics"
)

// benchBatch is what one engine tick writes: 100 samples over 20 series.
func benchBatch(i int, t0 time.Time) []metrics.Sample {
	batch := make([]metrics.Sample, 100)
	for j := range batch {
		batch[j] = metrics.Sample{
			Name:   metrics.ResponseTimeMs,
			Value:  float64(j),
			Unit:   metrics.UnitMilliseconds,
			Labels: map[string]string{"route": fmt.Sprintf("GET /api/r%d", j%20)},
			Time:   t0.Add(time.Duration(i*100+j) * time.Millisecond),
		}
	}
	return batch
}

func BenchmarkWriteSamples(b *testing.B) {
	open := []struct {
		name string
		open func(b *testing.B) Store
	}{
		{"sqlite-normal", func(b *testing.B) Store {
			s, err := openSQLite(filepath.Join(b.TempDir(), "b.db"), Retention{}, "NORMAL")
			if err != nil {
				b.Fatal(err)
			}
			return s
		}},
		{"sqlite-full", func(b *testing.B) Store {
			s, err := openSQLite(filepath.Join(b.TempDir(), "b.db"), Retention{}, "FULL")
			if err != nil {
				b.Fatal(err)
			}
			return s
		}},
		{"postgres", func(b *testing.B) Store {
			s, err := OpenPostgres(context.Background(), pgtest.NewDatabase(b), Retention{})
			if err != nil {
				b.Fatal(err)
			}
			return s
		}},
	}
	for _, o := range open {
		b.Run(o.name+"/batch=100", func(b *testing.B) {
			s := o.open(b)
			defer s.Close()
			ctx := context.Background()
			t0 := time.Now()
			batches := make([][]metrics.Sample, 64)
			for i := range batches {
				batches[i] = benchBatch(i, t0)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if err := s.WriteSamples(ctx, batches[i%len(batches)]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "samples/s")
		})
	}
}

func BenchmarkQuerySamples(b *testing.B) {
	s, err := OpenSQLite(filepath.Join(b.TempDir(), "q.db"), Retention{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	t0 := time.Now().Add(-time.Hour)
	for i := range 100 { // 10,000 samples, 500 per route
		if err := s.WriteSamples(ctx, benchBatch(i, t0)); err != nil {
			b.Fatal(err)
		}
	}
	q := SampleQuery{Name: metrics.ResponseTimeMs, Labels: map[string]string{"route": "GET /api/r3"}, Limit: 60}
	b.ReportAllocs()
	for b.Loop() {
		got, err := s.QuerySamples(ctx, q)
		if err != nil || len(got) != 60 {
			b.Fatalf("QuerySamples = %d samples, %v", len(got), err)
		}
	}
}

// BenchmarkCompact folds 10 minutes of 20 series sampled every second
// (12,000 raw rows, 200 aggregates) that have passed the raw retention.
//
//	go test -run '^$' -bench Compact -benchtime 5x ./store/
func BenchmarkCompact(b *testing.B) {
	s, err := OpenSQLite(filepath.Join(b.TempDir(), "c.db"), Retention{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	now := time.Now()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		t0 := now.Add(-25 * time.Hour).Add(time.Duration(i) * 10 * time.Minute)
		for j := range 120 { // 120 batches of 100 = 600 s of 20 series
			batch := benchBatch(0, t0)
			for k := range batch {
				batch[k].Time = t0.Add(time.Duration(j*5+k/20) * time.Second)
			}
			if err := s.WriteSamples(ctx, batch); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		if err := s.Compact(ctx, now.Add(time.Duration(i)*10*time.Minute)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(12000*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
