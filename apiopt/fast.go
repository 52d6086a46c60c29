package apiopt

import (
	"net/http"
	"unsafe"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"github.com/perfengine/perfengine/apiopt/cache"
	"github.com/perfengine/perfengine/apiopt/compress"
)

// FastHandler serves next through the optimizer on a fasthttp server: fresh
// cache hits are answered natively, without net/http's per-request costs,
// and every other request goes through Middleware via fasthttpadaptor. With
// a rate limiter configured every request takes the Middleware path, so
// limits stay exact.
func (o *Optimizer) FastHandler(next http.Handler) fasthttp.RequestHandler {
	slow := fasthttpadaptor.NewFastHTTPHandler(o.Middleware(next))
	if o.cache == nil || o.limiter != nil {
		return slow
	}
	var enabled [4]bool
	if o.comp != nil {
		enabled = o.comp.Enabled()
	}
	return func(ctx *fasthttp.RequestCtx) {
		if !o.serveFast(ctx, enabled) {
			slow(ctx)
		}
	}
}

// view borrows b as a string for the duration of a call that keeps no
// reference to it.
func view(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

func (o *Optimizer) serveFast(ctx *fasthttp.RequestCtx, enabled [4]bool) bool {
	req := &ctx.Request.Header
	head := ctx.IsHead()
	if !ctx.IsGet() && !head {
		return false
	}
	for _, k := range []string{"Cache-Control", "Pragma", "Range", "If-None-Match", "If-Modified-Since", "Authorization"} {
		if len(req.Peek(k)) != 0 {
			return false
		}
	}
	start := o.now()
	e, age, ok := o.cache.Fresh(view(ctx.Host()), view(ctx.RequestURI()), func(name string) string {
		return view(req.Peek(name))
	}, start)
	if !ok {
		return false
	}
	enc := compress.Identity
	if nc := req.Peek(compress.NoCompressionHeader); len(nc) == 0 || view(nc) != "true" {
		enc = compress.NegotiateValue(view(req.Peek("Accept-Encoding")), enabled)
	}
	resp := &ctx.Response
	body, used := e.VisitHeader(enc, func(name, value string) { resp.Header.Set(name, value) })
	resp.Header.Set("Age", cache.AgeValue(age))
	resp.Header.Set("Cache-Status", o.cache.HitStatus())
	resp.SetStatusCode(e.Status)
	if head {
		resp.SkipBody = true
		resp.Header.SetContentLength(len(body))
	} else {
		resp.SetBodyRaw(body)
	}
	o.cache.CountHit(e, used, body)
	rs := o.routes.get(e.Route)
	rs.requests.Add(1)
	if c := e.Status / 100; c >= 1 && c <= 5 {
		rs.class[c].Add(1)
	}
	rs.bytes.Add(uint64(len(body)))
	rs.hits.Add(1)
	rs.window.Record(o.now().Sub(start))
	return true
}
