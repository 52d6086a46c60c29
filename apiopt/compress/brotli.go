package compress

import (
	"bufio"
	"net"
	"net/http"
	"strconv"
	"strings"

	brrr "github.com/molecule-man/go-brrr"
)

// brWriter compresses a response with brotli once it knows the response is
// worth it: the body reached MinSize (or the handler finished or flushed),
// the type is on the list, and nobody encoded it already.
type brWriter struct {
	http.ResponseWriter
	c           *Compressor
	method      string
	code        int
	buf         []byte
	bw          *brrr.Writer
	decided     bool
	compressing bool
}

func (c *Compressor) newBrWriter(w http.ResponseWriter, r *http.Request) *brWriter {
	return &brWriter{ResponseWriter: w, c: c, method: r.Method, code: http.StatusOK}
}

func (w *brWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *brWriter) WriteHeader(code int) {
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	if w.decided {
		return
	}
	w.code = code
	if code == http.StatusNoContent || code == http.StatusNotModified || w.method == http.MethodHead {
		w.decide(false)
	}
}

func (w *brWriter) Write(b []byte) (int, error) {
	if !w.decided {
		w.buf = append(w.buf, b...)
		if len(w.buf) < w.c.cfg.MinSize {
			return len(b), nil
		}
		if err := w.decide(true); err != nil {
			return 0, err
		}
		return len(b), nil
	}
	if w.compressing {
		return w.bw.Write(b)
	}
	return w.ResponseWriter.Write(b)
}

// decide settles the coding and sends the header and the buffered bytes.
// big says whether the body reached MinSize.
func (w *brWriter) decide(big bool) error {
	w.decided = true
	h := w.ResponseWriter.Header()
	addVary(h)
	ct := h.Get("Content-Type")
	if ct == "" && len(w.buf) > 0 {
		ct = http.DetectContentType(w.buf)
		h.Set("Content-Type", ct)
	}
	if big && h.Get("Content-Encoding") == "" && h.Get("Content-Range") == "" &&
		w.code != http.StatusNoContent && w.code != http.StatusNotModified &&
		!hasNoTransform(h) && w.c.Compressible(ct) {
		w.compressing = true
		h.Set("Content-Encoding", "br")
		h.Del("Content-Length")
		h.Del("Accept-Ranges") // ranges of the coded bytes are not what clients want
		if et := h.Get("ETag"); et != "" && strings.HasSuffix(et, `"`) {
			h.Set("ETag", et[:len(et)-1]+`-br"`)
		}
		w.ResponseWriter.WriteHeader(w.code)
		bw, _ := w.c.brPool.Get().(*brrr.Writer)
		if bw == nil {
			var err error
			if bw, err = brrr.NewWriter(w.ResponseWriter, w.c.cfg.BrotliLevel); err != nil {
				return err
			}
		} else {
			bw.Reset(w.ResponseWriter)
		}
		w.bw = bw
		_, err := bw.Write(w.buf)
		w.buf = nil
		return err
	}
	if len(w.buf) > 0 && h.Get("Content-Length") == "" && !big {
		h.Set("Content-Length", strconv.Itoa(len(w.buf)))
	}
	w.ResponseWriter.WriteHeader(w.code)
	var err error
	if len(w.buf) > 0 {
		_, err = w.ResponseWriter.Write(w.buf)
	}
	w.buf = nil
	return err
}

// Flush sends what is buffered now: a streaming handler flushes small
// events, which then go out uncompressed rather than waiting for MinSize.
func (w *brWriter) Flush() { _ = w.FlushError() }

func (w *brWriter) FlushError() error {
	if !w.decided {
		if err := w.decide(len(w.buf) >= w.c.cfg.MinSize); err != nil {
			return err
		}
	}
	if w.compressing {
		if err := w.bw.Flush(); err != nil {
			return err
		}
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *brWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

func (w *brWriter) close() {
	if !w.decided {
		_ = w.decide(len(w.buf) >= w.c.cfg.MinSize)
	}
	if w.compressing {
		_ = w.bw.Close()
		w.bw.Reset(nil)
		w.c.brPool.Put(w.bw)
		w.bw = nil
	}
}

func hasNoTransform(h http.Header) bool {
	for _, v := range h["Cache-Control"] {
		if strings.Contains(strings.ToLower(v), "no-transform") {
			return true
		}
	}
	return false
}
