package scale

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// DefaultTolerance is the HPA's: no scaling while the usage ratio is
// within 10 % of 1.
const DefaultTolerance = 0.1

// PolicyType is how a Policy limits change: in instances or in percent of
// the count at the start of its period.
type PolicyType string

// Policy types, as the HPA's behavior field spells them.
const (
	PolicyPods    PolicyType = "Pods"
	PolicyPercent PolicyType = "Percent"
)

// Select chooses among several policies: the one allowing the largest
// change (Max, the default), the smallest (Min), or none (Disabled).
type Select string

// Policy selections.
const (
	SelectMax      Select = "Max"
	SelectMin      Select = "Min"
	SelectDisabled Select = "Disabled"
)

// Policy allows at most Value instances (or Value percent) of change
// within any Period.
type Policy struct {
	Type   PolicyType    `json:"type" yaml:"type"`
	Value  int           `json:"value" yaml:"value"`
	Period time.Duration `json:"period" yaml:"period"`
}

func (p Policy) String() string {
	unit := " instances"
	if p.Type == PolicyPercent {
		unit = "%"
	}
	return fmt.Sprintf("%s %d%s per %v", p.Type, p.Value, unit, p.Period)
}

// Rules are the HPA's scaling rules for one direction.
type Rules struct {
	// StabilizationWindow: a scale-up takes the lowest recommendation of
	// the window, a scale-down the highest, so a short swing does not
	// move the count.
	StabilizationWindow time.Duration `json:"stabilizationWindow" yaml:"stabilizationWindow"`
	Policies            []Policy      `json:"policies" yaml:"policies"`
	Select              Select        `json:"select" yaml:"select"`
	// Tolerance around a usage ratio of 1 inside which nothing changes;
	// zero means DefaultTolerance.
	Tolerance float64 `json:"tolerance" yaml:"tolerance"`
}

// Behavior is the HPA's behavior field: rules for each direction.
type Behavior struct {
	ScaleUp   Rules `json:"scaleUp" yaml:"scaleUp"`
	ScaleDown Rules `json:"scaleDown" yaml:"scaleDown"`
}

// DefaultBehavior is the HPA's default: scale up at once by 100 % or 4
// instances per 15 s, whichever is more; scale down to what the highest
// recommendation of the last 5 minutes allows, by up to 100 % per 15 s.
func DefaultBehavior() Behavior {
	return Behavior{
		ScaleUp: Rules{
			Policies: []Policy{{PolicyPercent, 100, 15 * time.Second}, {PolicyPods, 4, 15 * time.Second}},
			Select:   SelectMax,
		},
		ScaleDown: Rules{
			StabilizationWindow: 5 * time.Minute,
			Policies:            []Policy{{PolicyPercent, 100, 15 * time.Second}},
			Select:              SelectMax,
		},
	}
}

func (r Rules) validate(dir string) error {
	if r.StabilizationWindow < 0 || r.StabilizationWindow > time.Hour {
		return fmt.Errorf("scale: %s stabilization window %v must be 0 to 1h", dir, r.StabilizationWindow)
	}
	switch r.Select {
	case "", SelectMax, SelectMin, SelectDisabled:
	default:
		return fmt.Errorf("scale: %s select %q must be Max, Min or Disabled", dir, r.Select)
	}
	if r.Select != SelectDisabled && len(r.Policies) == 0 {
		return fmt.Errorf("scale: %s needs at least one policy", dir)
	}
	for _, p := range r.Policies {
		if p.Type != PolicyPods && p.Type != PolicyPercent {
			return fmt.Errorf("scale: %s policy type %q must be Pods or Percent", dir, p.Type)
		}
		if p.Value <= 0 || p.Period <= 0 || p.Period > 30*time.Minute {
			return fmt.Errorf("scale: %s policy %s needs a positive value and a period of up to 30m", dir, p)
		}
	}
	if r.Tolerance < 0 || r.Tolerance >= 1 {
		return fmt.Errorf("scale: %s tolerance %g must be in [0, 1)", dir, r.Tolerance)
	}
	return nil
}

func (r Rules) tolerance() float64 {
	if r.Tolerance == 0 {
		return DefaultTolerance
	}
	return r.Tolerance
}

