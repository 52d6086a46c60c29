// Package h1 is a lean HTTP/1.1 client for load generation: requests are
// rendered once into bytes and written with one call, responses are parsed in
// place in a reusable buffer and their bodies discarded, so a request costs
// no allocation. It speaks only what a load generator needs: keep-alive,
// Content-Length, chunked and close-delimited bodies, 1xx interim responses.
// TLS and HTTP/2 are left to net/http.
package h1

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Errors returned for responses that are not valid HTTP/1.1. They wrap
// ErrProtocol so callers can classify them with errors.Is.
var (
	ErrProtocol       = errors.New("h1: protocol error")
	ErrHeaderTooLarge = fmt.Errorf("%w: response header too large", ErrProtocol)
	ErrBodyTooLarge   = fmt.Errorf("%w: response body too large", ErrProtocol)
)

// DefaultBufferSize is the read buffer of a Conn; a response header must fit.
const DefaultBufferSize = 16 << 10

// maxBody bounds a close-delimited or declared body so a broken server
// cannot make a reader loop forever on a connection it keeps open.
const maxBody = 1 << 40

// Request is an HTTP/1.1 request rendered to bytes. It is immutable and safe
// for concurrent use by many connections.
type Request struct {
	raw  []byte
	addr string
	head bool
}

// NewRequest renders a request for an http:// URL. A Host header in header
// overrides the URL's host; Content-Length is set from body.
func NewRequest(method, rawURL string, header http.Header, body []byte) (*Request, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("parse url: %w", err)
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("url %q: scheme must be http", rawURL)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("url %q: missing host", rawURL)
	}
	if method == "" {
		method = http.MethodGet
	}
	if !validToken(method) {
		return nil, fmt.Errorf("method %q: not a valid token", method)
	}
	host := u.Host
	addr := host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	path := u.RequestURI()
	var b bytes.Buffer
	b.WriteString(method)
	b.WriteByte(' ')
	b.WriteString(path)
	b.WriteString(" HTTP/1.1\r\n")
	if h := header.Get("Host"); h != "" {
		host = h
	}
	b.WriteString("Host: ")
	b.WriteString(host)
	b.WriteString("\r\n")
	if u.User != nil && header.Get("Authorization") == "" {
		// As net/http does for credentials in the URL.
		pass, _ := u.User.Password()
		b.WriteString("Authorization: Basic ")
		b.WriteString(base64.StdEncoding.EncodeToString([]byte(u.User.Username() + ":" + pass)))
		b.WriteString("\r\n")
	}
	for k, vs := range header {
		if strings.EqualFold(k, "Host") || strings.EqualFold(k, "Content-Length") {
			continue
		}
		if !validToken(k) {
			return nil, fmt.Errorf("header %q: not a valid name", k)
		}
		for _, v := range vs {
			if strings.ContainsAny(v, "\r\n") {
				return nil, fmt.Errorf("header %q: value contains a line break", k)
			}
			b.WriteString(k)
			b.WriteString(": ")
			b.WriteString(v)
			b.WriteString("\r\n")
		}
	}
	if len(body) > 0 || method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch {
		b.WriteString("Content-Length: ")
		b.WriteString(strconv.Itoa(len(body)))
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n")
	b.Write(body)
	return &Request{raw: b.Bytes(), addr: addr, head: method == http.MethodHead}, nil
}

// Addr is the host:port the request is sent to.
func (r *Request) Addr() string { return r.addr }

// Wire is the request as sent; callers must not modify it.
func (r *Request) Wire() []byte { return r.raw }

// Len is the request's size on the wire in bytes.
func (r *Request) Len() int { return len(r.raw) }

