package compress

import (
	"net/http"
	"strings"
)

// Encoding is a content coding this package can produce.
type Encoding uint8

// Encodings, in the order of preference when a client rates several equally:
// brotli gives the smallest text, zstd the fastest, gzip works everywhere.
const (
	Identity Encoding = iota
	Gzip
	Zstd
	Brotli
	numEncodings
)

// Encodings lists the codings other than Identity.
var Encodings = [...]Encoding{Brotli, Zstd, Gzip}

var encodingNames = [numEncodings]string{"identity", "gzip", "zstd", "br"}

// String returns the Content-Encoding token: "identity", "gzip", "zstd", "br".
func (e Encoding) String() string {
	if e < numEncodings {
		return encodingNames[e]
	}
	return "unknown"
}

// preference breaks ties between equal q-values.
var preference = [numEncodings]int{Identity: 0, Gzip: 1, Zstd: 2, Brotli: 3}

// Negotiate picks the coding for the Accept-Encoding field lines in h among
// those enabled, by q-value (RFC 9110 §12.5.3), ties broken by preference.
// "*" is ignored as klauspost's gzhttp does by default: clients that send it
// alone often expect raw bytes. It allocates nothing.
func Negotiate(h http.Header, enabled [numEncodings]bool) Encoding {
	var q [numEncodings]int
	for i := range q {
		q[i] = -1
	}
	lines := h["Accept-Encoding"]
	if len(lines) > 8 {
		lines = lines[:8] // repeated headers cost bounded work
	}
	for _, line := range lines {
		parseAccept(line, &q)
	}
	return pick(&q, enabled)
}

// NegotiateValue is Negotiate for one Accept-Encoding value, for servers
// that do not keep an http.Header (fasthttp).
func NegotiateValue(acceptEncoding string, enabled [numEncodings]bool) Encoding {
	var q [numEncodings]int
	for i := range q {
		q[i] = -1
	}
	parseAccept(acceptEncoding, &q)
	return pick(&q, enabled)
}

func parseAccept(line string, q *[numEncodings]int) {
	{
		for len(line) > 0 {
			var item string
			item, line, _ = strings.Cut(line, ",")
			name, params, _ := strings.Cut(item, ";")
			e, ok := parseCoding(strings.TrimSpace(name))
			if !ok {
				continue
			}
			v := parseQ(params)
			if v > q[e] {
				q[e] = v
			}
		}
	}
}

func pick(q *[numEncodings]int, enabled [numEncodings]bool) Encoding {
	best, bestQ := Identity, 0
	for e := Gzip; e < numEncodings; e++ {
		if !enabled[e] || q[e] <= 0 {
			continue
		}
		if q[e] > bestQ || (q[e] == bestQ && preference[e] > preference[best]) {
			best, bestQ = e, q[e]
		}
	}
	return best
}

func parseCoding(s string) (Encoding, bool) {
	switch {
	case strings.EqualFold(s, "br"):
		return Brotli, true
	case strings.EqualFold(s, "zstd"):
		return Zstd, true
	case strings.EqualFold(s, "gzip"), strings.EqualFold(s, "x-gzip"):
		return Gzip, true
	}
	return Identity, false
}

// parseQ reads ";q=0.5" style parameters as thousandths; a missing or
// malformed q counts as 1 for a missing one and 0 for a malformed one, so a
// garbled header never makes us pick a coding the client refused.
func parseQ(params string) int {
	for len(params) > 0 {
		var p string
		p, params, _ = strings.Cut(params, ";")
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		return qvalue(strings.TrimSpace(v))
	}
	return 1000
}

func qvalue(s string) int {
	if s == "" || len(s) > 5 {
		return 0
	}
	switch s[0] {
	case '1':
		for i := 1; i < len(s); i++ {
			if s[i] != '.' && s[i] != '0' || (s[i] == '.' && i != 1) {
				return 0
			}
		}
		return 1000
	case '0':
		if len(s) == 1 {
			return 0
		}
		if s[1] != '.' {
			return 0
		}
		v, scale := 0, 100
		for i := 2; i < len(s); i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return 0
			}
			v += int(c-'0') * scale
			scale /= 10
		}
		return v
	}
	return 0
}

// Parse returns the content coding a name denotes ("br", "zstd", "gzip" or
// "x-gzip", any case); false for others, identity included.
func Parse(name string) (Encoding, bool) { return parseCoding(name) }
