package dashboard

import (
	"context"
	"fmt"
	"html"
	"html/template"
	"math"
	"strings"
	"time"

	"github.com/perfengine/perfengine/store"
)

// chart is a line chart the server renders as inline SVG: no script and no
// library, so it shows without JavaScript and costs the browser nothing
// over hours.
type chart struct {
	Title  string
	Format string // metricFormat of the values
	From   time.Time
	To     time.Time
	Lines  []chartLine
	Rules  []chartRule // threshold lines
	Marks  []chartMark // events on the time axis
}

type chartLine struct {
	Label  string
	Points [][2]float64 // unix ms, value
}

type chartRule struct {
	Label string
	Value float64
	Class string // warning or critical
}

type chartMark struct {
	At    time.Time
	Label string
}

// Chart geometry, in the SVG's own units.
const (
	chartW, chartH           = 640.0, 200.0
	padLeft, padRight        = 78.0, 12.0
	padTop, padBottom        = 12.0, 24.0
	sparkW, sparkH           = 120.0, 28.0
	maxChartMarks            = 50
	chartLineClasses         = 3
	chartEmptyText           = "no data in this range"
	chartTimeFormatShort     = "15:04"
	chartTimeFormatMultiDays = "Jan 2 15:04"
)

// points counts the chart's data points, for tests and the empty state.
func (c chart) points() int {
	n := 0
	for _, l := range c.Lines {
		n += len(l.Points)
	}
	return n
}

// SVG renders the chart. Every text in it (labels, titles) is escaped.
func (c chart) SVG() template.HTML {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %g %g" role="img" aria-label="%s">`, chartW, chartH, html.EscapeString(c.Title))
	fmt.Fprintf(&b, `<title>%s</title>`, html.EscapeString(c.Title))
	x0, x1 := float64(c.From.UnixMilli()), float64(c.To.UnixMilli())
	lo, hi := 0.0, 0.0
	for _, l := range c.Lines {
		for _, p := range l.Points {
			hi = math.Max(hi, p[1])
			lo = math.Min(lo, p[1])
		}
	}
	for _, r := range c.Rules {
		// A threshold far above the data would flatten it: show those
		// within twice the data's range, or all when there is no data.
		if hi == 0 || r.Value <= 2*hi {
			hi = math.Max(hi, r.Value)
		}
	}
	if hi <= lo {
		hi = lo + 1
	}
	hi *= 1.08
	px := func(t float64) float64 { return padLeft + (t-x0)/(x1-x0)*(chartW-padLeft-padRight) }
	py := func(v float64) float64 { return chartH - padBottom - (v-lo)/(hi-lo)*(chartH-padTop-padBottom) }
	// Axes and their labels.
	fmt.Fprintf(&b, `<line class="axis" x1="%g" y1="%g" x2="%g" y2="%g"/>`, padLeft, chartH-padBottom, chartW-padRight, chartH-padBottom)
	for _, v := range []float64{lo, (lo + hi) / 2, hi / 1.08} {
		fmt.Fprintf(&b, `<text class="tick" x="%g" y="%.1f" text-anchor="end">%s</text>`, padLeft-6, py(v)+4, html.EscapeString(formatMetric(c.Format, v)))
	}
	layout := chartTimeFormatShort
	if c.To.Sub(c.From) > 24*time.Hour {
		layout = chartTimeFormatMultiDays
	}
	fmt.Fprintf(&b, `<text class="tick" x="%g" y="%g">%s</text>`, padLeft, chartH-6, c.From.Local().Format(layout))
	fmt.Fprintf(&b, `<text class="tick" x="%g" y="%g" text-anchor="end">%s</text>`, chartW-padRight, chartH-6, c.To.Local().Format(layout))
	for _, r := range c.Rules {
		if r.Value > hi || r.Value < lo {
			continue
		}
		fmt.Fprintf(&b, `<line class="rule %s" x1="%g" y1="%.1f" x2="%g" y2="%.1f"><title>%s</title></line>`,
			html.EscapeString(r.Class), padLeft, py(r.Value), chartW-padRight, py(r.Value), html.EscapeString(fmt.Sprintf("%s %s", r.Label, formatMetric(c.Format, r.Value))))
	}
	for i, m := range c.Marks {
		if i == maxChartMarks {
			break
		}
		t := float64(m.At.UnixMilli())
		if t < x0 || t > x1 {
			continue
		}
		fmt.Fprintf(&b, `<line class="mark" x1="%.1f" y1="%g" x2="%.1f" y2="%g"><title>%s</title></line>`,
			px(t), padTop, px(t), chartH-padBottom, html.EscapeString(m.At.Local().Format("15:04:05")+" "+m.Label))
	}
	for i, l := range c.Lines {
		if len(l.Points) == 0 {
			continue
		}
		fmt.Fprintf(&b, `<polyline class="line line%d" data-points="%d" points="`, i%chartLineClasses, len(l.Points))
		for _, p := range l.Points {
			fmt.Fprintf(&b, "%.1f,%.1f ", px(p[0]), py(p[1]))
		}
		fmt.Fprintf(&b, `"><title>%s</title></polyline>`, html.EscapeString(l.Label))
	}
	if c.points() == 0 {
		fmt.Fprintf(&b, `<text class="empty" x="%g" y="%g" text-anchor="middle">%s</text>`, chartW/2, chartH/2, chartEmptyText)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// sparkline renders one series as a small line without axes.
func sparkline(points [][2]float64, from, to time.Time, label string) template.HTML {
	if len(points) == 0 {
		return template.HTML(`<span class="muted">no history</span>`)
	}
	lo, hi := points[0][1], points[0][1]
	for _, p := range points {
		lo, hi = math.Min(lo, p[1]), math.Max(hi, p[1])
	}
	if hi <= lo {
		hi = lo + 1
	}
	x0, x1 := float64(from.UnixMilli()), float64(to.UnixMilli())
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="spark" viewBox="0 0 %g %g" role="img" aria-label="%s"><polyline data-points="%d" points="`, sparkW, sparkH, html.EscapeString(label), len(points))
	for _, p := range points {
		fmt.Fprintf(&b, "%.1f,%.1f ", (p[0]-x0)/(x1-x0)*sparkW, sparkH-2-(p[1]-lo)/(hi-lo)*(sparkH-4))
	}
	b.WriteString(`"/></svg>`)
	return template.HTML(b.String())
}

// history reads one series of a target (or, with target "", the engine's
// own label-less series) from the store, bucketed into at most about 500
// points over [from, to).
func (d *Dashboard) history(ctx context.Context, name, target string, from, to time.Time) [][2]float64 {
	st := d.eng.Store()
	if st == nil {
		return nil
	}
	samples, err := st.QuerySamples(ctx, store.SampleQuery{Name: name, From: from, To: to, Limit: maxSamples})
	if err != nil {
		d.log.Warn("read history", "series", name, "target", target, "err", err)
		return nil
	}
	q := SeriesQuery{Name: name, Target: target, From: from, To: to, Step: max(to.Sub(from)/500, time.Second)}
	for _, s := range bucket(samples, q) {
		if s.Labels["target"] == target {
			return s.Points
		}
	}
	return nil
}
