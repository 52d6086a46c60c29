package scale

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

func controller(t *testing.T, minN, maxN int, b Behavior) *Controller {
	t.Helper()
	c, err := NewController(minN, maxN, b)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The worked examples of the HPA documentation's algorithm details:
// desiredReplicas = ceil[currentReplicas × (currentMetricValue /
// desiredMetricValue)], skipped within the 0.1 tolerance.
func TestAlgorithmDetailsExamples(t *testing.T) {
	noWindow := DefaultBehavior()
	noWindow.ScaleDown.StabilizationWindow = 0
	for _, tc := range []struct {
		name           string
		current        int
		value, target  float64
		want           int
		wantNoteSubstr string
	}{
		{"200m against 100m doubles", 4, 200, 100, 8, ""},
		{"50m against 100m halves", 4, 50, 100, 2, ""},
		{"ratio 1.05 is within the tolerance", 4, 105, 100, 4, "tolerance"},
		{"ratio 0.92 is within the tolerance", 4, 92, 100, 4, "tolerance"},
		{"ratio 1.11 is not", 10, 111, 100, 12, ""},
		{"ceil rounds up", 3, 130, 100, 4, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := controller(t, 1, 100, noWindow)
			d := c.Decide(t0, tc.current, []Metric{{Name: "cpu", Value: tc.value, Target: tc.target}})
			if d.Desired != tc.want {
				t.Errorf("desired %d, want %d (%s)", d.Desired, tc.want, d.Reason)
			}
			if !strings.Contains(d.Reason, tc.wantNoteSubstr) {
				t.Errorf("reason %q, want it to mention %q", d.Reason, tc.wantNoteSubstr)
			}
		})
	}
}

// "If multiple metrics are specified ... the largest of the desired
// replica counts is chosen. If any of these metrics cannot be converted
// into a desired replica count and a scale down is suggested by the
// metrics which can be fetched, scaling is skipped."
func TestMultipleAndMissingMetrics(t *testing.T) {
	noWindow := DefaultBehavior()
	noWindow.ScaleDown.StabilizationWindow = 0
	broken := Metric{Name: "memory", Err: errors.New("scrape failed")}
	for _, tc := range []struct {
		name    string
		metrics []Metric
		want    int
		metric  string
	}{
		// Latency asks for 12, more than cpu's 8; the default scale-up
		// policy (100 % or 4 per 15 s) allows 8 of them now.
		{"largest proposal wins", []Metric{{Name: "cpu", Value: 160, Target: 80}, {Name: "latency", Value: 3000, Target: 1000}}, 8, "latency"},
		{"scale up on what can be read", []Metric{{Name: "cpu", Value: 160, Target: 80}, broken}, 8, "cpu"},
		{"no scale down without every metric", []Metric{{Name: "cpu", Value: 20, Target: 80}, broken}, 4, ""},
		{"nothing readable", []Metric{broken}, 4, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := controller(t, 1, 100, noWindow)
			d := c.Decide(t0, 4, tc.metrics)
			if d.Desired != tc.want || d.Metric != tc.metric {
				t.Errorf("desired %d by %q, want %d by %q (%s)", d.Desired, d.Metric, tc.want, tc.metric, d.Reason)
			}
		})
	}
}

// "If there were any missing metrics, the control plane recomputes the
// average more conservatively, assuming those pods were consuming 100% of
// the desired value in case of a scale down, and 0% in case of a scale
// up. ... If the new ratio reverses the scale direction, or is within the
// tolerance, the controller doesn't take any scaling action."
func TestMissingInstances(t *testing.T) {
	noWindow := DefaultBehavior()
	noWindow.ScaleDown.StabilizationWindow = 0
	nan := math.NaN()
	for _, tc := range []struct {
		name      string
		instances []float64
		want      int
	}{
		// Up: 3 ready at 100 against 50 (ratio 2); the missing one counts
		// as 0: (300 + 0) / 4 / 50 = 1.5, ceil(1.5 × 4) = 6.
		{"scale up, missing as idle", []float64{100, 100, 100, nan}, 6},
		// Down: 3 ready at 10 against 50 (0.2); the missing one counts at
		// the target: (30 + 50) / 4 / 50 = 0.4, ceil(0.4 × 4) = 2.
		{"scale down, missing at the target", []float64{10, 10, 10, nan}, 2},
		// Up a little: 60 against 50 (1.2); with the missing one at 0:
		// 180 / 4 / 50 = 0.9, the direction reverses: no change.
		{"direction reversed", []float64{60, 60, 60, nan}, 4},
		// 52 against 50 is within tolerance anyway.
		{"within tolerance", []float64{52, 52, 52, 52}, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := controller(t, 1, 100, noWindow)
			d := c.Decide(t0, 4, []Metric{{Name: "cpu", Target: 50, Instances: tc.instances}})
			if d.Desired != tc.want {
				t.Errorf("desired %d, want %d (%s)", d.Desired, tc.want, d.Reason)
			}
		})
	}
}