func validToken(s string) bool {
	if s == "" {
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

// Response is what a load generator keeps of a response.
type Response struct {
	Status int
	// Bytes is the response's size on the wire: status line, header, body.
	Bytes int64
	// Close reports that the server will close the connection, so the
	// connection must not be reused.
	Close bool
}

// Conn is one keep-alive connection. It is not safe for concurrent use,
// except SetDeadline and Close, which may be called from any goroutine to
// interrupt a request.
type Conn struct {
	nc     net.Conn
	buf    []byte
	r, w   int // unread data is buf[r:w]
	broken bool
	p      Parser
}

// Dial opens a connection to addr.
func Dial(addr string, timeout time.Duration) (*Conn, error) {
	return DialContext(context.Background(), addr, timeout)
}

// DialContext opens a connection to addr; cancelling ctx abandons the dial.
func DialContext(ctx context.Context, addr string, timeout time.Duration) (*Conn, error) {
	d := net.Dialer{Timeout: timeout}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	return NewConn(nc, DefaultBufferSize), nil
}

// NewConn wraps an established connection with a read buffer of size bytes.
func NewConn(nc net.Conn, size int) *Conn {
	if size < 512 {
		size = 512
	}
	return &Conn{nc: nc, buf: make([]byte, size)}
}

// SetDeadline bounds the next Do.
func (c *Conn) SetDeadline(t time.Time) error { return c.nc.SetDeadline(t) }

// Close closes the connection.
func (c *Conn) Close() error { return c.nc.Close() }

// Reusable reports whether the connection may carry another request.
func (c *Conn) Reusable() bool { return !c.broken }

// Do writes req and reads its response. After an error, or a response with
// Close set, the connection must be closed.
func (c *Conn) Do(req *Request) (Response, error) {
	if c.broken {
		return Response{}, errors.New("h1: connection not reusable")
	}
	if c.r != c.w {
		// Bytes the server sent unasked: the stream is out of step.
		c.broken = true
		return Response{}, fmt.Errorf("%w: unsolicited data before request", ErrProtocol)
	}
	c.r, c.w = 0, 0
	if _, err := c.nc.Write(req.raw); err != nil {
		c.broken = true
		return Response{}, err
	}
	resp, err := c.readResponse(req)
	if err != nil || resp.Close {
		c.broken = true
	}
	return resp, err
}

// readResponse feeds what arrives to the parser until the response is
// complete, keeping an unfinished line at the buffer's front.
func (c *Conn) readResponse(req *Request) (Response, error) {
	c.p.Reset(req)
	for {
		if c.r < c.w {
			n, done, err := c.p.Feed(c.buf[c.r:c.w])
			c.r += n
			if err != nil || done {
				return c.p.Response(), err
			}
		}
		switch {
		case c.r == c.w:
			c.r, c.w = 0, 0
		case c.w == len(c.buf) && c.r == 0:
			return c.p.Response(), ErrHeaderTooLarge
		case c.w == len(c.buf):
			c.w = copy(c.buf, c.buf[c.r:c.w])
			c.r = 0
		}
		n, err := c.nc.Read(c.buf[c.w:])
		c.w += n
		if n > 0 {
			continue
		}
		if errors.Is(err, io.EOF) {
			_, err := c.p.EOF()
			return c.p.Response(), err
		}
		if err == nil {
			err = errors.New("h1: empty read")
		}
		return c.p.Response(), err
	}
}

func parseStatusLine(b []byte) (status int, http10, ok bool) {
	// "HTTP/1.1 200 OK"; the reason phrase may be empty or absent.
	if len(b) < 12 || string(b[:7]) != "HTTP/1." || (b[7] != '0' && b[7] != '1') || b[8] != ' ' {
		return 0, false, false
	}
	if len(b) > 12 && b[12] != ' ' {
		return 0, false, false
	}
	for _, d := range b[9:12] {
		if d < '0' || d > '9' {
			return 0, false, false
		}
		status = status*10 + int(d-'0')
	}
	if status < 100 {
		return 0, false, false
	}
	return status, b[7] == '0', true
}

func parseLength(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var v int64
	for _, d := range b {
		if d < '0' || d > '9' {
			return 0, false
		}
		v = v*10 + int64(d-'0')
	}
	return v, true
}

func parseHex(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 15 {
		return 0, false
	}
	var v int64
	for _, d := range b {
		switch {
		case d >= '0' && d <= '9':
			v = v<<4 | int64(d-'0')
		case d >= 'a' && d <= 'f':
			v = v<<4 | int64(d-'a'+10)
		case d >= 'A' && d <= 'F':
			v = v<<4 | int64(d-'A'+10)
		default:
			return 0, false
		}
	}
	return v, true
}

func trim(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// equalFold compares an ASCII header name with a lower-case constant.
func equalFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// hasToken reports whether a comma-separated header value lists tok.
func hasToken(v []byte, tok string) bool {
	for len(v) > 0 {
		i := bytes.IndexByte(v, ',')
		var part []byte
		if i < 0 {
			part, v = v, nil
		} else {
			part, v = v[:i], v[i+1:]
		}
		if equalFold(trim(part), tok) {
			return true
		}
	}
	return false
}
