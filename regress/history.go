package regress

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// MetricChange is a lasting shift in one metric of a history: where it
// began, which way it went (a regression is worse, an improvement better,
// by the metric's direction), how large, with what confidence, and which of
// the seed's four kinds it is.
type MetricChange struct {
	Metric      string      `json:"metric"`
	Class       Class       `json:"type"`
	Change      Change      `json:"change"` // Regression (worse) or Improvement (better)
	ChangePoint ChangePoint `json:"change_point"`
	// DeltaPct is the change of the median, after the change point over
	// before it, in percent.
	DeltaPct float64 `json:"delta_pct"`
	// Ratio is the median after over the median before, with its
	// bootstrap confidence interval.
	Ratio Ratio `json:"median_ratio"`
	// P is the Mann–Whitney p-value, corrected across the metrics of the
	// history; Confidence is 1-P.
	P          float64 `json:"p"`
	Confidence float64 `json:"confidence"`
	Before     Summary `json:"before"`
	After      Summary `json:"after"`
}

// HistoryOptions configure DetectRegressions; the zero value uses
// DefaultDetectOptions and the moderate comparison with Holm's correction.
type HistoryOptions struct {
	Detect  *DetectOptions
	Compare CompareOptions
}

// DetectRegressions is the seed's detectRegression(metricsHistory): it
// finds the last change point of each metric of a history, compares the
// segment after it with the one before, and reports every significant,
// large enough shift, worse or better, in metric order. The p-values are
// corrected across the metrics, so ten noisy series do not yield a false
// alarm more often than one.
func DetectRegressions(history []Series, o HistoryOptions) ([]MetricChange, error) {
	do := DefaultDetectOptions()
	if o.Detect != nil {
		do = *o.Detect
	}
	if o.Compare.Correction == "" {
		o.Compare.Correction = CorrectHolm
	}
	before, after := map[string][]float64{}, map[string][]float64{}
	points := map[string]ChangePoint{}
	for _, s := range history {
		if s.Name == "" {
			return nil, errors.New("regress: every series of a history needs a name")
		}
		if _, dup := points[s.Name]; dup {
			return nil, fmt.Errorf("regress: metric %q appears twice in the history", s.Name)
		}
		cps, err := DetectSeries(s, do)
		if err != nil && !errors.Is(err, ErrEmptySeries) {
			return nil, fmt.Errorf("regress: %s: %w", s.Name, err)
		}
		if len(cps) == 0 {
			continue
		}
		last := cps[len(cps)-1]
		start := 0
		if len(cps) > 1 {
			start = cps[len(cps)-2].Index
		}
		points[s.Name] = last
		before[s.Name] = s.Values[start:last.Index]
		after[s.Name] = s.Values[last.Index:]
	}
	if len(points) == 0 {
		return []MetricChange{}, nil
	}
	cs, err := CompareMetrics(before, after, o.Compare)
	if err != nil {
		return nil, err
	}
	out := []MetricChange{}
	for _, c := range cs {
		if c.Change != Regression && c.Change != Improvement {
			continue
		}
		out = append(out, MetricChange{
			Metric: c.Metric, Class: c.Class, Change: c.Change, ChangePoint: points[c.Metric],
			DeltaPct: c.DeltaPct, Ratio: c.Ratio, P: c.P, Confidence: 1 - c.P,
			Before: c.Baseline, After: c.Candidate,
		})
	}
	return out, nil
}

// ReadHistory reads several metrics over the same time: CSV with a header
// naming a time (or timestamp) column, optional, and one column per metric;
// or a JSON object of metric names to arrays of numbers (null for a missing
// value). Missing cells are NaN. It keeps at most o.MaxPoints values in
// all.
func ReadHistory(r io.Reader, o ReadOptions) ([]Series, error) {
	if o.MaxPoints <= 0 {
		o.MaxPoints = DefaultMaxPoints
	}
	br := bufio.NewReaderSize(r, 64<<10)
	first, err := firstByte(br)
	if err != nil {
		return nil, err
	}
	if first == '{' {
		return readHistoryJSON(br, o)
	}
	return readHistoryCSV(br, o)
}