// The documentation's scaling-policy example: Pods 4 and Percent 10 per
// 60 s, select Max; from 80 replicas to 10 the first step removes 8, at
// 72 the next removes 8 again (7.2 rounded up), and below 40 the Pods
// policy takes over, 4 at a time.
func TestScaleDownPolicyExample(t *testing.T) {
	b := DefaultBehavior()
	b.ScaleDown = Rules{Policies: []Policy{{PolicyPods, 4, time.Minute}, {PolicyPercent, 10, time.Minute}}}
	c := controller(t, 1, 100, b)
	current := 80
	var steps []int
	now := t0
	for range 100 {
		// The metric asks for 10 replicas whatever the count: value/target = 10/current.
		d := c.Decide(now, current, []Metric{{Name: "cpu", Value: 10 * 50 / float64(current), Target: 50}})
		if d.Rescale() {
			c.Scaled(now, current, d.Desired)
			current = d.Desired
			steps = append(steps, current)
		}
		now = now.Add(15 * time.Second)
		if current == 10 {
			break
		}
	}
	want := []int{72, 64, 57, 51, 45, 40, 36, 32, 28, 24, 20, 16, 12, 10}
	if !equal(steps, want) {
		t.Errorf("scale-down steps %v, want %v", steps, want)
	}
}

// Within one period the policy counts what was already removed: a second
// loop 15 s after the first scale-down removes nothing more, and the
// decision says until when it is held.
func TestPolicyPeriodHoldsTheNextStep(t *testing.T) {
	b := DefaultBehavior()
	b.ScaleDown = Rules{Policies: []Policy{{PolicyPercent, 10, time.Minute}}}
	c := controller(t, 1, 100, b)
	m := []Metric{{Name: "cpu", Value: 5, Target: 50}}
	d := c.Decide(t0, 80, m)
	if d.Desired != 72 {
		t.Fatalf("first step %d, want 72", d.Desired)
	}
	c.Scaled(t0, 80, 72)
	d = c.Decide(t0.Add(15*time.Second), 72, m)
	if d.Desired != 72 || d.Limit != "ScaleDownLimit" || !d.HeldUntil.Equal(t0.Add(time.Minute)) {
		t.Errorf("15 s later: %d, %s until %v; want 72 held by ScaleDownLimit until %v (%s)", d.Desired, d.Limit, d.HeldUntil, t0.Add(time.Minute), d.Reason)
	}
}

// "Setting selectPolicy to Min means that the autoscaler chooses the
// policy that affects the smallest number of Pods": Percent 10 and Pods 5
// per minute from 80 removes 5, not 8.
func TestSelectMinExample(t *testing.T) {
	b := DefaultBehavior()
	b.ScaleDown = Rules{Policies: []Policy{{PolicyPercent, 10, time.Minute}, {PolicyPods, 5, time.Minute}}, Select: SelectMin}
	c := controller(t, 1, 100, b)
	if d := c.Decide(t0, 80, []Metric{{Name: "cpu", Value: 5, Target: 50}}); d.Desired != 75 {
		t.Errorf("desired %d, want 75 (%s)", d.Desired, d.Reason)
	}
}

// "The selectPolicy value of Disabled turns off scaling the given
// direction."
func TestDisabledScaleDown(t *testing.T) {
	b := DefaultBehavior()
	b.ScaleDown = Rules{Select: SelectDisabled}
	c := controller(t, 1, 100, b)
	if d := c.Decide(t0, 8, []Metric{{Name: "cpu", Value: 5, Target: 50}}); d.Desired != 8 {
		t.Errorf("desired %d, want 8 with scale-down disabled", d.Desired)
	}
	if d := c.Decide(t0, 8, []Metric{{Name: "cpu", Value: 100, Target: 50}}); d.Desired != 16 {
		t.Errorf("desired %d, want 16: scaling up still works", d.Desired)
	}
}

