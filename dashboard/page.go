package dashboard

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/perfengine/perfengine"
	"github.com/perfengine/perfengine/alert"
	"github.com/perfengine/perfengine/metrics"
	"github.com/perfengine/perfengine/target"
	"github.com/perfengine/perfengine/webopt"
)

//go:embed templates/page.html.tmpl templates/target.html.tmpl
var templateFS embed.FS

// formArgs feed the approve/undo form of one action.
type formArgs struct {
	Auth bool
	ID   string
	Verb string
}

// figureArgs is a figure's text and, for "–", why it is missing.
type figureArgs struct{ Text, Why string }

var pageFuncs = template.FuncMap{
	"form":       func(auth bool, id, verb string) formArgs { return formArgs{auth, id, verb} },
	"figure":     func(text, why string) figureArgs { return figureArgs{text, why} },
	"pathEscape": url.PathEscape,
}

var (
	pageTemplate   = template.Must(template.New("page.html.tmpl").Funcs(pageFuncs).ParseFS(templateFS, "templates/page.html.tmpl"))
	targetTemplate = template.Must(template.New("target.html.tmpl").Funcs(pageFuncs).ParseFS(templateFS, "templates/target.html.tmpl"))
)

// keyMetrics are the figures the status page shows first, in this order.
var keyMetrics = []struct{ key, label string }{
	{metrics.CPUPercent, "CPU (machine)"},
	{metrics.MemoryUsageRatio, "memory of limit"},
	{metrics.ResponseTimeMs, "p95 response time"},
	{metrics.ThroughputRPS, "throughput"},
	{metrics.ErrorRate, "error rate"},
	{metrics.Goroutines, "goroutines"},
	{metrics.HeapInUseBytes, "heap in use"},
	{metrics.GCPauseP99Ms, "GC pause p99"},
}

// metricView is one figure as the page shows it. Format tells the page's
// script how to render fresh values the same way.
type metricView struct {
	Key, Label, Format, Text string
	Spark                    template.HTML // the last hour, on the key figures
}

// targetRow is one target on the overview.
type targetRow struct {
	perfengine.TargetSummary
	P95, RPS, Errors string
	Spark            template.HTML // p95 over the last hour
	// Missing says why a figure shows as "–".
	Missing string
}

// missingWhy says why a target has no figure yet: latency and throughput
// from a service's counters and histograms are rates, which take two
// scrapes.
func missingWhy(t perfengine.TargetSummary) string {
	switch {
	case !t.Up && t.Scrapes == 0:
		return "not scraped yet"
	case !t.Up:
		return "down: " + t.Error
	case t.Kind == target.Service && t.Scrapes < 2:
		return "rates need a second scrape, due at " + t.NextScrape.Format("15:04:05")
	}
	return "the target reports no such series"
}

// maxPageActions bounds the actions table; the API has them all.
const maxPageActions = 30

type pageData struct {
	S       perfengine.Summary
	Key     []metricView
	All     []metricView
	Actions []perfengine.Action
	Auth    bool
	Targets []targetRow
	// Vitals are the real-user p75s, one row per route and device.
	Vitals []vitalRow
	// Alerts fire or resolved lately; Silences are active or pending.
	Alerts   []alert.AlertStatus
	Silences []alert.Silence
	// Database is the database module's panel; nil without one.
	Database *databasePanel
	// Memory is the memory module's panel; nil without one.
	Memory *memoryPanel
	// Hosts are the network client's figures per host.
	Hosts       []hostRow
	HostHeaders []string
	// Findings are those no panel above shows.
	Findings []perfengine.Finding
}