// Metric is one observation the decision weighs: a per-instance average
// (CPU percent, memory ratio, response time) against its target.
type Metric struct {
	Name   string
	Target float64
	// Value is the average over the instances.
	Value float64
	// Instances, when set, are the per-instance values, NaN where an
	// instance reported none; Value is then ignored and the HPA's rules
	// for missing pods apply.
	Instances []float64
	// Err marks a metric that could not be read at all.
	Err error
}

// Proposal is what one metric asked for.
type Proposal struct {
	Metric   string  `json:"metric"`
	Value    float64 `json:"value"`
	Target   float64 `json:"target"`
	Ratio    float64 `json:"ratio"`
	Replicas int     `json:"replicas"`
	// Note says what shaped it: within tolerance, missing instances,
	// the ratio reversed by them, or the error of an unreadable metric.
	Note string `json:"note,omitempty"`
}

// Decision is one evaluation, explained.
type Decision struct {
	Time    time.Time `json:"time"`
	Current int       `json:"current"`
	// Desired is what the instances should be now; equal to Current when
	// nothing is to change.
	Desired int `json:"desired"`
	// Recommended is the largest proposal, before stabilization, policies
	// and bounds.
	Recommended int        `json:"recommended"`
	Proposals   []Proposal `json:"proposals"`
	// Metric is the one that decided, empty when none did.
	Metric string `json:"metric,omitempty"`
	// Limit names what held the count back, as the HPA's conditions do:
	// ScaleUpStabilized, ScaleDownStabilized, ScaleUpLimit,
	// ScaleDownLimit, TooManyReplicas, TooFewReplicas, or empty.
	Limit string `json:"limit,omitempty"`
	// HeldUntil is when a held change may happen at the earliest.
	HeldUntil time.Time `json:"heldUntil,omitzero"`
	// Reason is the whole explanation in one sentence.
	Reason string `json:"reason"`
}

// Rescale reports whether the decision changes the count.
func (d Decision) Rescale() bool { return d.Desired != d.Current }

// Controller is the HPA's algorithm for one scale target: it keeps the
// recent recommendations and scale events its stabilization windows and
// policies look back on. It is not safe for concurrent use.
type Controller struct {
	Min, Max int
	Behavior Behavior

	recommendations []stamped
	upEvents        []stamped
	downEvents      []stamped
}

type stamped struct {
	at time.Time
	n  int
}

// NewController validates the bounds and behavior.
func NewController(minInstances, maxInstances int, b Behavior) (*Controller, error) {
	if minInstances < 1 {
		return nil, fmt.Errorf("scale: minInstances %d must be at least 1", minInstances)
	}
	if maxInstances < minInstances {
		return nil, fmt.Errorf("scale: maxInstances %d is below minInstances %d", maxInstances, minInstances)
	}
	if err := errors.Join(b.ScaleUp.validate("scaleUp"), b.ScaleDown.validate("scaleDown")); err != nil {
		return nil, err
	}
	if b.ScaleUp.Select == "" {
		b.ScaleUp.Select = SelectMax
	}
	if b.ScaleDown.Select == "" {
		b.ScaleDown.Select = SelectMax
	}
	return &Controller{Min: minInstances, Max: maxInstances, Behavior: b}, nil
}

// Decide evaluates the metrics for current instances at now, as one loop
// of the HPA controller does, and records the recommendation for the
// stabilization windows. Call Scaled after the count changed.
func (c *Controller) Decide(now time.Time, current int, metrics []Metric) Decision {
	d := Decision{Time: now, Current: current, Desired: current}
	switch {
	case current == 0:
		d.Reason = "the target is scaled to 0: autoscaling is paused until it is scaled up by hand"
		return d
	case current > c.Max:
		d.Desired, d.Recommended, d.Limit = c.Max, c.Max, "TooManyReplicas"
		d.Reason = fmt.Sprintf("%d instances is above maxInstances %d", current, c.Max)
		return d
	case current < c.Min:
		d.Desired, d.Recommended, d.Limit = c.Min, c.Min, "TooFewReplicas"
		d.Reason = fmt.Sprintf("%d instances is below minInstances %d", current, c.Min)
		return d
	}
	recommended, invalid := 0, 0
	for _, m := range metrics {
		p := c.propose(current, m)
		d.Proposals = append(d.Proposals, p)
		if m.Err != nil || p.Replicas < 0 {
			invalid++
			continue
		}
		if p.Replicas > recommended {
			recommended, d.Metric = p.Replicas, m.Name
		}
	}
	if len(metrics) == 0 || invalid == len(metrics) || (invalid > 0 && recommended < current) {
		// The HPA's rule: scale up on the metrics it has, never down
		// without all of them.
		d.Recommended = current
		d.Metric = ""
		d.Reason = fmt.Sprintf("%d of %d metrics could not be read: no scale-down without all of them", invalid, len(metrics))
		if len(metrics) == 0 {
			d.Reason = "no metrics"
		}
		return d
	}
	d.Recommended = recommended
	stabilized, limit, held := c.stabilize(now, current, recommended)
	desired, rateLimit, rateHeld := c.limitRate(now, current, stabilized)
	if rateLimit != "" {
		limit, held = rateLimit, rateHeld
	}
	d.Desired, d.Limit, d.HeldUntil = desired, limit, held
	d.Reason = c.explain(d, stabilized)
	return d
}

