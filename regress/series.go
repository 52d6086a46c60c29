package regress

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/perfengine/perfengine/metrics"
	"github.com/perfengine/perfengine/store"
)

// Series is one metric over time. Values holds NaN where a value is missing.
// Times, when present, has one entry per value, as written in the source
// (empty where the source had none).
type Series struct {
	Name   string    `json:"name,omitempty"`
	Values []float64 `json:"values"`
	Times  []string  `json:"times,omitempty"`
}

// DefaultMaxPoints bounds how many points ReadSeries keeps when asked for 0:
// enough for weeks of per-second data, small enough (8 MB of values) that a
// runaway file cannot exhaust memory.
const DefaultMaxPoints = 1_000_000

// ErrTooLarge means a source holds more points than allowed. The reader
// stops at the first point past the limit, so memory stays bounded.
var ErrTooLarge = errors.New("regress: series too large")

// ReadOptions bound a read.
type ReadOptions struct {
	// MaxPoints is the most points kept; default DefaultMaxPoints.
	MaxPoints int
}

// ReadSeries reads a series, streaming, from CSV or JSON, told apart by the
// first non-blank byte ('[' is JSON).
//
// CSV: a header row naming a "value" column and optionally a "time" (or
// "timestamp") column, or any two columns read as time then value; or no
// header and one number a line, or "time,value" pairs. JSON: an array of numbers, or of objects {"time": t, "value": v}
// where t is a string or a number.
//
// Missing values (an empty cell, NaN, NA, null, "-") are kept as NaN; ±Inf
// and text that is not a number are errors naming the line (CSV) or the
// element and byte offset (JSON).
func ReadSeries(r io.Reader, o ReadOptions) (Series, error) {
	if o.MaxPoints <= 0 {
		o.MaxPoints = DefaultMaxPoints
	}
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		b, err := br.Peek(1)
		if err == io.EOF {
			return Series{}, ErrEmptySeries
		}
		if err != nil {
			return Series{}, fmt.Errorf("read series: %w", err)
		}
		switch {
		case b[0] == ' ' || b[0] == '\t' || b[0] == '\r' || b[0] == '\n':
			br.ReadByte() //nolint:errcheck // peeked above
			continue
		case b[0] == 0xEF: // UTF-8 byte order mark
			if bom, _ := br.Peek(3); bytes.Equal(bom, []byte{0xEF, 0xBB, 0xBF}) {
				br.Discard(3) //nolint:errcheck // peeked above
				continue
			}
		case b[0] == '[':
			return readJSON(br, o)
		case b[0] == '{':
			return Series{}, errors.New("read series: JSON input must be an array of numbers or of {time, value} objects")
		}
		return readCSV(br, o)
	}
}

// parseCell parses one value: ok=false with err=nil means missing.
func parseCell(s string) (float64, bool, error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "", "nan", "na", "n/a", "null", "none", "-":
		return math.NaN(), false, nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
			return 0, false, fmt.Errorf("%q is out of the float64 range", s)
		}
		return 0, false, fmt.Errorf("%q is not a number", s)
	}
	if math.IsInf(v, 0) {
		return 0, false, fmt.Errorf("%q is infinite", s)
	}
	return v, true, nil
}

func isNumberish(s string) bool {
	_, _, err := parseCell(s)
	return err == nil
}

func readCSV(r io.Reader, o ReadOptions) (Series, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true
	cr.Comment = '#'
	var s Series
	valueCol, timeCol, width := -1, -1, 0
	first := true
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return Series{}, fmt.Errorf("read csv: %w", err)
		}
		line, _ := cr.FieldPos(0)
		if first {
			first = false
			width = len(rec)
			header := false
			for _, c := range rec {
				if !isNumberish(c) {
					header = true
				}
			}
			if header {
				for i, c := range rec {
					switch strings.ToLower(strings.TrimSpace(c)) {
					case "value", "values", "y":
						valueCol = i
					case "time", "timestamp", "ts", "date", "datetime":
						timeCol = i
					}
				}
				if valueCol < 0 && len(rec) == 1 {
					valueCol = 0
					s.Name = strings.TrimSpace(rec[0])
				}
				if valueCol < 0 && len(rec) == 2 && timeCol != 1 {
					// Two unnamed columns read as time,value, as they do
					// without a header.
					timeCol, valueCol = 0, 1
					s.Name = strings.TrimSpace(rec[1])
				}
				if valueCol < 0 {
					return Series{}, fmt.Errorf("read csv: line %d: header has no \"value\" column", line)
				}
				continue
			}
			switch len(rec) {
			case 1:
				valueCol = 0
			case 2:
				timeCol, valueCol = 0, 1
			default:
				return Series{}, fmt.Errorf("read csv: line %d: %d columns without a header; want one value a line, or time,value", line, len(rec))
			}
		}
		if len(rec) != width {
			if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
				continue // blank line inside quotes-free files
			}
			return Series{}, fmt.Errorf("read csv: line %d: %d columns, want %d like the first line", line, len(rec), width)
		}
		if len(s.Values) >= o.MaxPoints {
			return Series{}, fmt.Errorf("read csv: line %d: %w: more than %d points", line, ErrTooLarge, o.MaxPoints)
		}
		v, _, err := parseCell(rec[valueCol])
		if err != nil {
			return Series{}, fmt.Errorf("read csv: line %d: %w", line, err)
		}
		s.Values = append(s.Values, v)
		if timeCol >= 0 {
			s.Times = append(s.Times, strings.TrimSpace(rec[timeCol]))
		}
	}
	if len(s.Values) == 0 {
		return Series{}, fmt.Errorf("read csv: %w", ErrEmptySeries)
	}
	return s, nil
}