// The default behavior: scale up by the larger of 100 % and 4 pods per
// 15 s, at once; scale down only to the highest recommendation of the
// last 5 minutes.
func TestDefaultBehavior(t *testing.T) {
	// From 2 with a ratio of 10: 100 % would allow 4, 4 pods allow 6.
	c := controller(t, 1, 100, DefaultBehavior())
	d := c.Decide(t0, 2, []Metric{{Name: "cpu", Value: 500, Target: 50}})
	if d.Recommended != 20 || d.Desired != 6 || d.Limit != "ScaleUpLimit" {
		t.Fatalf("from 2: %d of %d (%s), want 6 of 20 by ScaleUpLimit (%s)", d.Desired, d.Recommended, d.Limit, d.Reason)
	}

	c = controller(t, 1, 100, DefaultBehavior())
	d = c.Decide(t0, 2, []Metric{{Name: "cpu", Value: 150, Target: 50}})
	if d.Desired != 6 {
		t.Fatalf("first step %d, want 6 (%s)", d.Desired, d.Reason)
	}
	c.Scaled(t0, 2, 6)
	// 15 s later the period has passed: 100 % of 6 allows 12.
	d = c.Decide(t0.Add(15*time.Second), 6, []Metric{{Name: "cpu", Value: 100, Target: 50}})
	if d.Desired != 12 {
		t.Fatalf("second step %d, want 12 (%s)", d.Desired, d.Reason)
	}
	c.Scaled(t0.Add(15*time.Second), 6, 12)
	// Load drops: the highest recommendation of the last 5 minutes (12)
	// holds the count.
	low := []Metric{{Name: "cpu", Value: 10, Target: 50}}
	d = c.Decide(t0.Add(time.Minute), 12, low)
	if d.Desired != 12 || d.Limit != "ScaleDownStabilized" {
		t.Fatalf("a minute later: %d (%s), want 12 held by the window (%s)", d.Desired, d.Limit, d.Reason)
	}
	if want := t0.Add(15*time.Second + 5*time.Minute); !d.HeldUntil.Equal(want) {
		t.Errorf("held until %v, want %v", d.HeldUntil, want)
	}
	d = c.Decide(t0.Add(6*time.Minute), 12, low)
	if d.Desired != 3 {
		t.Errorf("after the window: %d, want 3 (%s)", d.Desired, d.Reason)
	}
}

// "To provide a custom downscale stabilization window of 1 minute."
func TestCustomDownscaleWindow(t *testing.T) {
	b := DefaultBehavior()
	b.ScaleDown.StabilizationWindow = time.Minute
	c := controller(t, 1, 100, b)
	c.Decide(t0, 10, []Metric{{Name: "cpu", Value: 50, Target: 50}}) // steady: recommends 10
	low := []Metric{{Name: "cpu", Value: 25, Target: 50}}
	if d := c.Decide(t0.Add(30*time.Second), 10, low); d.Desired != 10 {
		t.Errorf("30 s later: %d, want 10", d.Desired)
	}
	if d := c.Decide(t0.Add(61*time.Second), 10, low); d.Desired != 5 {
		t.Errorf("61 s later: %d, want 5 (%s)", d.Desired, d.Reason)
	}
}

func TestBounds(t *testing.T) {
	c := controller(t, 2, 10, DefaultBehavior())
	for _, tc := range []struct {
		current int
		value   float64
		want    int
		limit   string
	}{
		{12, 50, 10, "TooManyReplicas"},
		{1, 50, 2, "TooFewReplicas"},
		{8, 500, 10, "TooManyReplicas"},
		{0, 500, 0, ""},
	} {
		d := c.Decide(t0, tc.current, []Metric{{Name: "cpu", Value: tc.value, Target: 50}})
		if d.Desired != tc.want || d.Limit != tc.limit {
			t.Errorf("from %d at %g: %d %s, want %d %s (%s)", tc.current, tc.value, d.Desired, d.Limit, tc.want, tc.limit, d.Reason)
		}
	}
}

func TestNewControllerRefusesBadConfig(t *testing.T) {
	bad := DefaultBehavior()
	bad.ScaleUp.Policies = []Policy{{PolicyPercent, 0, time.Minute}}
	for _, tc := range []struct {
		min, max int
		b        Behavior
		want     string
	}{
		{3, 2, DefaultBehavior(), "maxInstances"},
		{0, 2, DefaultBehavior(), "minInstances"},
		{1, 2, bad, "scaleUp policy"},
		{1, 2, Behavior{ScaleUp: Rules{Select: "Sometimes"}}, "select"},
		{1, 2, Behavior{ScaleDown: Rules{StabilizationWindow: -time.Second, Policies: DefaultBehavior().ScaleDown.Policies}}, "stabilization"},
	} {
		if _, err := NewController(tc.min, tc.max, tc.b); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewController(%d, %d, ...) = %v, want an error about %s", tc.min, tc.max, err, tc.want)
		}
	}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