// propose is the replica calculator for one metric.
func (c *Controller) propose(current int, m Metric) Proposal {
	p := Proposal{Metric: m.Name, Target: m.Target, Replicas: current}
	if m.Err != nil {
		p.Replicas, p.Note = -1, "unreadable: "+m.Err.Error()
		return p
	}
	if m.Target <= 0 {
		p.Replicas, p.Note = -1, "no target"
		return p
	}
	if len(m.Instances) == 0 {
		p.Value = m.Value
		p.Ratio = m.Value / m.Target
		tol := c.toleranceFor(p.Ratio)
		if math.IsNaN(p.Ratio) || math.IsInf(p.Ratio, 0) {
			p.Replicas, p.Note = -1, "no value"
			return p
		}
		if math.Abs(1-p.Ratio) <= tol {
			p.Note = fmt.Sprintf("within the %.0f%% tolerance", tol*100)
			return p
		}
		p.Replicas = int(math.Ceil(p.Ratio * float64(current)))
		return p
	}
	var sum float64
	ready, missing := 0, 0
	for _, v := range m.Instances {
		if math.IsNaN(v) {
			missing++
			continue
		}
		sum += v
		ready++
	}
	if ready == 0 {
		p.Replicas, p.Note = -1, "no instance reported a value"
		return p
	}
	p.Value = sum / float64(ready)
	p.Ratio = p.Value / m.Target
	tol := c.toleranceFor(p.Ratio)
	if missing == 0 {
		if math.Abs(1-p.Ratio) <= tol {
			p.Note = fmt.Sprintf("within the %.0f%% tolerance", tol*100)
			return p
		}
		p.Replicas = int(math.Ceil(p.Ratio * float64(ready)))
		return p
	}
	// Missing instances count as at the target on a scale-down and as
	// idle on a scale-up, which dampens the change either way.
	fill := 0.0
	if p.Ratio < 1 {
		fill = m.Target
	}
	newRatio := (sum + fill*float64(missing)) / float64(ready+missing) / m.Target
	switch {
	case math.Abs(1-newRatio) <= tol:
		p.Note = fmt.Sprintf("%d instances without a value: within the tolerance once counted", missing)
		return p
	case (p.Ratio < 1 && newRatio > 1) || (p.Ratio > 1 && newRatio < 1):
		p.Note = fmt.Sprintf("%d instances without a value reverse the direction: no change", missing)
		return p
	}
	n := int(math.Ceil(newRatio * float64(ready+missing)))
	if (newRatio < 1 && n > current) || (newRatio > 1 && n < current) {
		p.Note = fmt.Sprintf("%d instances without a value: no change", missing)
		return p
	}
	p.Ratio, p.Replicas = newRatio, n
	p.Note = fmt.Sprintf("%d instances without a value counted as %s", missing, map[bool]string{true: "at the target", false: "idle"}[fill > 0])
	return p
}

func (c *Controller) toleranceFor(ratio float64) float64 {
	if ratio > 1 {
		return c.Behavior.ScaleUp.tolerance()
	}
	return c.Behavior.ScaleDown.tolerance()
}

