package scale_test

import (
	"context"
	"fmt"
	"time"

	"github.com/perfengine/perfengine/scale"
)

// The HPA's documented example: at twice the target the count doubles, at
// half of it it halves, once the scale-down window allows.
func ExampleController() {
	b := scale.DefaultBehavior()
	b.ScaleDown.StabilizationWindow = time.Minute
	c, err := scale.NewController(2, 10, b)
	if err != nil {
		panic(err)
	}
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	d := c.Decide(now, 4, []scale.Metric{{Name: "cpu", Value: 160, Target: 80}})
	fmt.Println(d.Reason)
	c.Scaled(now, 4, d.Desired)

	d = c.Decide(now.Add(30*time.Second), 8, []scale.Metric{{Name: "cpu", Value: 40, Target: 80}})
	fmt.Println(d.Limit, d.Desired)
	d = c.Decide(now.Add(2*time.Minute), 8, []scale.Metric{{Name: "cpu", Value: 40, Target: 80}})
	fmt.Println(d.Reason)
	// Output:
	// cpu 160 against target 80: ceil(4 × 2.000) = 8: scale up 4 → 8
	// ScaleDownStabilized 8
	// cpu 40 against target 80: ceil(8 × 0.500) = 4: scale down 8 → 4
}

// A command actuator runs a program with the count; no shell is involved.
func ExampleCommand() {
	c := &scale.Command{Argv: []string{"echo", "scaling to", "{instances}"}}
	err := c.Scale(context.Background(), scale.Change{Target: "api", From: 2, To: 5})
	fmt.Println(err)
	// Output: <nil>
}
