package regress

import (
	"errors"
	"io"
	"math"
	"strings"
	"testing"
)

func TestReadSeries(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name   string
		in     string
		values []float64
		times  []string
		err    string // substring of the error; "" for none
	}{
		{"one number a line", "1\n2.5\n-3e2\n", []float64{1, 2.5, -300}, nil, ""},
		{"header value", "value\n1\n2\n", []float64{1, 2}, nil, ""},
		{"header time value", "time,value\n2026-01-01T00:00:00Z,1\n2026-01-01T00:01:00Z,2\n", []float64{1, 2}, []string{"2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z"}, ""},
		{"value column elsewhere", "host,Value,ts\na,1,10\nb,2,20\n", []float64{1, 2}, []string{"10", "20"}, ""},
		{"pairs without header", "10,1\n20,2\n", []float64{1, 2}, []string{"10", "20"}, ""},
		{"missing cells", "value\n1\n\nNaN\nnull\n2\n", []float64{1, nan, nan, 2}, nil, ""},
		{"bom and blank lead", "\ufeff\n\n 1\n2\n", []float64{1, 2}, nil, ""},
		{"comment lines", "# exported\nvalue\n1\n", []float64{1}, nil, ""},
		{"not a number", "value\n1\nabc\n", nil, nil, `line 3: "abc" is not a number`},
		{"infinite", "1\n+Inf\n", nil, nil, `line 2: "+Inf" is infinite`},
		{"overflow", "1\n1e999\n", nil, nil, "out of the float64 range"},
		{"ragged", "time,value\n1,2\n3\n", nil, nil, "line 3: 1 columns, want 2"},
		{"two named columns", "t,x\n1,2\n", []float64{2}, []string{"1"}, ""},
		{"no value column", "a,b,c\n1,2,3\n", nil, nil, `no "value" column`},
		{"three columns no header", "1,2,3\n", nil, nil, "3 columns without a header"},
		{"header only", "value\n", nil, nil, "empty series"},
		{"empty", "", nil, nil, "empty series"},
		{"json numbers", "[1, 2.5, null, 3]", []float64{1, 2.5, nan, 3}, nil, ""},
		{"json objects", `[{"time":"a","value":1},{"time":2,"value":"3"}]`, []float64{1, 3}, []string{"a", "2"}, ""},
		{"json object without value", `[{"time":"a"}]`, nil, nil, `element 0 (byte 1): object has no "value"`},
		{"json bad element", `[1, true]`, nil, nil, "element 1"},
		{"json trailing", `[1] [2]`, nil, nil, "unexpected data after the array"},
		{"json truncated", `[1, 2`, nil, nil, "read json"},
		{"json object root", `{"values":[1]}`, nil, nil, "must be an array"},
		{"json empty", `[]`, nil, nil, "empty series"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ReadSeries(strings.NewReader(tc.in), ReadOptions{})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ReadSeries(%q) error = %v, want it to contain %q", tc.in, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ReadSeries(%q) = %v", tc.in, err)
			}
			if !sameFloats(s.Values, tc.values) || strings.Join(s.Times, "|") != strings.Join(tc.times, "|") {
				t.Errorf("ReadSeries(%q) = %v %q, want %v %q", tc.in, s.Values, s.Times, tc.values, tc.times)
			}
		})
	}
}

func sameFloats(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] && !(math.IsNaN(a[i]) && math.IsNaN(b[i])) {
			return false
		}
	}
	return true
}

// lines yields "1\n" forever without holding it in memory.
type lines struct{ n, max int }

func (l *lines) Read(p []byte) (int, error) {
	i := 0
	for ; i+2 <= len(p) && l.n < l.max; l.n++ {
		p[i], p[i+1] = '1', '\n'
		i += 2
	}
	if i == 0 {
		return 0, io.EOF
	}
	return i, nil
}

func TestReadSeriesLimit(t *testing.T) {
	// Ten million lines: the reader stops at the limit instead of keeping
	// them all.
	src := &lines{max: 10_000_000}
	_, err := ReadSeries(src, ReadOptions{MaxPoints: 1000})
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "line 1001") {
		t.Fatalf("ReadSeries(10M lines) error = %v, want ErrTooLarge at line 1001", err)
	}
	if src.n > 200_000 {
		t.Errorf("read %d lines before failing, want about the limit plus one buffer", src.n)
	}
	_, err = ReadSeries(strings.NewReader("[1,2,3]"), ReadOptions{MaxPoints: 2})
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("ReadSeries(json over limit) error = %v, want ErrTooLarge", err)
	}
}

func FuzzReadSeries(f *testing.F) {
	for _, s := range []string{
		"1\n2\n3\n", "time,value\nx,1\n", "value\n\nNaN\n", `[1,2,null]`,
		`[{"time":"t","value":1}]`, `[{"value":"NaN"}]`, "\"a\nb\",1\n", "[", "{}", "1e999\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ReadSeries(strings.NewReader(string(data)), ReadOptions{MaxPoints: 10_000})
		if err != nil {
			return
		}
		if len(s.Values) == 0 {
			t.Fatal("nil error with no values")
		}
		if s.Times != nil && len(s.Times) != len(s.Values) {
			t.Fatalf("%d times for %d values", len(s.Times), len(s.Values))
		}
		for _, v := range s.Values {
			if math.IsInf(v, 0) {
				t.Fatal("infinite value accepted")
			}
		}
		// Whatever reads must be analysable without panicking.
		if _, err := Detect(s.Values, DefaultDetectOptions()); err != nil && !errors.Is(err, ErrEmptySeries) {
			t.Fatalf("Detect: %v", err)
		}
	})
}
