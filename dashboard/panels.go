package dashboard

import (
	"slices"
	"strings"

	"github.com/perfengine/perfengine"
)

// The overview's per-layer panels gather what one optimizer knows in one
// place: the database's figures, index advice and findings, and the network
// client's figures per host. The Findings section keeps the rest.

// databasePanel is the database module's part of the overview.
type databasePanel struct {
	Figures  []metricView
	Indexes  []indexRow
	Findings []perfengine.Finding
}

// indexRow is one index the database module suggested, whatever became of
// it: its estimated saving, the queries it serves and, once applied, what
// it measured.
type indexRow struct {
	perfengine.Action
	Queries []string
}

// maxPanelIndexes bounds the index advice shown; the API has it all.
const maxPanelIndexes = 20

func newDatabasePanel(s perfengine.Summary, actions []perfengine.Action) *databasePanel {
	p := &databasePanel{}
	p.Figures = figures(s.Metrics, func(k string) bool { return strings.HasPrefix(k, "db_") })
	for _, a := range actions {
		if a.Module == "database" && a.Kind == perfengine.ActionCreateIndex && len(p.Indexes) < maxPanelIndexes {
			var qs []string
			if q := a.Params["queries"]; q != "" {
				qs = strings.Split(q, "\n")
			}
			p.Indexes = append(p.Indexes, indexRow{Action: a, Queries: qs})
		}
	}
	for _, f := range s.Findings {
		if f.Module == "database" {
			p.Findings = append(p.Findings, f)
		}
	}
	if len(p.Figures) == 0 && len(p.Indexes) == 0 && len(p.Findings) == 0 {
		return nil
	}
	return p
}

// hostRow is one host the network client talks to.
type hostRow struct {
	Host    string
	Cells   []metricView // in hostColumns order, "–" when not reported
	Breaker bool         // the circuit is open or half-open
}

// hostColumns are the per-host series shown, in order, with their headers.
var hostColumns = []struct{ name, header, format string }{
	{perfengine.NetHostRequests, "requests", "number"},
	{perfengine.NetHostP95Ms, "p95", "ms"},
	{perfengine.NetHostP99Ms, "p99", "ms"},
	{perfengine.NetHostTTFBMs, "first byte", "ms"},
	{perfengine.NetHostConnectMs, "connect", "ms"},
	{perfengine.NetHostErrorRate, "errors", "ratio"},
	{perfengine.NetHostReuseRatio, "connections reused", "ratio"},
	{perfengine.NetHostRetries, "retries", "number"},
	{perfengine.NetHostHedges, "hedges", "number"},
}

// hostHeaders are hostColumns' headers, for the template.
func hostHeaders() []string {
	out := make([]string, len(hostColumns))
	for i, c := range hostColumns {
		out[i] = c.header
	}
	return out
}

// hostRows groups the network module's net_host_* series by host, busiest
// first.
func hostRows(m map[string]float64) []hostRow {
	byHost := map[string]*hostRow{}
	var hosts []string
	for k, v := range m {
		name, host, ok := hostSeries(k)
		if !ok {
			continue
		}
		r := byHost[host]
		if r == nil {
			r = &hostRow{Host: host, Cells: make([]metricView, len(hostColumns))}
			for i, c := range hostColumns {
				r.Cells[i] = metricView{Key: c.name + `{host="` + host + `"}`, Format: c.format, Text: "–"}
			}
			byHost[host] = r
			hosts = append(hosts, host)
		}
		if name == perfengine.NetHostBreakerOpen {
			r.Breaker = v > 0
		}
		for i, c := range hostColumns {
			if c.name == name {
				r.Cells[i].Text = formatMetric(c.format, v)
			}
		}
	}
	requests := func(h string) float64 { return m[perfengine.NetHostRequests+`{host="`+h+`"}`] }
	slices.SortFunc(hosts, func(a, b string) int {
		if ra, rb := requests(a), requests(b); ra != rb {
			if ra > rb {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	out := make([]hostRow, len(hosts))
	for i, h := range hosts {
		out[i] = *byHost[h]
	}
	return out
}

// hostSeries splits a net_host_* series key, `name{host="h"}`, into its
// name and host.
func hostSeries(key string) (name, host string, ok bool) {
	if !strings.HasPrefix(key, "net_host_") {
		return "", "", false
	}
	name, rest, ok := strings.Cut(key, `{host="`)
	if !ok || !strings.HasSuffix(rest, `"}`) {
		return "", "", false
	}
	return name, strings.TrimSuffix(rest, `"}`), true
}

func sortedKeys(m map[string]float64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// memoryPanel is the memory module's part of the overview: its figures,
// the leaks it confirmed with the allocation or goroutine sites that grow,
// and the GC settings and cleanups it proposed or applied.
type memoryPanel struct {
	Figures []metricView
	Leaks   []leakRow
	Actions []perfengine.Action
}

// leakRow is one confirmed leak: the finding and, line by line, the sites
// it names and the advice for its type.
type leakRow struct {
	perfengine.Finding
	Lines []string
}

// maxPanelMemoryActions bounds the GC actions shown; the API has them all.
const maxPanelMemoryActions = 10

func newMemoryPanel(s perfengine.Summary, actions []perfengine.Action) *memoryPanel {
	p := &memoryPanel{}
	p.Figures = figures(s.Metrics, func(k string) bool { return slices.Contains(memoryFigures, k) })
	for _, f := range s.Findings {
		if f.Module == "memory" {
			var lines []string
			if f.Detail != "" {
				lines = strings.Split(f.Detail, "\n")
			}
			p.Leaks = append(p.Leaks, leakRow{Finding: f, Lines: lines})
		}
	}
	for _, a := range actions {
		if a.Module == "memory" && len(p.Actions) < maxPanelMemoryActions {
			p.Actions = append(p.Actions, a)
		}
	}
	if len(p.Figures) == 0 && len(p.Leaks) == 0 && len(p.Actions) == 0 {
		return nil
	}
	return p
}

// memoryFigures are the memory module's series the panel shows.
var memoryFigures = []string{
	perfengine.MemoryLeaks, perfengine.MemoryHeapGrowth, perfengine.MemoryTimeToLimit,
	perfengine.MemoryGoroutineGrowth, perfengine.MemoryGOGC, perfengine.MemoryGOMEMLIMIT,
}

// figures are the metrics whose keys keep says, in key order, formatted.
func figures(m map[string]float64, keep func(string) bool) []metricView {
	var out []metricView
	for _, k := range sortedKeys(m) {
		if keep(k) {
			f := metricFormat(k)
			out = append(out, metricView{Key: k, Format: f, Text: formatMetric(f, m[k])})
		}
	}
	return out
}