// stabilize is the HPA's stabilizeRecommendationWithBehaviors: the lowest
// recommendation of the scale-up window, or the highest of the
// scale-down window, this one included; then it records this one.
func (c *Controller) stabilize(now time.Time, current, recommended int) (int, string, time.Time) {
	up := recommended >= current
	window := c.Behavior.ScaleDown.StabilizationWindow
	if up {
		window = c.Behavior.ScaleUp.StabilizationWindow
	}
	out, limit := recommended, ""
	var held time.Time
	cutoff := now.Add(-window)
	for _, r := range c.recommendations {
		if !r.at.After(cutoff) {
			continue
		}
		if (up && r.n < out) || (!up && r.n > out) {
			out = r.n
			// The change waits for this recommendation to leave the window.
			held = r.at.Add(window)
		}
	}
	if out != recommended {
		limit = "ScaleDownStabilized"
		if up {
			limit = "ScaleUpStabilized"
		}
		// The latest of the recommendations that held it back.
		for _, r := range c.recommendations {
			if r.at.After(cutoff) && ((up && r.n < recommended) || (!up && r.n > recommended)) && r.at.Add(window).After(held) {
				held = r.at.Add(window)
			}
		}
	}
	keep := max(c.Behavior.ScaleUp.StabilizationWindow, c.Behavior.ScaleDown.StabilizationWindow)
	c.recommendations = prune(c.recommendations, now.Add(-keep))
	c.recommendations = append(c.recommendations, stamped{now, recommended})
	return out, limit, held
}

// limitRate is convertDesiredReplicasWithBehaviorRate: the policies of the
// direction and the bounds.
func (c *Controller) limitRate(now time.Time, current, desired int) (int, string, time.Time) {
	switch {
	case desired > current:
		limit, held := c.upLimit(now, current)
		if limit < current {
			limit = current
		}
		maxAllowed, reason := c.Max, "TooManyReplicas"
		if maxAllowed > limit {
			maxAllowed, reason = limit, "ScaleUpLimit"
		}
		if desired > maxAllowed {
			if reason != "ScaleUpLimit" {
				held = time.Time{}
			}
			return maxAllowed, reason, held
		}
	case desired < current:
		limit, held := c.downLimit(now, current)
		if limit > current {
			limit = current
		}
		minAllowed, reason := c.Min, "TooFewReplicas"
		if minAllowed < limit {
			minAllowed, reason = limit, "ScaleDownLimit"
		}
		if desired < minAllowed {
			if reason != "ScaleDownLimit" {
				held = time.Time{}
			}
			return minAllowed, reason, held
		}
	}
	return desired, "", time.Time{}
}

// upLimit is calculateScaleUpLimitWithScalingRules, with when the events
// that hold it back leave their periods.
func (c *Controller) upLimit(now time.Time, current int) (int, time.Time) {
	r := c.Behavior.ScaleUp
	if r.Select == SelectDisabled {
		return current, time.Time{}
	}
	result, first := 0, true
	var held time.Time
	for _, p := range r.Policies {
		added, oldest := changeInPeriod(c.upEvents, now, p.Period)
		start := current - added
		var proposed int
		if p.Type == PolicyPods {
			proposed = start + p.Value
		} else {
			proposed = int(math.Ceil(float64(start) * (1 + float64(p.Value)/100)))
		}
		if first || (r.Select == SelectMin && proposed < result) || (r.Select != SelectMin && proposed > result) {
			result, first = proposed, false
			held = time.Time{}
			if added > 0 {
				held = oldest.Add(p.Period)
			}
		}
	}
	return result, held
}

// downLimit is calculateScaleDownLimitWithBehaviors.
func (c *Controller) downLimit(now time.Time, current int) (int, time.Time) {
	r := c.Behavior.ScaleDown
	if r.Select == SelectDisabled {
		return current, time.Time{}
	}
	result, first := math.MaxInt, true
	var held time.Time
	for _, p := range r.Policies {
		removed, oldest := changeInPeriod(c.downEvents, now, p.Period)
		start := current + removed
		var proposed int
		if p.Type == PolicyPods {
			proposed = start - p.Value
		} else {
			proposed = int(float64(start) * (1 - float64(p.Value)/100))
		}
		if first || (r.Select == SelectMin && proposed > result) || (r.Select != SelectMin && proposed < result) {
			result, first = proposed, false
			held = time.Time{}
			if removed > 0 {
				held = oldest.Add(p.Period)
			}
		}
	}
	return result, held
}

// changeInPeriod sums the changes of the events within the last period
// and returns the oldest of them.
func changeInPeriod(events []stamped, now time.Time, period time.Duration) (int, time.Time) {
	cutoff := now.Add(-period)
	sum := 0
	var oldest time.Time
	for _, e := range events {
		if e.at.After(cutoff) {
			sum += e.n
			if oldest.IsZero() || e.at.Before(oldest) {
				oldest = e.at
			}
		}
	}
	return sum, oldest
}

