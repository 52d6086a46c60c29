package webopt

import (
	_ "embed"
	"encoding/json"
	"strings"
)

// DefaultBeaconPath is where the collector script sends its beacons unless
// CollectorOptions.Path names another.
const DefaultBeaconPath = "/_perfengine/rum"

//go:embed rum.js
var rumSource string

// rumMinified is rum.js without comment lines and indentation. The script
// has no string or regular expression that holds "//", so dropping whole
// comment lines is safe, and keeping the line breaks keeps its semicolon
// insertion exactly as written.
var rumMinified = func() string {
	var b strings.Builder
	for line := range strings.SplitSeq(rumSource, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "//") {
			continue
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String()
}()

// Script returns the collector's JavaScript with its beacon endpoint filled
// in. It observes LCP (with the element's selector and URL), INP (the p98
// estimate of web-vitals over Event Timing interactions), CLS (largest
// session window: 1 s gap, 5 s cap), FCP and TTFB, and sends what changed
// with navigator.sendBeacon when the page is hidden (visibilitychange) or
// unloaded (pagehide).
func Script(endpoint string) string {
	if endpoint == "" {
		endpoint = DefaultBeaconPath
	}
	// json.Marshal quotes the URL as a JS string literal; its HTML escaping
	// of <, > and & keeps it safe inside a <script> element too.
	q, _ := json.Marshal(endpoint)
	return strings.Replace(rumMinified, `"__ENDPOINT__"`, string(q), 1)
}

// ScriptTag returns Script(endpoint) inside a <script> element, the bytes
// to hand the rewriter for injection before </head>.
func ScriptTag(endpoint string) string {
	return "<script>" + Script(endpoint) + "</script>"
}