func (d *Dashboard) handlePage(w http.ResponseWriter, r *http.Request) {
	s := d.eng.Summary()
	data := pageData{S: s, Auth: d.auth}
	now := time.Now()
	hourAgo := now.Add(-time.Hour)
	for _, k := range keyMetrics {
		v, ok := s.Metrics[k.key]
		text := "–"
		f := metricFormat(k.key)
		if ok {
			text = formatMetric(f, v)
		}
		spark := sparkline(d.history(r.Context(), k.key, "", hourAgo, now), hourAgo, now, k.label+", last hour")
		data.Key = append(data.Key, metricView{Key: k.key, Label: k.label, Format: f, Text: text, Spark: spark})
	}
	if d.targets != nil {
		for _, t := range d.targets.Targets() {
			row := targetRow{TargetSummary: t, P95: "–", RPS: "–", Errors: "–", Missing: missingWhy(t)}
			for _, sm := range t.Samples {
				switch sm.Name {
				case metrics.ResponseTimeMs:
					row.P95 = formatMetric("ms", sm.Value)
				case metrics.ThroughputRPS:
					row.RPS = formatMetric("rps", sm.Value)
				case metrics.ErrorRate:
					row.Errors = formatMetric("ratio", sm.Value)
				}
			}
			row.Spark = sparkline(d.history(r.Context(), metrics.ResponseTimeMs, t.Name, hourAgo, now), hourAgo, now, t.Name+" p95, last hour")
			data.Targets = append(data.Targets, row)
		}
	}
	for _, k := range sortedKeys(s.Metrics) {
		f := metricFormat(k)
		data.All = append(data.All, metricView{Key: k, Format: f, Text: formatMetric(f, s.Metrics[k])})
	}
	data.Vitals = vitalRows(s.Vitals)
	data.Alerts = d.eng.Alerts()
	for _, s := range d.eng.Silences() {
		if s.State(now) != alert.SilenceExpired {
			data.Silences = append(data.Silences, s)
		}
	}
	all := d.eng.Actions()
	data.Actions = all
	data.Database = newDatabasePanel(s, all)
	data.Memory = newMemoryPanel(s, all)
	data.Hosts, data.HostHeaders = hostRows(s.Metrics), hostHeaders()
	for _, f := range s.Findings {
		if (data.Database == nil || f.Module != "database") && (data.Memory == nil || f.Module != "memory") {
			data.Findings = append(data.Findings, f)
		}
	}
	if len(data.Actions) > maxPageActions {
		data.Actions = data.Actions[:maxPageActions]
	}
	var b bytes.Buffer
	if err := pageTemplate.Execute(&b, data); err != nil {
		d.fail(w, r, codeInternal, "render page: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b.Bytes())
}

// metricFormat picks how to show a series from its name's unit suffix, the
// naming convention every module follows.
func metricFormat(key string) string {
	name, _, _ := strings.Cut(key, "{")
	switch {
	case strings.HasSuffix(name, "_bytes"):
		return "bytes"
	case strings.HasSuffix(name, "_ratio"), strings.HasSuffix(name, "_fraction"), name == metrics.ErrorRate:
		return "ratio"
	case strings.HasSuffix(name, "_percent"):
		return "percent"
	case strings.HasSuffix(name, "_ms"):
		return "ms"
	case strings.HasSuffix(name, "_rps"):
		return "rps"
	}
	return "number"
}

// formatMetric renders v; app.js has the same rules.
func formatMetric(format string, v float64) string {
	switch format {
	case "bytes":
		units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
		i := 0
		for v >= 1024 && i < len(units)-1 {
			v /= 1024
			i++
		}
		return strconv.FormatFloat(v, 'f', 1, 64) + " " + units[i]
	case "ratio":
		return strconv.FormatFloat(v*100, 'f', 2, 64) + " %"
	case "percent":
		return strconv.FormatFloat(v, 'f', 1, 64) + " %"
	case "ms":
		return strconv.FormatFloat(v, 'f', 1, 64) + " ms"
	case "rps":
		return strconv.FormatFloat(v, 'f', 1, 64) + " req/s"
	}
	return fmt.Sprintf("%.4g", v)
}

// vitalRow is one route and device of the vitals panel: the p75 of each
// metric, in webopt's order, with its rating.
type vitalRow struct {
	Route, Device string
	Views         int
	Cells         [5]vitalCell
}

type vitalCell struct {
	Text, Rating string
}

var vitalColumns = [5]string{webopt.LCP, webopt.INP, webopt.CLS, webopt.FCP, webopt.TTFB}

func vitalRows(vs []webopt.Vital) []vitalRow {
	var rows []vitalRow
	index := map[[2]string]int{}
	for _, v := range vs {
		k := [2]string{v.Route, v.Device}
		i, ok := index[k]
		if !ok {
			i = len(rows)
			index[k] = i
			rows = append(rows, vitalRow{Route: v.Route, Device: v.Device})
		}
		col := slices.Index(vitalColumns[:], v.Name)
		if col < 0 {
			continue
		}
		text := strconv.FormatFloat(v.P75, 'f', 0, 64) + " ms"
		if v.Name == webopt.CLS {
			text = strconv.FormatFloat(v.P75, 'f', 3, 64)
		}
		rows[i].Cells[col] = vitalCell{Text: text, Rating: string(v.Rating)}
		rows[i].Views = max(rows[i].Views, v.Views)
	}
	return rows
}
