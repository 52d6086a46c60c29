package target

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/protobuf/encoding/protodelim"
)

// DefaultMaxBytes bounds one exposition read into memory.
const DefaultMaxBytes = 16 << 20

// maxFamilies bounds the metric families of one exposition: a target that
// sends more is misconfigured (or hostile), not a service to judge.
const maxFamilies = 20000

// acceptHeader asks for the protobuf format first, the one that carries
// native histograms, then text, as Prometheus does.
const acceptHeader = `application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3,*/*;q=0.1`

// Errors of a scrape, for errors.Is.
var (
	// ErrTooLarge means the exposition passed MaxBytes.
	ErrTooLarge = errors.New("exposition too large")
	// ErrMalformed means the exposition could not be parsed.
	ErrMalformed = errors.New("malformed exposition")
	// ErrNoSeries names the warning of an exposition that holds none of
	// the series the target derives its figures from.
	ErrNoSeries = errors.New("no request series")
)

// serviceSource scrapes a Prometheus endpoint. Safe for concurrent use,
// though the watcher calls it from one goroutine.
type serviceSource struct {
	url      string
	client   *http.Client
	maxBytes int64

	mu  sync.Mutex
	der *deriver
	buf bytes.Buffer
}

func newServiceSource(url string, client *http.Client, maxBytes int64, s Series) *serviceSource {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	return &serviceSource{url: url, client: client, maxBytes: maxBytes, der: newDeriver(s)}
}

func (s *serviceSource) scrape(ctx context.Context, now time.Time) (result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return result{}, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", acceptHeader)
	resp, err := s.client.Do(req)
	if err != nil {
		return result{}, fmt.Errorf("get %s: %w", s.url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return result{}, fmt.Errorf("get %s: HTTP %s", s.url, resp.Status)
	}
	s.buf.Reset()
	n, err := s.buf.ReadFrom(io.LimitReader(resp.Body, s.maxBytes+1))
	if err != nil {
		return result{}, fmt.Errorf("read %s: %w", s.url, err)
	}
	if n > s.maxBytes {
		return result{bytes: n}, fmt.Errorf("read %s: %w: more than %d bytes", s.url, ErrTooLarge, s.maxBytes)
	}
	format := expfmt.ResponseFormat(resp.Header)
	if format == expfmt.FmtUnknown {
		format = expfmt.FmtText
	}
	fams, err := decodeExposition(s.buf.Bytes(), format)
	if err != nil {
		return result{bytes: n}, fmt.Errorf("parse %s: %w", s.url, err)
	}
	d := s.der.derive(now, fams)
	// A large buffer from one huge answer is not kept for ever.
	if s.buf.Cap() > 4<<20 {
		s.buf = bytes.Buffer{}
	}
	r := result{samples: d.samples, version: d.version, bytes: n}
	if !d.found {
		// Not a failure: client_golang exposes a labelled series only once
		// it has been used, so an idle service has none yet.
		r.warnings = append(r.warnings, fmt.Sprintf("%v: the exposition has none of %s (no traffic yet, or set the target's series)", ErrNoSeries, d.missing))
	}
	return r, nil
}

// decodeExposition parses a whole exposition in the given format. Its
// errors wrap ErrMalformed.
func decodeExposition(b []byte, format expfmt.Format) (fams []*dto.MetricFamily, err error) {
	// The text parser has panicked on crafted input in past releases; a
	// target must never take the daemon down.
	defer func() {
		if p := recover(); p != nil {
			fams, err = nil, fmt.Errorf("%w: parser panicked: %v", ErrMalformed, p)
		}
	}()
	var dec expfmt.Decoder = expfmt.NewDecoder(bytes.NewReader(b), format)
	if format.FormatType() == expfmt.TypeProtoDelim {
		dec = &boundedProtoDecoder{r: bufio.NewReader(bytes.NewReader(b)), max: len(b)}
	}
	for {
		f := new(dto.MetricFamily)
		if err := dec.Decode(f); err != nil {
			if errors.Is(err, io.EOF) {
				return fams, nil
			}
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		if len(fams) == maxFamilies {
			return nil, fmt.Errorf("%w: more than %d metric families", ErrMalformed, maxFamilies)
		}
		fams = append(fams, f)
	}
}

// boundedProtoDecoder reads delimited MetricFamily messages no longer than
// the body that holds them. expfmt's own protobuf decoder accepts any
// declared length and allocates it before reading: a 12-byte answer
// declaring a 4 TB message took the process down with out of memory
// (found by FuzzExposition).
type boundedProtoDecoder struct {
	r   *bufio.Reader
	max int
}

func (d *boundedProtoDecoder) Decode(v *dto.MetricFamily) error {
	if err := (protodelim.UnmarshalOptions{MaxSize: int64(d.max)}).UnmarshalFrom(d.r, v); err != nil {
		return err
	}
	if !model.UTF8Validation.IsValidMetricName(v.GetName()) {
		return fmt.Errorf("invalid metric name %q", v.GetName())
	}
	for _, m := range v.GetMetric() {
		for _, l := range m.GetLabel() {
			if !model.LabelValue(l.GetValue()).IsValid() || !model.UTF8Validation.IsValidLabelName(l.GetName()) {
				return fmt.Errorf("invalid label %q=%q", l.GetName(), l.GetValue())
			}
		}
	}
	return nil
}
