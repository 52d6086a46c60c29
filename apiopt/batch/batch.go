// Package batch serves many API calls in one HTTP request: POST a JSON
// array of sub-requests, get a JSON array of their responses. Each
// sub-request runs through the same handler (and so the same cache, rate
// limits and statistics) with the caller's credentials, a bounded number
// at a time.
//
//	mux.Handle("POST /batch", batch.Handler(api, batch.Config{}))
//
//	POST /batch
//	[{"method":"GET","path":"/api/products/1"},{"method":"GET","path":"/api/me"}]
//
//	[{"status":200,"headers":{...},"body":{...}},{"status":401,...}]
package batch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
)

// Defaults.
const (
	DefaultMaxBytes    = 1 << 20
	DefaultMaxRequests = 20
	DefaultConcurrency = 4
	// MaxResponseBytes bounds one sub-response kept in memory.
	MaxResponseBytes = 4 << 20
)

// Config bounds a batch. Zero values mean the defaults.
type Config struct {
	MaxBytes    int64 // request body; default 1 MiB
	MaxRequests int   // sub-requests per batch; default 20
	Concurrency int   // sub-requests run at once; default 4
	// Path of the batch endpoint itself, refused as a sub-request so a
	// batch cannot recurse; default "/batch".
	Path string
}

