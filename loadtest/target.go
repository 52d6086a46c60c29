package loadtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Target is one request the generator sends. The zero Method is GET.
type Target struct {
	Method string      `json:"method,omitempty"`
	URL    string      `json:"url"`
	Header http.Header `json:"header,omitempty"`
	Body   []byte      `json:"body,omitempty"`
	// Weight is the target's share with weighted selection; zero means 1.
	Weight int `json:"weight,omitempty"`
}

// maxTargetsLine bounds one line of a targets file, so a file without line
// breaks cannot exhaust memory.
const maxTargetsLine = 1 << 20

// MaxTargets bounds how many targets a file may hold.
const MaxTargets = 100_000

// targetLine is the JSON shape of one targets-file line. Body may be given
// as text ("body") or base64 ("body_base64"); headers as strings or lists.
type targetLine struct {
	Method     string                     `json:"method"`
	URL        string                     `json:"url"`
	Header     map[string]json.RawMessage `json:"header"`
	Headers    map[string]json.RawMessage `json:"headers"`
	Body       *string                    `json:"body"`
	BodyBase64 []byte                     `json:"body_base64"`
	Weight     int                        `json:"weight"`
}

// ReadTargets reads targets as JSON lines: one object a line, for example
//
//	{"method":"POST","url":"http://127.0.0.1:8080/api","header":{"Content-Type":"application/json"},"body":"{}","weight":3}
//
// Blank lines and lines starting with # are skipped. Every broken line is
// reported with its line number in one joined error.
func ReadTargets(r io.Reader) ([]Target, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxTargetsLine)
	var (
		out  []Target
		errs []error
		n    int
	)
	for sc.Scan() {
		n++
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		t, err := parseTargetLine(line)
		if err != nil {
			errs = append(errs, fmt.Errorf("line %d: %w", n, err))
			if len(errs) >= 20 {
				errs = append(errs, errors.New("too many errors, stopped"))
				return nil, errors.Join(errs...)
			}
			continue
		}
		if len(out) >= MaxTargets {
			return nil, fmt.Errorf("line %d: more than %d targets", n, MaxTargets)
		}
		out = append(out, t)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			err = fmt.Errorf("line longer than %d bytes", maxTargetsLine)
		}
		errs = append(errs, fmt.Errorf("line %d: %w", n+1, err))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(out) == 0 {
		return nil, errors.New("no targets")
	}
	return out, nil
}

func parseTargetLine(line []byte) (Target, error) {
	var tl targetLine
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&tl); err != nil {
		return Target{}, fmt.Errorf("invalid JSON: %w", err)
	}
	if dec.More() {
		return Target{}, errors.New("more than one JSON value")
	}
	t := Target{Method: strings.ToUpper(tl.Method), URL: tl.URL, Weight: tl.Weight}
	if tl.Body != nil && tl.BodyBase64 != nil {
		return Target{}, errors.New("both body and body_base64 given")
	}
	if tl.Body != nil {
		t.Body = []byte(*tl.Body)
	} else {
		t.Body = tl.BodyBase64
	}
	for _, hs := range []map[string]json.RawMessage{tl.Header, tl.Headers} {
		for k, raw := range hs {
			if t.Header == nil {
				t.Header = http.Header{}
			}
			var one string
			if err := json.Unmarshal(raw, &one); err == nil {
				t.Header.Add(k, one)
				continue
			}
			var many []string
			if err := json.Unmarshal(raw, &many); err != nil {
				return Target{}, fmt.Errorf("header %q: want a string or a list of strings", k)
			}
			for _, v := range many {
				t.Header.Add(k, v)
			}
		}
	}
	if err := t.validate(); err != nil {
		return Target{}, err
	}
	return t, nil
}

func (t Target) validate() error {
	if t.URL == "" {
		return errors.New("url is required")
	}
	u, err := url.Parse(t.URL)
	if err != nil {
		return fmt.Errorf("url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("url %q: scheme must be http or https", t.URL)
	}
	if u.Host == "" {
		return fmt.Errorf("url %q: missing host", t.URL)
	}
	if t.Weight < 0 || t.Weight > 1_000_000 {
		return fmt.Errorf("weight %d: must be 0..1000000", t.Weight)
	}
	if t.Method != "" && !validMethod(t.Method) {
		return fmt.Errorf("method %q: not a valid HTTP method token", t.Method)
	}
	for k, vs := range t.Header {
		if !validMethod(k) {
			return fmt.Errorf("header %q: not a valid name", k)
		}
		for _, v := range vs {
			if strings.ContainsAny(v, "\r\n\x00") {
				return fmt.Errorf("header %q: value contains a control character", k)
			}
		}
	}
	return nil
}

func validMethod(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return false
		}
	}
	return true
}

// Selection is how the next target is chosen.
type Selection string

// Selections.
const (
	// RoundRobin cycles through the targets in order.
	RoundRobin Selection = "round-robin"
	// Weighted picks targets in proportion to their Weight, interleaved
	// smoothly (nginx's smooth weighted round robin), so it is deterministic
	// and needs no random source on the hot path.
	Weighted Selection = "weighted"
)

// sequence expands the selection into the cycle of target indexes that
// workers walk with an atomic counter.
func sequence(ts []Target, sel Selection) []int {
	if sel != Weighted {
		seq := make([]int, len(ts))
		for i := range seq {
			seq[i] = i
		}
		return seq
	}
	weights := make([]int, len(ts))
	total := 0
	for i, t := range ts {
		w := max(t.Weight, 1)
		weights[i] = w
		total += w
	}
	// Reduce by the common divisor so 50/50 gives a cycle of 2, not 100.
	g := 0
	for _, w := range weights {
		g = gcd(g, w)
	}
	total /= g
	// Bound the cycle: long cycles keep exact proportions but cost memory.
	const maxCycle = 1 << 20
	if total > maxCycle {
		scale := float64(maxCycle) / float64(total)
		total = 0
		for i := range weights {
			weights[i] = max(int(float64(weights[i]/g)*scale), 1)
			total += weights[i]
		}
		g = 1
	}
	cur := make([]int, len(ts))
	seq := make([]int, 0, total)
	for range total {
		best := 0
		for i := range weights {
			cur[i] += weights[i] / g
			if cur[i] > cur[best] {
				best = i
			}
		}
		cur[best] -= total
		seq = append(seq, best)
	}
	return seq
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
