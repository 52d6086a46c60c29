package netopt

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
)

// coalescer shares one round trip between identical GETs in flight. Unlike
// golang.org/x/sync/singleflight it lets waiters leave: each waits on its own
// context, and the shared request is cancelled only when the last one has
// left. The body is read once and every waiter gets its own reader.
type coalescer struct {
	t     *Transport
	mu    sync.Mutex
	calls map[string]*call
}

type call struct {
	done    chan struct{}
	waiters int
	cancel  context.CancelFunc

	resp   *http.Response // header part; Body nil
	body   []byte
	err    error
	tooBig bool
}

func newCoalescer(t *Transport) *coalescer { return &coalescer{t: t, calls: map[string]*call{}} }

// coalescable: GETs without a body. Every header is part of the key, so
// requests of different users (Authorization, Cookie) never share.
func coalescable(req *http.Request) bool {
	return (req.Method == "" || req.Method == http.MethodGet) && (req.Body == nil || req.Body == http.NoBody)
}

func coalesceKey(req *http.Request) string {
	var b strings.Builder
	b.WriteString(req.URL.String())
	keys := make([]string, 0, len(req.Header))
	for k := range req.Header {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b.WriteByte('\n')
		b.WriteString(k)
		for _, v := range req.Header[k] {
			b.WriteByte('\x00')
			b.WriteString(v)
		}
	}
	return b.String()
}

func (c *coalescer) do(req *http.Request) (*http.Response, error) {
	key := coalesceKey(req)
	c.mu.Lock()
	if cl := c.calls[key]; cl != nil {
		cl.waiters++
		c.mu.Unlock()
		c.t.hostFor(req.URL).coalesced.Add(1)
		return c.wait(req, cl, key)
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(req.Context()))
	cl := &call{done: make(chan struct{}), waiters: 1, cancel: cancel}
	c.calls[key] = cl
	c.mu.Unlock()
	go c.run(req.WithContext(ctx), cl, key)
	return c.wait(req, cl, key)
}

func (c *coalescer) run(req *http.Request, cl *call, key string) {
	defer cl.cancel()
	defer close(cl.done)
	defer c.forget(cl, key)
	resp, err := c.t.roundTrip(req)
	if err != nil {
		cl.err = err
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.t.cfg.CoalesceMaxBytes+1))
	if err != nil {
		cl.err = err
		return
	}
	if int64(len(body)) > c.t.cfg.CoalesceMaxBytes {
		cl.tooBig = true
		return
	}
	r := *resp
	r.Body = nil
	cl.resp, cl.body = &r, body
}

func (c *coalescer) forget(cl *call, key string) {
	c.mu.Lock()
	if c.calls[key] == cl {
		delete(c.calls, key)
	}
	c.mu.Unlock()
}

func (c *coalescer) wait(req *http.Request, cl *call, key string) (*http.Response, error) {
	select {
	case <-cl.done:
	case <-req.Context().Done():
		c.mu.Lock()
		cl.waiters--
		last := cl.waiters == 0
		if last && c.calls[key] == cl {
			delete(c.calls, key) // later callers start afresh
		}
		c.mu.Unlock()
		if last {
			cl.cancel()
		}
		return nil, req.Context().Err()
	}
	if cl.tooBig {
		return c.t.roundTrip(req)
	}
	if cl.err != nil {
		return nil, cl.err
	}
	r := *cl.resp
	r.Header = cl.resp.Header.Clone()
	r.Trailer = cl.resp.Trailer.Clone()
	r.Body = io.NopCloser(bytes.NewReader(cl.body))
	r.ContentLength = int64(len(cl.body))
	r.Request = req
	return &r, nil
}