func readJSON(r io.Reader, o ReadOptions) (Series, error) {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	if _, err := dec.Token(); err != nil { // '['
		return Series{}, fmt.Errorf("read json: %w", err)
	}
	var s Series
	hasTimes := false
	for i := 0; dec.More(); i++ {
		if len(s.Values) >= o.MaxPoints {
			return Series{}, fmt.Errorf("read json: element %d: %w: more than %d points", i, ErrTooLarge, o.MaxPoints)
		}
		off := dec.InputOffset()
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return Series{}, fmt.Errorf("read json: element %d (byte %d): %w", i, off, err)
		}
		v, t, hasT, err := parseJSONPoint(raw)
		if err != nil {
			return Series{}, fmt.Errorf("read json: element %d (byte %d): %w", i, off, err)
		}
		if hasT && !hasTimes {
			hasTimes = true
			s.Times = make([]string, len(s.Values), cap(s.Values))
		}
		s.Values = append(s.Values, v)
		if hasTimes {
			s.Times = append(s.Times, t)
		}
	}
	if _, err := dec.Token(); err != nil { // ']'
		return Series{}, fmt.Errorf("read json: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Series{}, fmt.Errorf("read json: unexpected data after the array (byte %d)", dec.InputOffset())
	}
	if len(s.Values) == 0 {
		return Series{}, fmt.Errorf("read json: %w", ErrEmptySeries)
	}
	return s, nil
}

func parseJSONPoint(raw json.RawMessage) (v float64, t string, hasT bool, err error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return 0, "", false, errors.New("empty element")
	}
	switch raw[0] {
	case '{':
		var p map[string]json.RawMessage
		if err := json.Unmarshal(raw, &p); err != nil {
			return 0, "", false, err
		}
		vr, ok := p["value"]
		if !ok {
			return 0, "", false, errors.New(`object has no "value"`)
		}
		if v, err = parseJSONScalar(vr); err != nil {
			return 0, "", false, fmt.Errorf("value: %w", err)
		}
		tr, ok := p["time"]
		if !ok {
			tr, ok = p["timestamp"]
		}
		if ok {
			var ts string
			if err := json.Unmarshal(tr, &ts); err != nil {
				var n json.Number
				if err2 := json.Unmarshal(tr, &n); err2 != nil {
					return 0, "", false, errors.New("time must be a string or a number")
				}
				ts = n.String()
			}
			return v, ts, true, nil
		}
		return v, "", false, nil
	default:
		v, err = parseJSONScalar(raw)
		return v, "", false, err
	}
}

func parseJSONScalar(raw json.RawMessage) (float64, error) {
	raw = bytes.TrimSpace(raw)
	if string(raw) == "null" {
		return math.NaN(), nil
	}
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, err
		}
		v, _, err := parseCell(s)
		return v, err
	}
	if len(raw) == 0 || !(raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9')) {
		return 0, fmt.Errorf("%s is not a number", truncate(string(raw), 40))
	}
	v, _, err := parseCell(string(raw))
	return v, err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// SeriesFromStore reads one series from the engine's store: the samples of
// q (a name, optionally exact labels, a time range), oldest first, with
// RFC 3339 times. Samples of several label sets under one name are
// interleaved by time, so name labels when more than one series exists.
func SeriesFromStore(ctx context.Context, st store.Store, q store.SampleQuery) (Series, error) {
	samples, err := st.QuerySamples(ctx, q)
	if err != nil {
		return Series{}, fmt.Errorf("query samples: %w", err)
	}
	if len(samples) == 0 {
		return Series{}, fmt.Errorf("series %s: %w", metrics.SeriesKey(q.Name, q.Labels), ErrEmptySeries)
	}
	s := Series{Name: metrics.SeriesKey(q.Name, q.Labels), Values: make([]float64, len(samples)), Times: make([]string, len(samples))}
	for i, smp := range samples {
		v := smp.Value
		if math.IsInf(v, 0) {
			v = math.NaN()
		}
		s.Values[i] = v
		s.Times[i] = smp.Time.UTC().Format(time.RFC3339Nano)
	}
	return s, nil
}
