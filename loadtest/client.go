package loadtest

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync/atomic"
	"time"

	"github.com/perfengine/perfengine/loadtest/h1"
)

// sender sends one request on a worker's own connection(s).
type sender interface {
	send(target int) (status int, in, out int64, kind errKind)
	// interrupt makes an in-flight send return at once; safe from any
	// goroutine.
	interrupt()
	close()
}

// clients builds the worker senders for a plan.
type clients struct {
	plan    Plan
	h1reqs  []*h1.Request // lean engine, nil otherwise
	netReqs []netRequest
	hc      *http.Client
	conns   atomic.Int64 // connections opened
	reused  atomic.Int64 // requests on a connection that had carried one
}

type netRequest struct {
	method, url string
	header      http.Header
	body        []byte
	out         int64
}

func newClients(p Plan) (*clients, error) {
	c := &clients{plan: p}
	lean := p.Protocol == HTTP1
	if p.Protocol == Auto {
		lean = true
		for _, t := range p.Targets {
			if !strings.HasPrefix(t.URL, "http://") {
				lean = false
			}
		}
	}
	if lean {
		for i, t := range p.Targets {
			r, err := h1.NewRequest(t.Method, t.URL, t.Header, t.Body)
			if err != nil {
				return nil, fmt.Errorf("targets[%d]: %w", i, err)
			}
			c.h1reqs = append(c.h1reqs, r)
		}
		return c, nil
	}
	tr := &http.Transport{
		Proxy:               nil, // a load test must hit the target, not a proxy
		DialContext:         (&net.Dialer{Timeout: p.Timeout}).DialContext,
		MaxIdleConns:        p.Concurrency,
		MaxIdleConnsPerHost: p.Concurrency,
		MaxConnsPerHost:     p.Concurrency,
		DisableCompression:  true,
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: p.InsecureSkipVerify}, //nolint:gosec // opt-in for self-signed staging targets
		ForceAttemptHTTP2:   p.Protocol != NetHTTP,
		IdleConnTimeout:     90 * time.Second,
	}
	var protos http.Protocols
	switch p.Protocol {
	case H2C:
		protos.SetUnencryptedHTTP2(true)
		tr.Protocols = &protos
	case H2:
		protos.SetHTTP2(true)
		tr.Protocols = &protos
	case NetHTTP:
		protos.SetHTTP1(true)
		tr.Protocols = &protos
	}
	c.hc = &http.Client{
		Transport: tr,
		Timeout:   p.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // measure the target, not where it points
		},
	}
	for _, t := range p.Targets {
		nr := netRequest{method: t.Method, url: t.URL, header: t.Header, body: t.Body}
		if nr.method == "" {
			nr.method = http.MethodGet
		}
		nr.out = int64(len(t.Body))
		c.netReqs = append(c.netReqs, nr)
	}
	return c, nil
}

func (c *clients) newSender(ctx context.Context) sender {
	if c.h1reqs != nil {
		return &h1Sender{c: c, ctx: ctx}
	}
	s := &netSender{c: c}
	s.ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(i httptrace.GotConnInfo) {
			if i.Reused {
				c.reused.Add(1)
			} else {
				c.conns.Add(1)
			}
		},
	})
	return s
}

func (c *clients) close() {
	if c.hc != nil {
		c.hc.CloseIdleConnections()
	}
}

// h1Sender owns one keep-alive connection of the lean engine.
type h1Sender struct {
	c       *clients
	ctx     context.Context // cancelled on abort, to abandon a dial
	conn    atomic.Pointer[h1.Conn]
	stopped atomic.Bool
	used    bool
}

func (s *h1Sender) send(target int) (int, int64, int64, errKind) {
	req := s.c.h1reqs[target]
	conn := s.conn.Load()
	if conn == nil {
		var err error
		conn, err = h1.DialContext(s.ctx, req.Addr(), s.c.plan.Timeout)
		if err != nil {
			return 0, 0, 0, classify(err)
		}
		s.c.conns.Add(1)
		s.conn.Store(conn)
		s.used = false
	} else if s.used {
		s.c.reused.Add(1)
	}
	s.used = true
	_ = conn.SetDeadline(time.Now().Add(s.c.plan.Timeout))
	// Checked after the deadline is set: an interrupt racing with this send
	// either is seen here or sets its past deadline after ours.
	if s.stopped.Load() {
		return 0, 0, 0, errClosed
	}
	resp, err := conn.Do(req)
	if err != nil || resp.Close {
		s.drop(conn)
	}
	if err != nil {
		return resp.Status, resp.Bytes, int64(req.Len()), classify(err)
	}
	return resp.Status, resp.Bytes, int64(req.Len()), errNone
}

func (s *h1Sender) drop(conn *h1.Conn) {
	s.conn.CompareAndSwap(conn, nil)
	_ = conn.Close()
}

func (s *h1Sender) interrupt() {
	s.stopped.Store(true)
	if conn := s.conn.Load(); conn != nil {
		_ = conn.SetDeadline(time.Unix(1, 0))
	}
}

func (s *h1Sender) close() {
	if conn := s.conn.Swap(nil); conn != nil {
		_ = conn.Close()
	}
}

// netSender sends through net/http for TLS and HTTP/2.
type netSender struct {
	c       *clients
	ctx     context.Context
	cancel  atomic.Pointer[context.CancelFunc]
	stopped atomic.Bool
}

func (s *netSender) send(target int) (int, int64, int64, errKind) {
	nr := &s.c.netReqs[target]
	ctx, cancel := context.WithCancel(s.ctx)
	s.cancel.Store(&cancel)
	defer func() {
		s.cancel.Store(nil)
		cancel()
	}()
	if s.stopped.Load() {
		return 0, 0, 0, errClosed
	}
	var body io.Reader
	if nr.body != nil {
		body = bytes.NewReader(nr.body)
	}
	req, err := http.NewRequestWithContext(ctx, nr.method, nr.url, body)
	if err != nil {
		return 0, 0, 0, errOther
	}
	for k, vs := range nr.header {
		if strings.EqualFold(k, "Host") && len(vs) > 0 {
			req.Host = vs[0]
			continue
		}
		req.Header[k] = vs
	}
	resp, err := s.c.hc.Do(req)
	if err != nil {
		return 0, 0, nr.out, classify(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	// Header bytes are not visible through net/http; count the status line
	// and header as rendered, which matches the wire for HTTP/1.1.
	in := n + headerSize(resp)
	if err != nil {
		return resp.StatusCode, in, nr.out, classify(err)
	}
	return resp.StatusCode, in, nr.out, errNone
}

func headerSize(resp *http.Response) int64 {
	n := int64(len(resp.Proto) + len(resp.Status) + 4)
	for k, vs := range resp.Header {
		for _, v := range vs {
			n += int64(len(k) + len(v) + 4)
		}
	}
	return n + 2
}

func (s *netSender) interrupt() {
	s.stopped.Store(true)
	if c := s.cancel.Load(); c != nil {
		(*c)()
	}
}

func (s *netSender) close() {}