// Request is one sub-request.
type Request struct {
	Method  string            `json:"method"`
	Path    string            `json:"path"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    json.RawMessage   `json:"body,omitempty"`
}

// Response is one sub-response. Body is the JSON the handler wrote when it
// wrote JSON, else a JSON string.
type Response struct {
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    json.RawMessage   `json:"body,omitempty"`
}

// ErrInvalid wraps every reason a batch is refused.
var ErrInvalid = errors.New("batch: invalid")

// Decode reads and checks a batch: a JSON array of at most maxRequests
// sub-requests with known methods and relative paths. It never panics.
func Decode(r io.Reader, maxRequests int, self string) ([]Request, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var reqs []Request
	if err := dec.Decode(&reqs); err != nil {
		return nil, fmt.Errorf("%w: body is not a JSON array of requests: %v", ErrInvalid, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after the array", ErrInvalid)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: trailing data after the array", ErrInvalid)
	}
	if len(reqs) == 0 {
		return nil, fmt.Errorf("%w: empty batch", ErrInvalid)
	}
	if len(reqs) > maxRequests {
		return nil, fmt.Errorf("%w: %d requests, at most %d allowed", ErrInvalid, len(reqs), maxRequests)
	}
	for i := range reqs {
		q := &reqs[i]
		if q.Method == "" {
			q.Method = http.MethodGet
		}
		switch q.Method {
		case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		default:
			return nil, fmt.Errorf("%w: request %d: method %q not allowed", ErrInvalid, i, q.Method)
		}
		if !strings.HasPrefix(q.Path, "/") || strings.HasPrefix(q.Path, "//") || strings.ContainsAny(q.Path, " \r\n\t#") {
			return nil, fmt.Errorf("%w: request %d: path %q must be a relative path such as /api/products", ErrInvalid, i, q.Path)
		}
		if p, _, _ := strings.Cut(q.Path, "?"); p == self {
			return nil, fmt.Errorf("%w: request %d: a batch cannot contain a batch", ErrInvalid, i)
		}
		for k, v := range q.Headers {
			if !validHeader(k, v) {
				return nil, fmt.Errorf("%w: request %d: invalid header %q", ErrInvalid, i, k)
			}
		}
	}
	return reqs, nil
}

func validHeader(k, v string) bool {
	if k == "" || strings.ContainsAny(k, " :\r\n\t") || strings.ContainsAny(v, "\r\n\x00") {
		return false
	}
	switch http.CanonicalHeaderKey(k) {
	case "Host", "Content-Length", "Transfer-Encoding", "Connection":
		return false
	}
	return true
}

// Handler answers batches by running each sub-request through next.
func Handler(next http.Handler, cfg Config) http.Handler {
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.MaxRequests <= 0 {
		cfg.MaxRequests = DefaultMaxRequests
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.Path == "" {
		cfg.Path = "/batch"
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeError(w, http.StatusMethodNotAllowed, "batch: use POST")
			return
		}
		reqs, err := Decode(http.MaxBytesReader(w, r.Body, cfg.MaxBytes), cfg.MaxRequests, cfg.Path)
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) || strings.Contains(err.Error(), "request body too large") {
				writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("batch: body larger than %d bytes", cfg.MaxBytes))
				return
			}
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		out := make([]Response, len(reqs))
		sem := make(chan struct{}, cfg.Concurrency)
		var wg sync.WaitGroup
		for i := range reqs {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				out[i] = run(next, r, reqs[i])
			}()
		}
		wg.Wait()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(out)
	})
}

// run executes one sub-request with the outer request's context, client
// address and credentials.
func run(next http.Handler, outer *http.Request, q Request) (resp Response) {
	defer func() {
		if p := recover(); p != nil {
			resp = Response{Status: http.StatusInternalServerError, Body: mustString("handler panicked")}
		}
	}()
	var body io.Reader = http.NoBody
	if len(q.Body) > 0 {
		b := []byte(q.Body)
		var s string
		if json.Unmarshal(b, &s) == nil {
			b = []byte(s) // a JSON string is sent as its text
		}
		body = bytes.NewReader(b)
	}
	sub, err := http.NewRequestWithContext(outer.Context(), q.Method, q.Path, body)
	if err != nil {
		return Response{Status: http.StatusBadRequest, Body: mustString(err.Error())}
	}
	sub.Host = outer.Host
	sub.RemoteAddr = outer.RemoteAddr
	sub.TLS = outer.TLS
	sub.Proto, sub.ProtoMajor, sub.ProtoMinor = outer.Proto, outer.ProtoMajor, outer.ProtoMinor
	sub.RequestURI = q.Path
	for _, k := range []string{"Authorization", "Cookie", "User-Agent", "X-Forwarded-For", "Accept-Language"} {
		if v := outer.Header.Values(k); len(v) > 0 {
			sub.Header[k] = v
		}
	}
	for k, v := range q.Headers {
		sub.Header.Set(k, v)
	}
	sub.Header.Del("Accept-Encoding") // bodies are embedded in JSON: identity only
	if len(q.Body) > 0 && sub.Header.Get("Content-Type") == "" {
		sub.Header.Set("Content-Type", "application/json")
	}
	rec := &recorder{h: http.Header{}}
	next.ServeHTTP(rec, sub)
	if rec.code == 0 {
		rec.code = http.StatusOK
	}
	resp = Response{Status: rec.code, Headers: map[string]string{}}
	for k, v := range rec.h {
		switch k {
		case "Content-Length", "Set-Cookie":
			continue // the length changes; cookies are the outer response's business
		}
		resp.Headers[k] = strings.Join(v, ", ")
	}
	switch {
	case rec.overflow:
		resp.Status = http.StatusInsufficientStorage
		resp.Body = mustString(fmt.Sprintf("response larger than %d bytes", MaxResponseBytes))
	case rec.buf.Len() == 0:
	case strings.Contains(rec.h.Get("Content-Type"), "json") && json.Valid(rec.buf.Bytes()):
		resp.Body = bytes.TrimSpace(rec.buf.Bytes())
	default:
		resp.Body = mustString(rec.buf.String())
	}
	return resp
}

func mustString(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}

func writeError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

type recorder struct {
	h        http.Header
	code     int
	buf      bytes.Buffer
	overflow bool
}

func (r *recorder) Header() http.Header { return r.h }
func (r *recorder) WriteHeader(code int) {
	if r.code == 0 && code >= 200 {
		r.code = code
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	if r.buf.Len()+len(b) > MaxResponseBytes {
		r.overflow = true
		return len(b), nil
	}
	return r.buf.Write(b)
}
