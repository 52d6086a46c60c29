package scale

import (
	"math"
	"testing"
	"testing/synctest"
	"time"
)

// The simulated service: each instance serves up to capacity requests per
// second at 100 % CPU, and its p95 grows as a queue's does when it fills.
const (
	capacity     = 100.0 // requests/s per instance at 100 % CPU
	baseLatency  = 60.0  // ms, idle
	startupDelay = time.Minute
	loop         = 15 * time.Second
	rtThreshold  = 1000.0 // ms, the autoscaler's responseTimeThreshold
)

func latency(load float64, instances int) (cpu, p95 float64) {
	util := load / (float64(instances) * capacity)
	cpu = min(util, 1) * 100
	p95 = baseLatency / (1 - min(util, 0.985))
	return cpu, p95
}

// traces are load shapes over a day, in requests per second.
var traces = map[string]func(time.Duration) float64{
	// One peak in the afternoon, and a 20-minute spike at 20:00 (a
	// campaign) at three times the evening load.
	"diurnal with a spike": func(t time.Duration) float64 {
		h := t.Hours()
		load := 150 + 450*math.Max(0, math.Sin((h-6)/16*math.Pi))
		if h >= 20 && h < 20+1.0/3 {
			load *= 3
		}
		return load
	},
	// Held out: two office-hour peaks and a flash crowd at 11:00 that
	// ramps in two minutes, plus minute-scale noise.
	"two peaks and a flash crowd": func(t time.Duration) float64 {
		h := t.Hours()
		load := 120 + 380*math.Exp(-math.Pow((h-10)/1.5, 2)) + 420*math.Exp(-math.Pow((h-16)/2, 2))
		if h >= 11 && h < 11.5 {
			load += 500 * math.Min(1, (h-11)*30)
		}
		return load + 30*math.Sin(t.Minutes()*1.7)
	},
}

// scaler is one policy under test: it sees CPU and p95 each loop and
// returns the count it orders.
type scaler interface {
	order(now time.Time, current int, cpu, p95 float64) int
}

type hpa struct{ c *Controller }

func (h hpa) order(now time.Time, current int, cpu, p95 float64) int {
	d := h.c.Decide(now, current, []Metric{{Name: "cpu", Value: cpu, Target: 80}, {Name: "response_time", Value: p95, Target: rtThreshold}})
	if d.Rescale() {
		h.c.Scaled(now, current, d.Desired)
	}
	return d.Desired
}

// naive adds one instance above 80 % CPU or the latency threshold and
// removes one below 40 %, every loop, with no stabilization.
type naive struct{}

func (naive) order(_ time.Time, current int, cpu, p95 float64) int {
	switch {
	case (cpu > 80 || p95 > rtThreshold) && current < 10:
		return current + 1
	case cpu < 40 && current > 2:
		return current - 1
	}
	return current
}

type fixed struct{ n int }

func (f fixed) order(time.Time, int, float64, float64) int { return f.n }

type dayResult struct {
	instanceMinutes float64
	overThreshold   time.Duration
	events          int
	// flaps are reversals (up then down, or down then up) within 10
	// minutes of the previous change.
	flaps int
}

// runDay replays a day through a scaler with synctest's clock: orders take
// startupDelay to add capacity (removals are at once).
func runDay(t *testing.T, load func(time.Duration) float64, s scaler, start int) dayResult {
	var r dayResult
	synctest.Test(t, func(t *testing.T) {
		begin := time.Now()
		running, ordered := start, start
		type pending struct {
			at time.Time
			n  int
		}
		var arriving []pending
		var lastAt time.Time
		lastDir := 0
		for time.Since(begin) < 24*time.Hour {
			now := time.Now()
			for len(arriving) > 0 && !arriving[0].at.After(now) {
				running = arriving[0].n
				arriving = arriving[1:]
			}
			cpu, p95 := latency(load(now.Sub(begin)), running)
			if p95 > rtThreshold {
				r.overThreshold += loop
			}
			r.instanceMinutes += float64(max(running, ordered)) * loop.Minutes()
			next := s.order(now, ordered, cpu, p95)
			if next != ordered {
				r.events++
				dir := 1
				if next < ordered {
					dir = -1
				}
				if lastDir != 0 && dir != lastDir && now.Sub(lastAt) < 10*time.Minute {
					r.flaps++
				}
				lastDir, lastAt = dir, now
				if next > ordered {
					arriving = append(arriving, pending{now.Add(startupDelay), next})
				} else {
					running = next
					arriving = nil
				}
				ordered = next
			}
			time.Sleep(loop)
		}
	})
	return r
}

// TestDiurnalDay compares the HPA autoscaler, with the seed's settings
// (2 to 10 instances, CPU 80 %, p95 1000 ms, 5 min up, 10 min down), with
// a fixed fleet at maxInstances and with a naive threshold scaler.
func TestDiurnalDay(t *testing.T) {
	b := DefaultBehavior()
	for i := range b.ScaleUp.Policies {
		b.ScaleUp.Policies[i].Period = 5 * time.Minute
	}
	b.ScaleDown.StabilizationWindow = 10 * time.Minute
	for _, name := range []string{"diurnal with a spike", "two peaks and a flash crowd"} {
		load := traces[name]
		c, err := NewController(2, 10, b)
		if err != nil {
			t.Fatal(err)
		}
		auto := runDay(t, load, hpa{c}, 2)
		full := runDay(t, load, fixed{10}, 10)
		flap := runDay(t, load, naive{}, 2)
		t.Logf("%s: instance-minutes / minutes over %v ms / scale events / flaps", name, rtThreshold)
		for _, row := range []struct {
			who string
			r   dayResult
		}{{"HPA autoscaler", auto}, {"fixed at 10", full}, {"naive threshold", flap}} {
			t.Logf("  %-16s %7.0f  %5.1f  %4d  %3d", row.who, row.r.instanceMinutes, row.r.overThreshold.Minutes(), row.r.events, row.r.flaps)
		}
		if auto.instanceMinutes >= full.instanceMinutes {
			t.Errorf("%s: the autoscaler used %.0f instance-minutes, no fewer than a fleet fixed at the maximum (%.0f)", name, auto.instanceMinutes, full.instanceMinutes)
		}
		if auto.flaps != 0 {
			t.Errorf("%s: the autoscaler reversed itself %d times within 10 minutes", name, auto.flaps)
		}
		if auto.overThreshold > flap.overThreshold {
			t.Errorf("%s: over the threshold for %v, longer than the naive scaler (%v)", name, auto.overThreshold, flap.overThreshold)
		}
	}
}