func prune(s []stamped, cutoff time.Time) []stamped {
	out := s[:0]
	for _, e := range s {
		if e.at.After(cutoff) {
			out = append(out, e)
		}
	}
	return out
}

// Continue takes over the recommendations and scale events of the
// controller this one replaces (new bounds or behavior), so its windows and
// periods still see what was just decided and done.
func (c *Controller) Continue(prev *Controller) {
	if prev == nil || prev == c {
		return
	}
	c.recommendations = append([]stamped(nil), prev.recommendations...)
	c.upEvents = append([]stamped(nil), prev.upEvents...)
	c.downEvents = append([]stamped(nil), prev.downEvents...)
}

// Scaled records a change of the count, for the policies' periods (the
// HPA's storeScaleEvent).
func (c *Controller) Scaled(now time.Time, from, to int) {
	longest := func(r Rules) time.Duration {
		var l time.Duration
		for _, p := range r.Policies {
			l = max(l, p.Period)
		}
		return l
	}
	switch {
	case to > from:
		c.upEvents = append(prune(c.upEvents, now.Add(-longest(c.Behavior.ScaleUp))), stamped{now, to - from})
	case to < from:
		c.downEvents = append(prune(c.downEvents, now.Add(-longest(c.Behavior.ScaleDown))), stamped{now, from - to})
	}
}

// explain writes the decision's reason: which metric, which tolerance,
// window, policy or bound decided it.
func (c *Controller) explain(d Decision, stabilized int) string {
	var b strings.Builder
	var decider *Proposal
	for i := range d.Proposals {
		if d.Proposals[i].Metric == d.Metric {
			decider = &d.Proposals[i]
		}
	}
	switch {
	case decider == nil:
		b.WriteString("no metric asked for a change")
	case decider.Replicas == d.Current && decider.Note != "":
		fmt.Fprintf(&b, "%s %.4g against target %.4g (ratio %.2f): %s", decider.Metric, decider.Value, decider.Target, decider.Ratio, decider.Note)
	default:
		fmt.Fprintf(&b, "%s %.4g against target %.4g: ceil(%d × %.3f) = %d", decider.Metric, decider.Value, decider.Target, d.Current, decider.Ratio, decider.Replicas)
		if decider.Note != "" {
			b.WriteString(" (" + decider.Note + ")")
		}
	}
	if stabilized != d.Recommended {
		w := c.Behavior.ScaleDown.StabilizationWindow
		word := "highest"
		if d.Recommended >= d.Current {
			w, word = c.Behavior.ScaleUp.StabilizationWindow, "lowest"
		}
		fmt.Fprintf(&b, "; the %s recommendation of the last %v is %d", word, w, stabilized)
	}
	switch d.Limit {
	case "ScaleUpLimit":
		fmt.Fprintf(&b, "; scale-up policies (%s) allow %d now", policies(c.Behavior.ScaleUp), d.Desired)
	case "ScaleDownLimit":
		fmt.Fprintf(&b, "; scale-down policies (%s) allow %d now", policies(c.Behavior.ScaleDown), d.Desired)
	case "TooManyReplicas":
		fmt.Fprintf(&b, "; capped at maxInstances %d", c.Max)
	case "TooFewReplicas":
		fmt.Fprintf(&b, "; kept at minInstances %d", c.Min)
	}
	if !d.HeldUntil.IsZero() && d.Desired != stabilized {
		fmt.Fprintf(&b, " (more after %s)", d.HeldUntil.UTC().Format(time.RFC3339))
	} else if !d.HeldUntil.IsZero() {
		fmt.Fprintf(&b, " (until %s)", d.HeldUntil.UTC().Format(time.RFC3339))
	}
	switch {
	case d.Desired > d.Current:
		fmt.Fprintf(&b, ": scale up %d → %d", d.Current, d.Desired)
	case d.Desired < d.Current:
		fmt.Fprintf(&b, ": scale down %d → %d", d.Current, d.Desired)
	default:
		fmt.Fprintf(&b, ": stay at %d", d.Current)
	}
	return b.String()
}

func policies(r Rules) string {
	if r.Select == SelectDisabled {
		return "disabled"
	}
	var parts []string
	for _, p := range r.Policies {
		parts = append(parts, p.String())
	}
	return strings.Join(parts, ", ") + ", select " + string(r.Select)
}
