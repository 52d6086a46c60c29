package loadtest

import (
	_ "embed"
	"fmt"
	"html"
	"html/template"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Report renders results as one self-contained HTML page: inline CSS and
// SVG, no script, no external resource, so it can be mailed or archived.
type Report struct {
	Title     string
	Generated time.Time
	Load      *Result       // a load test, or
	Stress    *StressResult // a stress test
}

//go:embed report.html.tmpl
var reportTmpl string

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"ms":  func(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) },
	"f1":  func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) },
	"pct": func(v float64) string { return strconv.FormatFloat(100*v, 'f', 2, 64) + "%" },
	"inc": func(i int) int { return i + 1 },
}).Parse(reportTmpl))

type reportView struct {
	Report
	Codes  []codeCount
	Errors []kindCount
	Charts []template.HTML
}

type codeCount struct {
	Code int
	N    int64
}

type kindCount struct {
	Kind string
	N    int64
}

// WriteHTML writes the report.
func (rp Report) WriteHTML(w io.Writer) error {
	if rp.Load == nil && rp.Stress == nil {
		return fmt.Errorf("report: nothing to render")
	}
	v := reportView{Report: rp}
	if v.Title == "" {
		v.Title = "perfengine load test"
	}
	res := rp.Load
	if rp.Stress != nil {
		res = rp.Stress.focus()
	}
	if res != nil {
		if rp.Stress != nil {
			v.Charts = append(v.Charts, latencyChart(rp.Stress.timeline(), "Latency over time, all steps (corrected, per second)"),
				distributionChart(res, "Latency by percentile at the knee (or the last step)"),
				stepChart(rp.Stress))
		} else {
			v.Charts = append(v.Charts, latencyChart(res.Series, "Latency over time (corrected, per second)"),
				distributionChart(res, "Latency by percentile"),
				throughputChart(res))
		}
		for c, n := range res.StatusCodes {
			v.Codes = append(v.Codes, codeCount{c, n})
		}
		slices.SortFunc(v.Codes, func(a, b codeCount) int { return a.Code - b.Code })
		for k, n := range res.Errors {
			v.Errors = append(v.Errors, kindCount{k, n})
		}
		slices.SortFunc(v.Errors, func(a, b kindCount) int { return strings.Compare(a.Kind, b.Kind) })
	}
	return reportTemplate.Execute(w, v)
}

// focus is the step a stress report details: the knee, else the last step.
func (r *StressResult) focus() *Result {
	if len(r.Steps) == 0 {
		return nil
	}
	if r.Knee >= 0 {
		return r.Steps[r.Knee].Result
	}
	return r.Steps[len(r.Steps)-1].Result
}

// chart geometry, in SVG user units
const (
	chartW, chartH = 720.0, 260.0
	padL, padR     = 64.0, 32.0
	padT, padB     = 28.0, 40.0
)

type line struct {
	name  string
	color string
	xs    []float64
	ys    []float64
}

type axis struct {
	min, max float64
	ticks    []float64
	label    func(float64) string
}

func niceAxis(lo, hi float64, label func(float64) string) axis {
	if hi <= lo {
		hi = lo + 1
	}
	span := hi - lo
	step := math.Pow(10, math.Floor(math.Log10(span/5)))
	for _, m := range []float64{1, 2, 5, 10} {
		if span/(step*m) <= 6 {
			step *= m
			break
		}
	}
	a := axis{min: math.Floor(lo/step) * step, max: math.Ceil(hi/step) * step, label: label}
	for t := a.min; t <= a.max+step/2; t += step {
		a.ticks = append(a.ticks, t)
	}
	return a
}

func num(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }

func svgFrame(b *strings.Builder, title string, x, y axis, xName, yName string) (px, py func(float64) float64) {
	px = func(v float64) float64 { return padL + (v-x.min)/(x.max-x.min)*(chartW-padL-padR) }
	py = func(v float64) float64 { return chartH - padB - (v-y.min)/(y.max-y.min)*(chartH-padT-padB) }
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %g %g" role="img" aria-label="%s">`, chartW, chartH, html.EscapeString(title))
	fmt.Fprintf(b, `<text x="%g" y="18" class="t">%s</text>`, padL, html.EscapeString(title))
	for _, t := range y.ticks {
		fmt.Fprintf(b, `<line x1="%g" x2="%g" y1="%.1f" y2="%.1f" class="g"/><text x="%g" y="%.1f" class="yl">%s</text>`,
			padL, chartW-padR, py(t), py(t), padL-6, py(t)+4, html.EscapeString(y.label(t)))
	}
	for _, t := range x.ticks {
		fmt.Fprintf(b, `<text x="%.1f" y="%g" class="xl">%s</text>`, px(t), chartH-padB+16, html.EscapeString(x.label(t)))
	}
	fmt.Fprintf(b, `<text x="%g" y="%g" class="xl">%s</text>`, (chartW+padL)/2, chartH-6, html.EscapeString(xName))
	fmt.Fprintf(b, `<text x="14" y="%g" class="yl" transform="rotate(-90 14 %g)">%s</text>`, chartH/2, chartH/2, html.EscapeString(yName))
	return px, py
}

