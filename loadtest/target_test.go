package loadtest

import (
	"strings"
	"testing"
)

func TestReadTargets(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []Target
		wantErr []string
	}{
		{name: "two lines with comment and blank", in: "# targets\n{\"url\":\"http://h/a\"}\n\n{\"method\":\"post\",\"url\":\"http://h/b\",\"body\":\"{}\",\"header\":{\"X-A\":\"1\",\"X-B\":[\"2\",\"3\"]},\"weight\":3}\n",
			want: []Target{{URL: "http://h/a"}, {Method: "POST", URL: "http://h/b", Body: []byte("{}"), Weight: 3}}},
		{name: "base64 body", in: `{"url":"https://h/","body_base64":"AAE="}`, want: []Target{{URL: "https://h/", Body: []byte{0, 1}}}},
		{name: "broken lines numbered", in: "{\"url\":\"http://h/\"}\nnot json\n{\"url\":\"ftp://h/\"}\n{\"url\":\"http://h/\",\"weight\":-1}\n{\"url\":\"http://h/\",\"nope\":1}\n",
			wantErr: []string{"line 2: invalid JSON", "line 3: url \"ftp://h/\": scheme must be http or https", "line 4: weight -1", "line 5: invalid JSON: json: unknown field \"nope\""}},
		{name: "missing url", in: `{"method":"GET"}`, wantErr: []string{"line 1: url is required"}},
		{name: "bad header value", in: `{"url":"http://h/","header":{"X":"a\r\nb"}}`, wantErr: []string{"line 1: header \"X\": value contains a control character"}},
		{name: "header of wrong type", in: `{"url":"http://h/","header":{"X":1}}`, wantErr: []string{"line 1: header \"X\": want a string or a list of strings"}},
		{name: "two values on a line", in: `{"url":"http://h/"} {"url":"http://h/"}`, wantErr: []string{"line 1: more than one JSON value"}},
		{name: "empty", in: "\n# nothing\n", wantErr: []string{"no targets"}},
		{name: "line too long", in: `{"url":"http://h/","body":"` + strings.Repeat("a", maxTargetsLine) + `"}`, wantErr: []string{"line 1: line longer than"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadTargets(strings.NewReader(tc.in))
			if tc.wantErr != nil {
				if err == nil {
					t.Fatalf("ReadTargets() = %v, want errors %q", got, tc.wantErr)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("ReadTargets() error = %q, want it to contain %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("ReadTargets() = %d targets, want %d", len(got), len(tc.want))
			}
			for i := range got {
				g, w := got[i], tc.want[i]
				if g.Method != w.Method || g.URL != w.URL || string(g.Body) != string(w.Body) || g.Weight != w.Weight {
					t.Errorf("target %d = %+v, want %+v", i, g, w)
				}
			}
			if tc.name == "two lines with comment and blank" {
				if h := got[1].Header; h.Get("X-A") != "1" || len(h.Values("X-B")) != 2 {
					t.Errorf("headers = %v, want X-A: 1 and two X-B", h)
				}
			}
		})
	}
}

func TestSequence(t *testing.T) {
	tests := []struct {
		name    string
		weights []int
		sel     Selection
		want    string
	}{
		{name: "round robin ignores weights", weights: []int{5, 1, 1}, sel: RoundRobin, want: "012"},
		{name: "weighted smooth", weights: []int{5, 1, 1}, sel: Weighted, want: "0010200"},
		{name: "weighted reduced by gcd", weights: []int{50, 50}, sel: Weighted, want: "01"},
		{name: "zero weight is one", weights: []int{0, 2}, sel: Weighted, want: "101"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := make([]Target, len(tc.weights))
			for i, w := range tc.weights {
				ts[i] = Target{URL: "http://h/", Weight: w}
			}
			var b strings.Builder
			for _, i := range sequence(ts, tc.sel) {
				b.WriteByte(byte('0' + i))
			}
			if b.String() != tc.want {
				t.Errorf("sequence(%v, %s) = %s, want %s", tc.weights, tc.sel, b.String(), tc.want)
			}
		})
	}
}

func TestSequenceBoundedCycle(t *testing.T) {
	ts := []Target{{URL: "http://h/", Weight: 999_983}, {URL: "http://h/", Weight: 999_979}, {URL: "http://h/", Weight: 3}}
	seq := sequence(ts, Weighted)
	if len(seq) > 1<<20 {
		t.Fatalf("cycle length %d exceeds bound", len(seq))
	}
	var n [3]int
	for _, i := range seq {
		n[i]++
	}
	if n[2] == 0 || n[0] < n[2]*1000 {
		t.Errorf("counts %v, want every target present and proportions kept", n)
	}
}

func FuzzReadTargets(f *testing.F) {
	f.Add([]byte("{\"url\":\"http://h/a\"}\n{\"method\":\"POST\",\"url\":\"https://h/b\",\"body\":\"x\",\"weight\":2}\n"))
	f.Add([]byte("# c\n\n{\"url\":\"http://h/\",\"headers\":{\"A\":[\"1\",\"2\"]},\"body_base64\":\"AA==\"}"))
	f.Add([]byte("{\"url\":\n"))
	f.Add([]byte("[1,2]\nnull\n\"s\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ts, err := ReadTargets(strings.NewReader(string(data)))
		if err != nil {
			return
		}
		for _, tg := range ts {
			if err := tg.validate(); err != nil {
				t.Fatalf("ReadTargets returned an invalid target %+v: %v", tg, err)
			}
		}
		_ = sequence(ts, Weighted)
	})
}
