package alert

import (
	"strings"
	"testing"
)

func TestParseMatchers(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // String() of each, comma-joined; empty means an error
	}{
		{`target=db`, `target="db"`},
		{`{alertname="status", severity=~"warning|critical"}`, `alertname="status",severity=~"warning|critical"`},
		{`a!=x,b!~"y.*"`, `a!="x",b!~"y.*"`},
		{`subject="a, b"`, `subject="a, b"`},
		{`subject="quote \" inside"`, `subject="quote \" inside"`},
		{`1a=x`, ""},
		{`a`, ""},
		{`=x`, ""},
		{`a=~"("`, ""},
		{``, ""},
		{`a="unterminated`, ""},
	} {
		ms, err := ParseMatchers(tc.in)
		if tc.want == "" {
			if err == nil {
				t.Errorf("ParseMatchers(%q) = %v, want an error", tc.in, ms)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseMatchers(%q): %v", tc.in, err)
			continue
		}
		var got []string
		for _, m := range ms {
			got = append(got, m.String())
		}
		if strings.Join(got, ",") != tc.want {
			t.Errorf("ParseMatchers(%q) = %s, want %s", tc.in, strings.Join(got, ","), tc.want)
		}
	}
}

func TestMatcherMatches(t *testing.T) {
	ls := map[string]string{"alertname": "slow_query", "target": "db"}
	for _, tc := range []struct {
		m    string
		want bool
	}{
		{`target=db`, true}, {`target=api`, false}, {`target!=api`, true},
		{`alertname=~"slow.*"`, true}, {`alertname=~"slow"`, false}, // anchored
		{`alertname!~"status|slow_query"`, false},
		{`missing=""`, true}, {`missing!=""`, false},
	} {
		m, err := ParseMatcher(tc.m)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Matches(ls); got != tc.want {
			t.Errorf("%s matches %v = %v, want %v", tc.m, ls, got, tc.want)
		}
	}
}

// Alertmanager's fingerprint: the same labels in any order, the same
// hash; empty values are no labels.
func TestFingerprintIgnoresOrderAndEmptyValues(t *testing.T) {
	a := LabelSet(Alert{Title: "x", Severity: "warning", Labels: map[string]string{"b": "2", "a": "1", "empty": ""}})
	b := LabelSet(Alert{Title: "x", Severity: "warning", Labels: map[string]string{"a": "1", "b": "2"}})
	if Fingerprint(a) != Fingerprint(b) {
		t.Errorf("fingerprints differ: %v %v", a, b)
	}
	c := LabelSet(Alert{Title: "x", Severity: "critical", Labels: map[string]string{"a": "1", "b": "2"}})
	if Fingerprint(a) == Fingerprint(c) {
		t.Error("severity is part of the identity")
	}
}

func FuzzParseMatchers(f *testing.F) {
	for _, s := range []string{`target=db`, `{a="x",b=~"y|z"}`, `a!~"(("`, `a="\u00ff\"",b!=c`, `,,`, `{`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ms, err := ParseMatchers(s)
		if err != nil {
			return
		}
		for _, m := range ms {
			again, err := ParseMatcher(m.String())
			if err != nil || again.String() != m.String() {
				t.Fatalf("%q: %s does not parse back: %v", s, m, err)
			}
			m.Matches(map[string]string{m.Name: m.Value})
		}
	})
}
