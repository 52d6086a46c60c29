package h1

import (
	"bytes"
	"fmt"
	"io"
)

// Parser reads one response incrementally from whatever bytes arrive, so a
// caller that owns the socket (an event loop) can feed it each read as it
// comes; Conn drives one over its own buffer. The zero value is not ready:
// call Reset before each response.
type Parser struct {
	state parseState
	head  bool // the request was HEAD: no body whatever the header says
	left  int64
	resp  Response

	// The header of the response being read.
	status                       int
	http10, chunked              bool
	closeConn, keepAlive, gotLen bool
	clen                         int64
}

type parseState uint8

const (
	stStatus    parseState = iota // status line
	stHeader                      // header lines, up to the empty one
	stBody                        // left bytes of a Content-Length body
	stChunkSize                   // a chunk-size line
	stChunkData                   // left bytes of a chunk
	stChunkEnd                    // the CRLF after a chunk
	stTrailer                     // trailer lines, up to the empty one
	stToEOF                       // a body delimited by the connection's close
	stDone
)

// Reset prepares the parser for the response to req.
func (p *Parser) Reset(req *Request) {
	*p = Parser{head: req.head}
}

// Response is what was read of the response so far; complete once Feed or
// EOF reported done.
func (p *Parser) Response() Response { return p.resp }

// Feed consumes what it can of b and reports whether the response is
// complete. Bytes it did not consume (the start of a line not yet ended,
// or what follows a complete response) must be presented again, with more
// data appended, by the next call; a caller whose buffer fills with
// unconsumed bytes has a header too large for it (ErrHeaderTooLarge).
func (p *Parser) Feed(b []byte) (n int, done bool, err error) {
	for {
		switch p.state {
		case stDone:
			return n, true, nil
		case stBody, stChunkData, stToEOF:
			k := int64(len(b) - n)
			if p.state != stToEOF && k > p.left {
				k = p.left
			}
			n += int(k)
			p.resp.Bytes += k
			p.left -= k
			switch {
			case p.state == stToEOF:
				if p.resp.Bytes > maxBody {
					return n, false, ErrBodyTooLarge
				}
				return n, false, nil
			case p.left > 0:
				return n, false, nil
			case p.state == stBody:
				p.state = stDone
			default:
				p.state = stChunkEnd
			}
		default:
			i := bytes.IndexByte(b[n:], '\n')
			if i < 0 {
				return n, false, nil
			}
			ln := b[n : n+i]
			n += i + 1
			p.resp.Bytes += int64(i + 1)
			if len(ln) > 0 && ln[len(ln)-1] == '\r' {
				ln = ln[:len(ln)-1]
			}
			if err := p.line(ln); err != nil {
				return n, false, err
			}
		}
	}
}

// EOF tells the parser the connection closed; it reports whether that
// completes the response (a close-delimited body) or truncates it.
func (p *Parser) EOF() (done bool, err error) {
	switch p.state {
	case stDone:
		return true, nil
	case stToEOF:
		p.state = stDone
		return true, nil
	}
	return false, io.EOF
}

// line handles one CRLF-terminated line of the status, header, chunk or
// trailer parts.
func (p *Parser) line(ln []byte) error {
	switch p.state {
	case stStatus:
		status, http10, ok := parseStatusLine(ln)
		if !ok {
			return fmt.Errorf("%w: malformed status line", ErrProtocol)
		}
		p.resp.Status, p.status, p.http10 = status, status, http10
		p.chunked, p.closeConn, p.keepAlive, p.gotLen, p.clen = false, false, false, false, 0
		p.state = stHeader
	case stHeader:
		if len(ln) == 0 {
			return p.endHeader()
		}
		colon := bytes.IndexByte(ln, ':')
		if colon <= 0 {
			return fmt.Errorf("%w: malformed header line", ErrProtocol)
		}
		name, val := ln[:colon], trim(ln[colon+1:])
		switch {
		case equalFold(name, "content-length"):
			v, ok := parseLength(val)
			if !ok || (p.gotLen && p.clen != v) {
				return fmt.Errorf("%w: bad Content-Length", ErrProtocol)
			}
			p.clen, p.gotLen = v, true
		case equalFold(name, "transfer-encoding"):
			p.chunked = hasToken(val, "chunked")
		case equalFold(name, "connection"):
			p.closeConn = p.closeConn || hasToken(val, "close")
			p.keepAlive = p.keepAlive || hasToken(val, "keep-alive")
		}
	case stChunkSize:
		if i := bytes.IndexByte(ln, ';'); i >= 0 {
			ln = ln[:i]
		}
		size, ok := parseHex(trim(ln))
		if !ok {
			return fmt.Errorf("%w: bad chunk size", ErrProtocol)
		}
		if size == 0 {
			p.state = stTrailer
			return nil
		}
		if p.resp.Bytes+size > maxBody {
			return ErrBodyTooLarge
		}
		p.state, p.left = stChunkData, size
	case stChunkEnd:
		if len(ln) != 0 {
			return fmt.Errorf("%w: chunk not followed by CRLF", ErrProtocol)
		}
		p.state = stChunkSize
	case stTrailer:
		if len(ln) == 0 {
			p.state = stDone
		}
	}
	return nil
}

// endHeader decides, at the header's end, how the body is delimited.
func (p *Parser) endHeader() error {
	s := p.status
	if s >= 100 && s < 200 && s != 101 {
		p.state = stStatus // interim response; the real one follows
		return nil
	}
	p.resp.Close = p.closeConn || (p.http10 && !p.keepAlive) || s == 101
	switch {
	case p.head || s == 204 || s == 304 || s == 101:
		p.state = stDone
	case p.chunked:
		p.state = stChunkSize
	case p.gotLen:
		if p.clen > maxBody {
			return ErrBodyTooLarge
		}
		p.state, p.left = stBody, p.clen
	default:
		p.resp.Close = true
		p.state = stToEOF
	}
	return nil
}
