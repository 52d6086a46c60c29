package webopt

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
)

// writer decides from the response's header whether to rewrite it and, if
// so, streams the body through a page rewriter. The tokenizer pulls from
// an io.Reader, so it runs on a goroutine of its own fed by Write: each
// Write returns only once the tokenizer has consumed every byte and
// written out every complete token, so a handler's Flush reaches the
// client with all it wrote up to the last complete tag.
type writer struct {
	http.ResponseWriter
	o      *Optimizer
	c      *compiled
	r      *http.Request
	route  string
	hinted bool // Link headers already set for 103

	wroteHeader bool
	sniff       bool // status 200 without Content-Type: decide on first Write
	code        int
	rewriting   bool

	in   chan []byte   // chunks for the tokenizer; closed at finish
	ack  chan struct{} // the tokenizer took the chunk and wrote its output
	done chan struct{}
	p    *page
	err  atomic.Pointer[error] // the connection's, as the tokenizer saw it
}

func (w *writer) setErr(err error) {
	if err != nil {
		w.err.CompareAndSwap(nil, &err)
	}
}

func (w *writer) loadErr() error {
	if e := w.err.Load(); e != nil {
		return *e
	}
	return nil
}

func (w *writer) reset(o *Optimizer, c *compiled, rw http.ResponseWriter, r *http.Request, route string, hinted bool) {
	w.ResponseWriter, w.o, w.c, w.r, w.route, w.hinted = rw, o, c, r, route, hinted
	w.wroteHeader, w.sniff, w.code, w.rewriting = false, false, 0, false
	w.in, w.ack, w.done, w.p = nil, nil, nil, nil
	w.err.Store(nil)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *writer) WriteHeader(code int) {
	if code >= 100 && code < 200 {
		// Informational responses (103 Early Hints) go straight out.
		w.ResponseWriter.WriteHeader(code)
		return
	}
	if w.wroteHeader {
		return
	}
	w.wroteHeader, w.code = true, code
	if w.r.Method == http.MethodHead {
		w.pass(passMethod)
		return
	}
	if code != http.StatusOK {
		w.pass(passStatus)
		return
	}
	h := w.Header()
	if h.Get("Content-Encoding") != "" {
		w.pass(passEncoded)
		return
	}
	if strings.Contains(strings.ToLower(h.Get("Cache-Control")), "no-transform") {
		w.pass(passNoTransform)
		return
	}
	if cl := h.Get("Content-Length"); cl != "" {
		if n, err := strconv.ParseInt(cl, 10, 64); err == nil && n > w.c.MaxBytes {
			w.pass(passTooLarge)
			return
		}
	}
	if h.Get("Content-Type") == "" {
		w.sniff = true
		return
	}
	w.decide(h.Get("Content-Type"))
}

func (w *writer) pass(reason passReason) {
	w.o.stats.passed[reason].Add(1)
	w.ResponseWriter.WriteHeader(w.code)
}

func (w *writer) decide(ct string) {
	w.sniff = false
	mt, _, _ := mime.ParseMediaType(ct)
	if mt != "text/html" {
		w.pass(passContentType)
		return
	}
	w.rewriting = true
	h := w.Header()
	// The body changes: its length is unknown, ranges of it do not match
	// the origin's, and the entity tag can only promise equivalence.
	h.Del("Content-Length")
	h.Del("Accept-Ranges")
	if et := h.Get("Etag"); et != "" && !strings.HasPrefix(et, "W/") {
		h.Set("Etag", "W/"+et)
	}
	if !w.hinted {
		w.o.linkHeaders(w.c, h, w.route, w.r)
	}
	w.ResponseWriter.WriteHeader(w.code)
	w.p = newPage(w.o, w.c, w.r, w.route, w.ResponseWriter)
	w.in, w.ack, w.done = make(chan []byte), make(chan struct{}), make(chan struct{})
	go w.run()
}

func (w *writer) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.sniff {
		w.Header().Set("Content-Type", http.DetectContentType(b))
		w.decide(w.Header().Get("Content-Type"))
	}
	if !w.rewriting {
		return w.ResponseWriter.Write(b)
	}
	if err := w.loadErr(); err != nil {
		return 0, err
	}
	if len(b) == 0 {
		return 0, nil
	}
	w.o.stats.in.Add(uint64(len(b)))
	w.in <- b
	<-w.ack
	if err := w.loadErr(); err != nil {
		return 0, err
	}
	return len(b), nil
}

// Flush sends what the rewriter has written so far. Write has already
// waited for the tokenizer, so the connection is idle on its side.
func (w *writer) Flush() { _ = w.FlushError() }

// FlushError is Flush with the connection's error.
func (w *writer) FlushError() error {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.sniff {
		// Nothing written yet to sniff: net/http would call it text/plain.
		w.decide("text/plain; charset=utf-8")
	}
	if err := w.loadErr(); err != nil {
		return err
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// finish ends the body: the tokenizer sees EOF, writes what it holds and
// stops. Called after the handler returns, even when it panics.
func (w *writer) finish() {
	if w.sniff {
		w.decide("text/plain; charset=utf-8")
	}
	if !w.rewriting {
		return
	}
	close(w.in)
	<-w.done
	if w.p.rewrote {
		w.o.stats.pages.Add(1)
	}
}

// run is the tokenizer's goroutine.
func (w *writer) run() {
	defer close(w.done)
	feed := &chanReader{in: w.in, ack: w.ack, flush: w.p.flushOut, setErr: w.setErr}
	if err := w.p.rewrite(feed); err != nil && !errors.Is(err, io.EOF) {
		w.setErr(err)
	}
	// Drain: the handler may keep writing after the client left.
	feed.drain()
}

// chanReader hands the tokenizer the handler's chunks. Before it blocks
// for the next one it flushes the page's output and acknowledges the
// previous chunk, so Write returns with the output written.
type chanReader struct {
	in      chan []byte
	ack     chan struct{}
	flush   func() error
	setErr  func(error)
	cur     []byte
	pending bool
}

func (r *chanReader) Read(p []byte) (int, error) {
	for len(r.cur) == 0 {
		if r.pending {
			err := r.flush()
			r.setErr(err)
			r.pending = false
			r.ack <- struct{}{}
			if err != nil {
				return 0, err
			}
		}
		b, ok := <-r.in
		if !ok {
			return 0, io.EOF
		}
		r.cur, r.pending = b, true
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

func (r *chanReader) drain() {
	if r.pending {
		r.pending = false
		r.ack <- struct{}{}
	}
	for range r.in {
		r.ack <- struct{}{}
	}
}