func lineChart(title, xName, yName string, x axis, lines []line) template.HTML {
	hi := 0.0
	for _, l := range lines {
		for _, v := range l.ys {
			hi = max(hi, v)
		}
	}
	y := niceAxis(0, hi, num)
	var b strings.Builder
	px, py := svgFrame(&b, title, x, y, xName, yName)
	for i, l := range lines {
		var pts []string
		for j := range l.xs {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(l.xs[j]), py(l.ys[j])))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`, l.color, strings.Join(pts, " "))
		fmt.Fprintf(&b, `<rect x="%g" y="%d" width="10" height="10" fill="%s"/><text x="%g" y="%d" class="k">%s</text>`,
			chartW-padR-150, 8+14*i, l.color, chartW-padR-136, 17+14*i, html.EscapeString(l.name))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // built from numbers and escaped labels
}

// timeline joins the steps' series end to end.
func (r *StressResult) timeline() []Second {
	var out []Second
	for _, st := range r.Steps {
		if st.Result == nil {
			continue
		}
		off := len(out)
		for _, s := range st.Result.Series {
			s.T += off
			out = append(out, s)
		}
	}
	return out
}

func latencyChart(series []Second, title string) template.HTML {
	var p50, p99 line
	p50 = line{name: "p50", color: "#2b6cb0"}
	p99 = line{name: "p99", color: "#c53030"}
	for _, s := range series {
		if s.Requests == 0 {
			continue
		}
		p50.xs, p50.ys = append(p50.xs, float64(s.T)), append(p50.ys, s.P50)
		p99.xs, p99.ys = append(p99.xs, float64(s.T)), append(p99.ys, s.P99)
	}
	x := niceAxis(0, math.Max(1, float64(len(series))), func(v float64) string { return num(v) + "s" })
	return lineChart(title, "seconds since start", "ms", x, []line{p50, p99})
}

// distributionChart plots latency by quantile on the usual HDR axis, where
// each step right adds a nine: 90 %, 99 %, 99.9 %.
func distributionChart(r *Result, title string) template.HTML {
	nines := func(q float64) float64 { return -math.Log10(1 - math.Min(q, 0.99999)) }
	mk := func(name, color string, qs []Quantile) line {
		l := line{name: name, color: color}
		for _, q := range qs {
			if q.Q >= 1 {
				continue
			}
			l.xs, l.ys = append(l.xs, nines(q.Q)), append(l.ys, q.Ms)
		}
		return l
	}
	lines := []line{mk("corrected", "#c53030", r.Distribution)}
	if r.Model == "open" {
		lines = append(lines, mk("uncorrected", "#718096", r.DistributionUncorrected))
	}
	x := axis{min: 0, max: 4, ticks: []float64{0, 1, 2, 3, 4}, label: func(v float64) string {
		return strconv.FormatFloat(100*(1-math.Pow(10, -v)), 'f', -1, 64) + "%"
	}}
	return lineChart(title, "percentile", "ms", x, lines)
}

func barChart(title, xName, yName string, labels []string, vals []float64, colors []string) template.HTML {
	hi := 0.0
	for _, v := range vals {
		hi = max(hi, v)
	}
	y := niceAxis(0, hi, num)
	x := axis{min: 0, max: float64(len(vals)), label: func(float64) string { return "" }}
	var b strings.Builder
	px, py := svgFrame(&b, title, x, y, xName, yName)
	w := (px(1) - px(0)) * 0.8
	step := max(1, len(vals)/12)
	for i, v := range vals {
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s: %s</title></rect>`,
			px(float64(i))+w/8, py(v), w, py(0)-py(v), colors[i], html.EscapeString(labels[i]), num(v))
		if i%step == 0 {
			fmt.Fprintf(&b, `<text x="%.1f" y="%g" class="xl">%s</text>`, px(float64(i)+0.5), chartH-padB+16, html.EscapeString(labels[i]))
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // built from numbers and escaped labels
}

func throughputChart(r *Result) template.HTML {
	labels := make([]string, len(r.Series))
	vals := make([]float64, len(r.Series))
	colors := make([]string, len(r.Series))
	for i, s := range r.Series {
		labels[i] = strconv.Itoa(s.T) + "s"
		vals[i] = float64(s.Requests)
		colors[i] = "#2f855a"
		if s.Errors > 0 {
			colors[i] = "#dd6b20"
		}
	}
	return barChart("Throughput per second (orange: with errors)", "second", "requests/s", labels, vals, colors)
}

func stepChart(s *StressResult) template.HTML {
	labels := make([]string, len(s.Steps))
	vals := make([]float64, len(s.Steps))
	colors := make([]string, len(s.Steps))
	for i, st := range s.Steps {
		labels[i] = num(st.Load)
		vals[i] = st.Throughput
		switch {
		case st.Broken:
			colors[i] = "#c53030"
		case st.MeetsSLO:
			colors[i] = "#2f855a"
		default:
			colors[i] = "#dd6b20"
		}
	}
	return barChart("Throughput per step (green: meets SLO, orange: misses it, red: broken)", "offered load", "requests/s", labels, vals, colors)
}
