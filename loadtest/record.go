package loadtest

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/perfengine/perfengine/loadtest/h1"
)

// errKind classifies transport failures into a bounded set, so reports and
// metrics never carry raw error strings.
type errKind uint8

const (
	errNone errKind = iota
	errTimeout
	errRefused
	errReset
	errClosed
	errProtocol
	errDNS
	errTLS
	errOther
	numErrKinds
)

var errKindNames = [numErrKinds]string{"", "timeout", "connection_refused", "connection_reset", "connection_closed", "protocol", "dns", "tls", "other"}

func classify(err error) errKind {
	var (
		dnsErr  *net.DNSError
		tlsErr  tls.RecordHeaderError
		certErr *tls.CertificateVerificationError
		ne      net.Error
	)
	switch {
	case err == nil:
		return errNone
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return errTimeout
	case errors.As(err, &ne) && ne.Timeout():
		return errTimeout
	case errors.Is(err, syscall.ECONNREFUSED):
		return errRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return errReset
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return errClosed
	case errors.Is(err, h1.ErrProtocol):
		return errProtocol
	case errors.As(err, &dnsErr):
		return errDNS
	case errors.As(err, &tlsErr), errors.As(err, &certErr):
		return errTLS
	}
	return errOther
}

// Histograms count microseconds. Three significant digits keep percentiles
// within 0.1 %; the per-second ones need only two.
const (
	histDigits   = 3
	secondDigits = 2
	secondRing   = 4 // seconds a shard buffers; the collector takes them 2 s after they end
	maxStatus    = 1000
	maxShards    = 32
)

// shard is one worker's (or, past maxShards workers, a few workers') record.
// Its mutex is uncontended when each worker has its own shard; sharing keeps
// memory bounded at high concurrency without a global lock.
type shard struct {
	mu       sync.Mutex
	lat, raw *hdr.Histogram // corrected, uncorrected (open model only)
	requests, ok, late, dropped,
	sent, bytesIn, bytesOut, lostSeconds int64
	status  [maxStatus]int64
	errs    [numErrKinds]int64
	ring    [secondRing]secBucket
	highest int64
}

type secBucket struct {
	sec            int64
	n, errs, bytes int64
	h              *hdr.Histogram
}

func newShard(highest int64, open bool) *shard {
	s := &shard{lat: hdr.New(1, highest, histDigits), highest: highest}
	if open {
		s.raw = hdr.New(1, highest, histDigits)
	}
	for i := range s.ring {
		s.ring[i] = secBucket{sec: -1, h: hdr.New(1, highest, secondDigits)}
	}
	return s
}

// outcome is one finished request.
type outcome struct {
	done              time.Duration // since the start, when the answer came
	corrected, actual time.Duration
	status            int
	kind              errKind
	in, out           int64
}

func (s *shard) record(o outcome) {
	c, a := clampUS(o.corrected, s.highest), clampUS(o.actual, s.highest)
	failed := o.kind != errNone || o.status >= 400 || o.status == 0
	sec := int64(o.done / time.Second)
	s.mu.Lock()
	s.requests++
	_ = s.lat.RecordValue(c)
	if s.raw != nil {
		_ = s.raw.RecordValue(a)
	}
	if o.kind != errNone {
		s.errs[o.kind]++
	} else if o.status > 0 && o.status < maxStatus {
		s.status[o.status]++
	}
	if !failed {
		s.ok++
	}
	s.bytesIn += o.in
	s.bytesOut += o.out
	b := &s.ring[sec%secondRing]
	if b.sec != sec {
		if b.sec >= 0 && b.n > 0 {
			s.lostSeconds += b.n // the collector fell behind; counts stay in the totals
		}
		b.sec, b.n, b.errs, b.bytes = sec, 0, 0, 0
		b.h.Reset()
	}
	b.n++
	b.bytes += o.in
	if failed {
		b.errs++
	}
	_ = b.h.RecordValue(c)
	s.mu.Unlock()
}

func clampUS(d time.Duration, highest int64) int64 {
	us := int64(d / time.Microsecond)
	if us < 1 {
		return 1
	}
	return min(us, highest)
}

// series merges the shards' per-second buckets into the run's series.
type series struct {
	highest int64
	pending map[int64]*secBucket
	out     []Second
	done    int64 // seconds below this are final
	last    Second
}

func newSeries(highest int64) *series {
	return &series{highest: highest, pending: map[int64]*secBucket{}}
}

// harvest takes buckets of seconds before upTo from the shards and
// finalises them.
func (se *series) harvest(shards []*shard, upTo int64) {
	for _, s := range shards {
		s.mu.Lock()
		for i := range s.ring {
			b := &s.ring[i]
			if b.sec < 0 || b.sec >= upTo {
				continue
			}
			if b.n > 0 {
				se.add(b)
			}
			b.sec = -1
		}
		s.mu.Unlock()
	}
	for sec := se.done; sec < upTo; sec++ {
		st := Second{T: int(sec)}
		if b, ok := se.pending[sec]; ok {
			st.Requests, st.Errors, st.Bytes = b.n, b.errs, b.bytes
			st.P50 = usToMs(b.h.ValueAtQuantile(50))
			st.P99 = usToMs(b.h.ValueAtQuantile(99))
			delete(se.pending, sec)
		}
		se.out = append(se.out, st)
		se.last = st
	}
	se.done = max(se.done, upTo)
}

func (se *series) add(b *secBucket) {
	if b.sec < se.done {
		// A straggler for a second already final: keep its counts.
		if int(b.sec) < len(se.out) {
			st := &se.out[b.sec]
			st.Requests += b.n
			st.Errors += b.errs
			st.Bytes += b.bytes
		}
		return
	}
	p, ok := se.pending[b.sec]
	if !ok {
		p = &secBucket{sec: b.sec, h: hdr.New(1, se.highest, secondDigits)}
		se.pending[b.sec] = p
	}
	p.n += b.n
	p.errs += b.errs
	p.bytes += b.bytes
	p.h.Merge(b.h)
}

func usToMs(us int64) float64 { return float64(us) / 1000 }

func summarize(h *hdr.Histogram) (Latency, []Quantile) {
	if h.TotalCount() == 0 {
		return Latency{}, nil
	}
	l := Latency{
		Min:  usToMs(h.Min()),
		Mean: h.Mean() / 1000,
		P50:  usToMs(h.ValueAtQuantile(50)),
		P90:  usToMs(h.ValueAtQuantile(90)),
		P95:  usToMs(h.ValueAtQuantile(95)),
		P99:  usToMs(h.ValueAtQuantile(99)),
		P999: usToMs(h.ValueAtQuantile(99.9)),
		Max:  usToMs(h.Max()),
	}
	qs := make([]Quantile, len(DistributionQuantiles))
	for i, q := range DistributionQuantiles {
		v := h.ValueAtQuantile(q * 100)
		switch q {
		case 0:
			v = h.Min()
		case 1:
			v = h.Max()
		}
		qs[i] = Quantile{Q: q, Ms: usToMs(v)}
	}
	return l, qs
}
