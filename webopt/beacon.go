package webopt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Beacon bounds beyond the body size.
const (
	maxBeaconMetrics = len(vitals) // one of each vital at most
	maxRouteBytes    = 512
	maxElementBytes  = 512
	maxURLBytes      = 2048
)

// BeaconError is why a beacon was refused; Reason is a short fixed word
// (the label of the dropped-beacons counter), Detail says more.
type BeaconError struct {
	Reason string
	Detail string
}

func (e *BeaconError) Error() string { return "beacon: " + e.Reason + ": " + e.Detail }

// ErrBeacon matches every *BeaconError with errors.Is.
var ErrBeacon = errors.New("webopt: invalid beacon")

// Is makes errors.Is(err, ErrBeacon) true.
func (e *BeaconError) Is(target error) bool { return target == ErrBeacon }

func beaconErr(reason, format string, a ...any) error {
	return &BeaconError{Reason: reason, Detail: fmt.Sprintf(format, a...)}
}

// beacon is the script's JSON: {"r":"/path","m":[{"n":"LCP","v":1234.5,
// "s":"img.hero","u":"https://host/hero.png"},...]}.
type beacon struct {
	Route   string         `json:"r"`
	Metrics []beaconMetric `json:"m"`
}

type beaconMetric struct {
	Name    string  `json:"n"`
	Value   float64 `json:"v"`
	Element string  `json:"s,omitempty"`
	URL     string  `json:"u,omitempty"`
}

// readBeacon reads and checks one beacon from r, reading at most limit
// bytes of its body.
func readBeacon(r *http.Request, limit int64) (beacon, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "text/plain" && mt != "application/json") {
			return beacon{}, beaconErr("content_type", "content type %q is neither text/plain nor application/json", ct)
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return beacon{}, beaconErr("read", "read body: %v", err)
	}
	if int64(len(body)) > limit {
		return beacon{}, beaconErr("too_large", "body exceeds %d bytes", limit)
	}
	return decodeBeacon(body)
}

// decodeBeacon parses and validates a beacon body. It never panics.
func decodeBeacon(body []byte) (beacon, error) {
	var b beacon
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return beacon{}, beaconErr("malformed", "decode JSON: %v", err)
	}
	if dec.More() {
		return beacon{}, beaconErr("malformed", "data after the JSON object")
	}
	if b.Route == "" || b.Route[0] != '/' || len(b.Route) > maxRouteBytes || !utf8.ValidString(b.Route) {
		return beacon{}, beaconErr("route", "route must be a UTF-8 path starting with / of at most %d bytes", maxRouteBytes)
	}
	if len(b.Metrics) == 0 {
		return beacon{}, beaconErr("empty", "no metrics")
	}
	if len(b.Metrics) > maxBeaconMetrics {
		return beacon{}, beaconErr("too_many", "%d metrics, at most %d", len(b.Metrics), maxBeaconMetrics)
	}
	var seen [len(vitals)]bool
	for _, m := range b.Metrics {
		i := vitalIndex(m.Name)
		if i < 0 {
			return beacon{}, beaconErr("unknown_metric", "unknown metric %.32q", m.Name)
		}
		if seen[i] {
			return beacon{}, beaconErr("duplicate", "%s twice", m.Name)
		}
		seen[i] = true
		if math.IsNaN(m.Value) || m.Value < 0 || m.Value > vitals[i].max {
			return beacon{}, beaconErr("out_of_range", "%s %v outside 0..%v", m.Name, m.Value, vitals[i].max)
		}
		if m.Name != LCP && (m.Element != "" || m.URL != "") {
			return beacon{}, beaconErr("attribution", "%s carries an element or URL; only LCP does", m.Name)
		}
		if len(m.Element) > maxElementBytes || len(m.URL) > maxURLBytes || !utf8.ValidString(m.Element) || !utf8.ValidString(m.URL) {
			return beacon{}, beaconErr("attribution", "LCP element or URL too long or not UTF-8")
		}
	}
	return b, nil
}

// deviceClass sorts a User-Agent into desktop, mobile or tablet, the way
// CrUX splits its data. Unknown agents are desktop.
func deviceClass(ua string) string {
	switch {
	case strings.Contains(ua, "iPad"), strings.Contains(ua, "Tablet"),
		strings.Contains(ua, "Android") && !strings.Contains(ua, "Mobile"):
		return DeviceTablet
	case strings.Contains(ua, "Mobi"), strings.Contains(ua, "iPhone"):
		return DeviceMobile
	}
	return DeviceDesktop
}

// NormalizeRoute is the default route of a page's path: the query dropped,
// and segments that look like identifiers (numbers, UUIDs, long hex or
// mixed digit runs) replaced by {id}, so "/products/42" and
// "/products/43" count as one route "/products/{id}".
func NormalizeRoute(path string) string {
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	if path == "" {
		return "/"
	}
	segs := strings.Split(path, "/")
	for i, s := range segs {
		if looksLikeID(s) {
			segs[i] = "{id}"
		}
	}
	return strings.Join(segs, "/")
}

func looksLikeID(s string) bool {
	if s == "" {
		return false
	}
	digits, hex := 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
			hex++
		case c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
			hex++
		case c == '-' || c == '_':
		default:
			return digits == len(s) || (len(s) >= 16 && digits*2 >= len(s))
		}
	}
	// all digits, dashes and hex: a number, a UUID, a hash
	return digits == len(s) || (len(s) >= 16 && hex >= len(s)-4) || (digits > 0 && len(s) >= 8)
}

// sameHostPath returns u's path (and query) when u is on host, so the hint
// matches the src the page's HTML wrote; other URLs stay whole.
func sameHostPath(u, host string) string {
	if u == "" {
		return ""
	}
	p, err := url.Parse(u)
	if err != nil || !p.IsAbs() || !strings.EqualFold(p.Host, host) {
		return u
	}
	return p.RequestURI()
}
