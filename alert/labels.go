package alert

import (
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Label names the dispatcher fills in from an alert's fields, so routes,
// silences and inhibition rules can match on them as on any label.
const (
	LabelAlertname = "alertname"
	LabelSeverity  = "severity"
	LabelSource    = "source"
	// LabelEvent "true" marks a one-time notice (a rollback, a scaling
	// decision): it is notified when it fires and its resolution is not.
	LabelEvent = "event"
)

// LabelSet is the identity of an alert: its labels plus alertname (the
// title when the labels have none), severity and source. Two alerts with
// the same set are the same alert, firing on.
func LabelSet(a Alert) map[string]string {
	ls := make(map[string]string, len(a.Labels)+3)
	for k, v := range a.Labels {
		// As in Prometheus, an empty value is no label.
		if v != "" {
			ls[k] = v
		}
	}
	if ls[LabelAlertname] == "" {
		ls[LabelAlertname] = oneLine(a.Title)
	}
	if a.Severity != "" {
		ls[LabelSeverity] = a.Severity
	}
	if a.Source != "" {
		ls[LabelSource] = a.Source
	}
	return ls
}

// Fingerprint hashes a label set as Alertmanager does: FNV-64a over the
// names and values in name order, each followed by a 0xff separator.
func Fingerprint(ls map[string]string) uint64 {
	h := fnv.New64a()
	for _, k := range slices.Sorted(maps.Keys(ls)) {
		h.Write([]byte(k))
		h.Write([]byte{0xff})
		h.Write([]byte(ls[k]))
		h.Write([]byte{0xff})
	}
	return h.Sum64()
}

// MatchType is how a Matcher compares a label's value.
type MatchType string

// The four match types of Alertmanager's matchers.
const (
	MatchEqual     MatchType = "="
	MatchNotEqual  MatchType = "!="
	MatchRegexp    MatchType = "=~"
	MatchNotRegexp MatchType = "!~"
)

// Matcher selects alerts by one label, as in Alertmanager's silences and
// inhibition rules. A missing label matches as the empty string.
type Matcher struct {
	Name  string    `json:"name"`
	Type  MatchType `json:"type"`
	Value string    `json:"value"`
	re    *regexp.Regexp
}

// NewMatcher validates and compiles a matcher. Regular expressions are
// anchored at both ends.
func NewMatcher(name string, t MatchType, value string) (Matcher, error) {
	m := Matcher{Name: name, Type: t, Value: value}
	if !validLabelName(name) {
		return m, fmt.Errorf("matcher: label name %q must be letters, digits and underscores, not starting with a digit", truncate(name, 60))
	}
	switch t {
	case MatchEqual, MatchNotEqual:
	case MatchRegexp, MatchNotRegexp:
		re, err := regexp.Compile("^(?:" + value + ")$")
		if err != nil {
			return m, fmt.Errorf("matcher %s: %w", name, err)
		}
		m.re = re
	default:
		return m, fmt.Errorf("matcher %s: unknown match type %q (want =, !=, =~ or !~)", name, truncate(string(t), 10))
	}
	return m, nil
}

// ParseMatcher reads a matcher as amtool writes it: name=value,
// name!=value, name=~regexp or name!~regexp, the value optionally in
// double quotes with Go escapes.
func ParseMatcher(s string) (Matcher, error) {
	s = strings.TrimSpace(s)
	i := strings.IndexAny(s, "=!")
	if i <= 0 {
		return Matcher{}, fmt.Errorf("matcher %q: want name=value, name!=value, name=~re or name!~re", truncate(s, 60))
	}
	name, rest := strings.TrimSpace(s[:i]), s[i:]
	var t MatchType
	for _, c := range []MatchType{MatchNotRegexp, MatchRegexp, MatchNotEqual, MatchEqual} {
		if strings.HasPrefix(rest, string(c)) {
			t = c
			break
		}
	}
	if t == "" {
		return Matcher{}, fmt.Errorf("matcher %q: want name=value, name!=value, name=~re or name!~re", truncate(s, 60))
	}
	value := strings.TrimSpace(rest[len(t):])
	if strings.HasPrefix(value, `"`) {
		v, err := strconv.Unquote(value)
		if err != nil {
			return Matcher{}, fmt.Errorf("matcher %q: bad quoted value", truncate(s, 60))
		}
		value = v
	}
	return NewMatcher(name, t, value)
}

// ParseMatchers reads a comma-separated list such as
// `alertname="status",severity=~"warning|critical"` (braces optional).
func ParseMatchers(s string) ([]Matcher, error) {
	s = strings.TrimSpace(s)
	s = strings.TrimSuffix(strings.TrimPrefix(s, "{"), "}")
	var out []Matcher
	for _, part := range splitMatchers(s) {
		if strings.TrimSpace(part) == "" {
			continue
		}
		m, err := ParseMatcher(part)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	if len(out) == 0 {
		return nil, errors.New("no matcher")
	}
	return out, nil
}

// splitMatchers splits at commas outside double quotes.
func splitMatchers(s string) []string {
	var out []string
	quoted, escaped, start := false, false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case escaped:
			escaped = false
		case c == '\\' && quoted:
			escaped = true
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func validLabelName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if c != '_' && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// compile fills in the regular expression of a matcher decoded from JSON.
func (m *Matcher) compile() error {
	c, err := NewMatcher(m.Name, m.Type, m.Value)
	if err != nil {
		return err
	}
	*m = c
	return nil
}

// Matches reports whether the label set satisfies the matcher.
func (m Matcher) Matches(ls map[string]string) bool {
	v := ls[m.Name]
	switch m.Type {
	case MatchEqual:
		return v == m.Value
	case MatchNotEqual:
		return v != m.Value
	case MatchRegexp:
		return m.re != nil && m.re.MatchString(v)
	case MatchNotRegexp:
		return m.re != nil && !m.re.MatchString(v)
	}
	return false
}

func (m Matcher) String() string {
	return m.Name + string(m.Type) + strconv.Quote(m.Value)
}

// matchAll reports whether every matcher matches.
func matchAll(ms []Matcher, ls map[string]string) bool {
	for _, m := range ms {
		if !m.Matches(ls) {
			return false
		}
	}
	return true
}
