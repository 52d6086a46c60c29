package webopt

import (
	"math"
	"os"
	"testing"
)

// TestFallbackConstants recomputes the fallback fonts' figures from the
// metric-compatible Liberation fonts, where they are installed (Debian's
// fonts-liberation).
func TestFallbackConstants(t *testing.T) {
	for name, file := range map[string]string{
		"Arial":           "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
		"Times New Roman": "/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf",
	} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Skipf("metric-compatible font not installed (apt-get install fonts-liberation): %v", err)
		}
		m, err := fontMetricsOf(data)
		if err != nil {
			t.Fatalf("fontMetricsOf(%s): %v", file, err)
		}
		t.Logf("%s: %+v", name, m)
		want := fallbackFonts[name]
		if m.UnitsPerEm != want.UnitsPerEm || m.Ascent != want.Ascent || m.Descent != want.Descent || m.LineGap != want.LineGap || math.Abs(m.XWidthAvg-want.XWidthAvg) > 0.05 {
			t.Errorf("fallbackFonts[%q] = %+v, measured %+v", name, want, m)
		}
	}
}