func firstByte(br *bufio.Reader) (byte, error) {
	if b, _ := br.Peek(3); bytes.Equal(b, []byte("\xEF\xBB\xBF")) {
		_, _ = br.Discard(3)
	}
	for {
		b, err := br.Peek(1)
		if errors.Is(err, io.EOF) {
			return 0, ErrEmptySeries
		}
		if err != nil {
			return 0, err
		}
		if c := b[0]; c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return c, nil
		}
		_, _ = br.ReadByte()
	}
}

func readHistoryCSV(r io.Reader, o ReadOptions) ([]Series, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("regress: history header: %w", err)
	}
	timeCol := -1
	var out []Series
	cols := map[int]int{} // CSV column -> index into out
	seen := map[string]bool{}
	for i, h := range header {
		name := strings.TrimSpace(h)
		switch {
		case strings.EqualFold(name, "time") || strings.EqualFold(name, "timestamp"):
			if timeCol >= 0 {
				return nil, errors.New("regress: history header has two time columns")
			}
			timeCol = i
		case name == "":
			return nil, fmt.Errorf("regress: history header column %d has no name", i+1)
		case seen[name]:
			return nil, fmt.Errorf("regress: history header names %q twice", name)
		default:
			if _, err := strconv.ParseFloat(name, 64); err == nil {
				return nil, fmt.Errorf("regress: history needs a header row naming its metrics, got %q", name)
			}
			seen[name] = true
			cols[i] = len(out)
			out = append(out, Series{Name: name})
		}
	}
	if len(out) == 0 {
		return nil, errors.New("regress: history header names no metric column")
	}
	total := 0
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("regress: history: %w", err)
		}
		if len(rec) != len(header) {
			return nil, fmt.Errorf("regress: history line %d has %d fields, the header %d", line, len(rec), len(header))
		}
		total += len(out)
		if total > o.MaxPoints {
			return nil, fmt.Errorf("%w: more than %d values", ErrTooLarge, o.MaxPoints)
		}
		for i, cell := range rec {
			if i == timeCol {
				for j := range out {
					out[j].Times = append(out[j].Times, strings.TrimSpace(cell))
				}
				continue
			}
			v, _, err := parseCell(cell)
			if err != nil {
				return nil, fmt.Errorf("regress: history line %d, column %s: %w", line, header[i], err)
			}
			s := &out[cols[i]]
			s.Values = append(s.Values, v)
		}
	}
	return out, nil
}

func readHistoryJSON(r io.Reader, o ReadOptions) ([]Series, error) {
	dec := json.NewDecoder(r)
	var raw map[string][]*float64
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf(`regress: history JSON must be an object {"metric": [numbers...]}: %w`, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("regress: history JSON must hold exactly one object")
	}
	total := 0
	out := make([]Series, 0, len(raw))
	for _, name := range slices.Sorted(maps.Keys(raw)) {
		if strings.TrimSpace(name) == "" {
			return nil, errors.New("regress: history JSON has a metric without a name")
		}
		total += len(raw[name])
		if total > o.MaxPoints {
			return nil, fmt.Errorf("%w: more than %d values", ErrTooLarge, o.MaxPoints)
		}
		s := Series{Name: name, Values: make([]float64, len(raw[name]))}
		for i, v := range raw[name] {
			s.Values[i] = math.NaN()
			if v != nil {
				s.Values[i] = *v
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// IsHistory reports whether data (the start of a file) holds several
// metrics, as ReadHistory reads them, rather than one series: a JSON
// object, or a CSV header with more than one column besides time.
func IsHistory(data []byte) bool {
	data = bytes.TrimLeft(bytes.TrimPrefix(data, []byte("\xEF\xBB\xBF")), " \t\r\n")
	if len(data) == 0 {
		return false
	}
	if data[0] == '{' {
		return true
	}
	if data[0] == '[' {
		return false
	}
	line, _, _ := bytes.Cut(data, []byte("\n"))
	metrics := 0
	for _, f := range strings.Split(strings.TrimSpace(string(line)), ",") {
		f = strings.TrimSpace(f)
		if _, err := strconv.ParseFloat(f, 64); err == nil {
			return false // a data row: no header
		}
		if !strings.EqualFold(f, "time") && !strings.EqualFold(f, "timestamp") && !strings.EqualFold(f, "value") {
			metrics++
		}
	}
	return metrics > 1
}
