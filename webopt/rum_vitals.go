package webopt

import "math"

// Vital names, as the collector script sends them.
const (
	LCP  = "LCP"  // Largest Contentful Paint, ms
	INP  = "INP"  // Interaction to Next Paint, ms
	CLS  = "CLS"  // Cumulative Layout Shift, unitless
	FCP  = "FCP"  // First Contentful Paint, ms
	TTFB = "TTFB" // Time to First Byte, ms
)

// The web-vitals thresholds: at or below Good a page view is "good", above
// Poor it is "poor", between them it "needs improvement". Milliseconds,
// except CLS.
const (
	LCPGoodMs  = 2500
	LCPPoorMs  = 4000
	INPGoodMs  = 200
	INPPoorMs  = 500
	CLSGood    = 0.1
	CLSPoor    = 0.25
	FCPGoodMs  = 1800
	FCPPoorMs  = 3000
	TTFBGoodMs = 800
	TTFBPoorMs = 1800
)

// Rating grades a value against its vital's thresholds.
type Rating string

// Ratings.
const (
	RatingGood             Rating = "good"
	RatingNeedsImprovement Rating = "needs-improvement"
	RatingPoor             Rating = "poor"
)

// vital describes one metric: its thresholds, the largest value the
// collector believes (a beacon above it is rejected as absurd), and the
// histogram scale that turns it into integer-ish units.
type vital struct {
	name       string
	good, poor float64
	max        float64
	scale      float64 // histogram units per value unit: 1 for ms, 1000 for CLS
	sample     string  // the engine's sample name
}

// vitals in the order they are reported.
var vitals = [...]vital{
	{LCP, LCPGoodMs, LCPPoorMs, 120_000, 1, "web_lcp_p75_ms"},
	{INP, INPGoodMs, INPPoorMs, 60_000, 1, "web_inp_p75_ms"},
	{CLS, CLSGood, CLSPoor, 50, 1000, "web_cls_p75"},
	{FCP, FCPGoodMs, FCPPoorMs, 120_000, 1, "web_fcp_p75_ms"},
	{TTFB, TTFBGoodMs, TTFBPoorMs, 120_000, 1, "web_ttfb_p75_ms"},
}

func vitalIndex(name string) int {
	for i := range vitals {
		if vitals[i].name == name {
			return i
		}
	}
	return -1
}

// SampleName returns the engine's sample name of a vital's p75, such as
// "web_lcp_p75_ms", or "" for an unknown name.
func SampleName(name string) string {
	if i := vitalIndex(name); i >= 0 {
		return vitals[i].sample
	}
	return ""
}

// Rate grades v for the named vital; unknown names and NaN rate poor.
func Rate(name string, v float64) Rating {
	i := vitalIndex(name)
	if i < 0 || math.IsNaN(v) {
		return RatingPoor
	}
	switch {
	case v <= vitals[i].good:
		return RatingGood
	case v <= vitals[i].poor:
		return RatingNeedsImprovement
	}
	return RatingPoor
}

// Device classes, from the beacon's User-Agent.
const (
	DeviceDesktop = "desktop"
	DeviceMobile  = "mobile"
	DeviceTablet  = "tablet"
)

var devices = [...]string{DeviceDesktop, DeviceMobile, DeviceTablet}

func deviceIndex(d string) int {
	for i, x := range devices {
		if x == d {
			return i
		}
	}
	return 0
}
