package webopt

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strings"

	"golang.org/x/net/html"
)

// outBuf is how much rewritten output is gathered before a write to the
// connection; output is also written whenever the handler's bytes run out.
const outBuf = 32 << 10

// page is the state of one response being rewritten, in one pass over the
// tokens. Tokens no filter touches are copied from Raw byte for byte.
type page struct {
	o     *Optimizer
	c     *compiled
	r     *http.Request
	route string
	dst   io.Writer
	out   []byte
	werr  error

	base    *url.URL
	urls    map[string]resolvedURL // resolve's answers for this page
	hint    lcpHint
	learned resources
	prev    *resources // what the route used last time

	rewrote   bool
	isDoc     bool
	headDone  bool
	tailDone  bool
	template  int
	images    int
	lcpDone   bool
	needLazy  bool
	nonce     string
	noInline  bool // the page's CSP forbids our inline scripts
	compAttrs [][]byte

	inStyle      bool
	pendingStyle []byte
	fonts        fontState

	t tag
}

func newPage(o *Optimizer, c *compiled, r *http.Request, route string, dst io.Writer) *page {
	p := &page{o: o, c: c, r: r, route: route, dst: dst}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	p.base = &url.URL{Scheme: scheme, Host: r.Host, Path: r.URL.Path, RawQuery: r.URL.RawQuery}
	p.hint = o.routes.lcp(route, r.URL.Path)
	p.prev = o.routes.get(route)
	p.nonce, p.noInline = cspNonce(w0(dst).Header())
	for _, n := range c.compSel.attrNames() {
		p.compAttrs = append(p.compAttrs, []byte(n))
	}
	return p
}

// w0 reaches the header of the writer the page writes to.
func w0(w io.Writer) http.ResponseWriter { return w.(http.ResponseWriter) }

func (p *page) emit(b []byte) { p.out = append(p.out, b...) }

func (p *page) flushOut() error {
	if p.werr != nil {
		return p.werr
	}
	if len(p.out) == 0 {
		return nil
	}
	n, err := p.dst.Write(p.out)
	p.o.stats.out.Add(uint64(n))
	p.out = p.out[:0]
	if err != nil {
		p.werr = fmt.Errorf("write page: %w", err)
	}
	return p.werr
}

// rewrite runs the tokenizer over src to its end.
func (p *page) rewrite(src io.Reader) (err error) {
	z := html.NewTokenizer(src)
	z.SetMaxBuf(p.c.MaxTokenBytes)
	var cur []byte
	mark := 0
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		// A bug here must not take the page down: drop the half-written
		// token and pass the rest through as it came.
		p.o.log.Error("rewriter failed, passing the rest through", "panic", fmt.Sprint(v), "route", p.route)
		p.o.stats.degraded.Add(1)
		p.out = p.out[:mark]
		err = p.passRest(z, cur, src)
	}()
	for {
		if len(p.out) >= outBuf {
			if err := p.flushOut(); err != nil {
				return err
			}
		}
		mark = len(p.out)
		tt := z.Next()
		cur = z.Raw()
		switch tt {
		case html.ErrorToken:
			zerr := z.Err()
			if errors.Is(zerr, io.EOF) {
				p.emitPendingStyle()
				p.emit(cur)
				p.atEOF()
				return p.flushOut()
			}
			if errors.Is(zerr, html.ErrBufferExceeded) {
				p.o.stats.degraded.Add(1)
				return p.passRest(z, cur, src)
			}
			return zerr
		case html.TextToken:
			if p.inStyle && p.pendingStyle != nil {
				p.styleText(cur)
				continue
			}
			p.emit(cur)
		case html.StartTagToken, html.SelfClosingTagToken:
			p.emitPendingStyle()
			p.startTag(cur)
		case html.EndTagToken:
			p.emitPendingStyle()
			p.endTag(cur)
		case html.DoctypeToken:
			p.isDoc = true
			p.emit(cur)
		default:
			p.emitPendingStyle()
			p.emit(cur)
		}
	}
}

// passRest writes the current token's bytes, the tokenizer's unread
// buffer and the rest of src unchanged.
func (p *page) passRest(z *html.Tokenizer, cur []byte, src io.Reader) error {
	p.emitPendingStyle()
	p.emit(cur)
	p.emit(z.Buffered())
	if err := p.flushOut(); err != nil {
		return err
	}
	n, err := io.Copy(p.dst, src)
	p.o.stats.out.Add(uint64(n))
	return err
}

func (p *page) emitPendingStyle() {
	if p.pendingStyle != nil {
		p.emit(p.pendingStyle)
		p.pendingStyle = nil
	}
	p.inStyle = false
}

func lowerName(dst, raw []byte) []byte {
	dst = append(dst[:0], tagName(raw)...)
	for i, c := range dst {
		if 'A' <= c && c <= 'Z' {
			dst[i] = c + 'a' - 'A'
		}
	}
	return dst
}

// headTags may appear before the body without ending the head.
var headTags = map[string]bool{"html": true, "head": true, "title": true, "meta": true, "link": true, "style": true,
	"script": true, "base": true, "noscript": true, "template": true}

func (p *page) startTag(raw []byte) {
	var nb [16]byte
	name := string(lowerName(nb[:0], raw))
	switch name {
	case "html", "head":
		p.isDoc = true
	case "body":
		p.isDoc = true
		p.injectHead()
	default:
		if p.isDoc && !p.headDone && !headTags[name] {
			p.injectHead()
		}
	}
	switch name {
	case "img":
		p.img(raw)
		return
	case "script":
		p.script(raw)
		return
	case "link":
		p.link(raw)
		return
	case "iframe":
		if p.t.parse(raw) {
			p.learnURL(p.t.get("src"))
		}
	case "style":
		if p.fontsOn() {
			p.pendingStyle = append(make([]byte, 0, len(raw)), raw...)
			p.inStyle = true
			return
		}
	case "template":
		p.template++
	}
	if p.c.Lazy.Enabled && p.template == 0 && !p.needLazy && p.mayMatchComponent(raw) {
		if p.t.parse(raw) && p.c.compSel.match(name, &p.t) {
			p.needLazy = true
		}
	}
	p.emit(raw)
}

func (p *page) mayMatchComponent(raw []byte) bool {
	if p.compAttrs == nil {
		return true
	}
	for _, a := range p.compAttrs {
		if bytes.Contains(raw, a) {
			return true
		}
	}
	return false
}

func (p *page) endTag(raw []byte) {
	var nb [16]byte
	switch string(lowerName(nb[:0], raw)) {
	case "head":
		p.isDoc = true
		p.injectHead()
	case "body", "html":
		p.injectTail()
	case "template":
		if p.template > 0 {
			p.template--
		}
	}
	p.emit(raw)
}

func (p *page) atEOF() {
	if p.isDoc {
		p.injectTail()
	}
	p.o.routes.learn(p.route, &p.learned)
}

// injectHead writes, once, before the end of the head: preloads of what
// this route used last time and is not in its head, then the injected
// collector.
func (p *page) injectHead() {
	if p.headDone {
		return
	}
	p.headDone = true
	start := len(p.out)
	c := p.c
	if !c.Hints.DisablePreload && !c.Images.DisablePriority {
		if hero := p.heroURL(); hero != "" {
			p.emit([]byte(`<link rel="preload" as="image" href="` + html.EscapeString(hero) + `" fetchpriority="high">`))
		}
	}
	if prev := p.prev; prev != nil {
		if !c.Hints.DisablePreconnect {
			for i, o := range prev.bodyOrigins {
				if i >= c.Hints.MaxPreconnects {
					break
				}
				p.emit([]byte(`<link rel="preconnect" href="` + html.EscapeString(o) + `">`))
			}
		}
		if !c.Hints.DisablePreload && !c.Scripts.DisableModulePreload {
			for _, m := range prev.bodyModules {
				p.emit([]byte(`<link rel="modulepreload" href="` + html.EscapeString(m) + `">`))
			}
		}
	}
	if len(c.Inject) > 0 {
		p.emit(c.Inject)
		p.o.stats.injected.Add(1)
	}
	if len(c.injectScript) > 0 && !p.noInline {
		p.emitScript(c.injectScript)
		p.o.stats.injected.Add(1)
	}
	if len(p.out) > start {
		p.rewrote = true
	}
}

// injectTail writes the lazy-loading script before </body> when the page
// has elements that wait for it.
func (p *page) injectTail() {
	if p.tailDone {
		return
	}
	p.tailDone = true
	if p.needLazy && !p.noInline {
		p.emitScript(p.c.lazyScript)
		p.rewrote = true
	}
}

// emitScript writes a <script> element, with the page's CSP nonce.
func (p *page) emitScript(el []byte) {
	if p.nonce == "" {
		p.emit(el)
		return
	}
	p.emit([]byte(`<script nonce="` + html.EscapeString(p.nonce) + `"`))
	p.emit(el[len("<script"):])
}

// heroURL is the image to preload in the head: the one real users named,
// else the one this route's last rewrite took for the LCP.
func (p *page) heroURL() string {
	if p.hint.url != "" {
		return p.hint.url
	}
	if p.prev != nil {
		// With a selector hint, last time's LCP was the element it named.
		return p.prev.hero
	}
	return ""
}

// resolve turns an attribute's URL into the form hints use (a path for
// this origin, an absolute URL for others) and, when it is under
// StaticPrefix, the name of its file in Root.
func (p *page) resolve(raw string) (ref, file, origin string) {
	if r, ok := p.urls[raw]; ok {
		return r.ref, r.file, r.origin
	}
	ref, file, origin = p.resolveURL(raw)
	if len(p.urls) < maxPageURLs {
		if p.urls == nil {
			p.urls = map[string]resolvedURL{}
		}
		p.urls[raw] = resolvedURL{ref, file, origin}
	}
	return ref, file, origin
}

// resolvedURL is one answer of resolve. A page names the same image, icon
// or script many times, and resolving an absolute URL costs a parse and a
// join; up to maxPageURLs answers are kept per page.
type resolvedURL struct{ ref, file, origin string }

const maxPageURLs = 256

func (p *page) resolveURL(raw string) (ref, file, origin string) {
	raw = strings.TrimSpace(raw)
	if raw == "" || strings.HasPrefix(raw, "data:") || strings.HasPrefix(raw, "blob:") || strings.HasPrefix(raw, "javascript:") {
		return "", "", ""
	}
	if plainLocalPath(raw) && (p.base.Scheme == "http" || p.base.Scheme == "https") && p.base.Host == p.r.Host {
		// The common case, "/img/a.png": already the resolved, escaped
		// path, so parsing it would change nothing but cost two URLs.
		return raw, p.staticFile(raw), ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", ""
	}
	abs := p.base.ResolveReference(u)
	if abs.Scheme != "http" && abs.Scheme != "https" {
		return "", "", ""
	}
	if abs.Host != p.r.Host {
		return abs.String(), "", abs.Scheme + "://" + abs.Host
	}
	ref = abs.EscapedPath()
	if abs.RawQuery != "" {
		ref += "?" + abs.RawQuery
	}
	return ref, p.staticFile(abs.Path), ""
}

// staticFile is the name in Root of the URL path, or "" when it is not
// under StaticPrefix.
func (p *page) staticFile(urlPath string) string {
	if p.c.root == nil || !strings.HasPrefix(urlPath, p.c.StaticPrefix) {
		return ""
	}
	name := path.Clean(strings.TrimPrefix(urlPath, p.c.StaticPrefix))
	if name == "." || strings.HasPrefix(name, "../") {
		return ""
	}
	return strings.TrimPrefix(name, "/")
}

// plainLocalPath reports whether raw is an absolute path on this origin
// that URL resolution would return unchanged: no scheme or authority, no
// query, fragment, escapes or dot segments, only unreserved characters.
func plainLocalPath(raw string) bool {
	if len(raw) == 0 || raw[0] != '/' || len(raw) > 1 && raw[1] == '/' || strings.Contains(raw, "/.") {
		return false
	}
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("/-._~", c) >= 0) {
			return false
		}
	}
	return true
}

// learnURL remembers a third-party origin the page uses.
func (p *page) learnURL(raw string) (ref, file string) {
	ref, file, origin := p.resolve(raw)
	if origin != "" && !p.c.Hints.DisablePreconnect {
		p.learned.addOrigin(origin, p.headDone, p.c.Hints.MaxPreconnects)
	}
	return ref, file
}

func (p *page) fontsOn() bool {
	f := p.c.Fonts
	return !f.DisableSwap || !f.DisableFallback || !f.DisablePreload
}

func (p *page) emitTag() {
	if p.t.changed() {
		p.rewrote = true
	}
	p.out = p.t.appendTo(p.out)
}

func (p *page) img(raw []byte) {
	t := &p.t
	if !t.parse(raw) {
		p.emit(raw)
		return
	}
	c := p.c
	counted := p.template == 0
	idx := p.images
	if counted {
		p.images++
	}
	src, dsrc := t.get("src"), t.get("data-src")
	lazySel := dsrc != "" && c.imgSel.match("img", t)
	url := src
	if url == "" || lazySel {
		if dsrc != "" {
			url = dsrc
		}
	}
	ref, file := p.learnURL(url)
	w, h := t.getInt("width"), t.getInt("height")
	if !c.Images.DisableDimensions && (w == 0 || h == 0) && file != "" {
		if iw, ih, ok := p.o.images.get(c.root, file); ok {
			switch {
			case w == 0 && h == 0:
				w, h = iw, ih
				t.addInt("width", w)
				t.addInt("height", h)
			case w == 0 && !t.has("width"):
				w = (h*iw + ih/2) / ih
				t.addInt("width", w)
			case h == 0 && !t.has("height"):
				h = (w*ih + iw/2) / iw
				t.addInt("height", h)
			}
			if t.changed() {
				p.o.stats.sized.Add(1)
			}
		}
	} else if w == 0 && h == 0 && file != "" {
		w, h, _ = p.o.images.get(c.root, file)
	}

	isLCP := false
	if counted && !p.lcpDone && !c.Images.DisablePriority {
		switch {
		case p.hint.url != "":
			isLCP = ref != "" && ref == p.hint.url
		case p.hint.sel != nil:
			isLCP = p.hint.sel.match("img", t)
		default:
			isLCP = idx < c.Images.AboveFold && w*h >= c.Images.MinLCPArea
		}
	}
	switch {
	case isLCP:
		p.lcpDone = true
		p.learned.hero = ref
		if !t.has("fetchpriority") {
			t.add("fetchpriority", "high")
		}
		if strings.EqualFold(t.get("loading"), "lazy") {
			t.remove("loading")
		}
		p.swapDataSrc(t, src)
		p.o.stats.prio.Add(1)
	case c.Lazy.Enabled && counted && idx >= c.Images.AboveFold:
		if !t.has("loading") && (!lazySel || c.Lazy.Native || src != "") {
			t.add("loading", "lazy")
		}
		if !t.has("decoding") {
			t.add("decoding", "async")
		}
		if lazySel {
			if c.Lazy.Native {
				p.swapDataSrc(t, src)
				if src != "" && !t.has("loading") {
					t.add("loading", "lazy")
				}
			} else if p.isDoc {
				p.needLazy = true
			}
		}
		p.o.stats.lazy.Add(1)
	case lazySel && counted && c.Lazy.Enabled && p.isDoc:
		// Above the fold the browser would load it at once anyway: no
		// need to wait for the script.
		p.swapDataSrc(t, src)
	}
	p.emitTag()
}

// swapDataSrc moves data-src (and data-srcset) to src (and srcset),
// replacing a placeholder src.
func (p *page) swapDataSrc(t *tag, src string) {
	if !t.has("data-src") {
		return
	}
	if src != "" || t.has("src") {
		t.remove("src")
	}
	t.rename("data-src", "src")
	if t.has("data-srcset") {
		t.remove("srcset")
		t.rename("data-srcset", "srcset")
	}
}

func (p *page) script(raw []byte) {
	t := &p.t
	if !t.parse(raw) || !t.has("src") {
		p.emit(raw)
		return
	}
	c := p.c
	ref, _ := p.learnURL(t.get("src"))
	typ := strings.ToLower(strings.TrimSpace(t.get("type")))
	module := typ == "module"
	classic := typ == "" || typ == "text/javascript" || typ == "application/javascript"
	if module && ref != "" {
		p.learned.addModule(ref, p.headDone)
	}
	if c.Scripts.Defer && classic && !t.has("async") && !t.has("defer") && !t.has("nomodule") {
		t.add("defer", "")
		p.o.stats.deferred.Add(1)
	}
	if !t.has("fetchpriority") && ref != "" {
		for _, crit := range c.Scripts.Critical {
			if crit != "" && strings.HasSuffix(strings.SplitN(ref, "?", 2)[0], crit) {
				t.add("fetchpriority", "high")
				break
			}
		}
	}
	p.emitTag()
}

func (p *page) link(raw []byte) {
	t := &p.t
	if !t.parse(raw) {
		p.emit(raw)
		return
	}
	rel := strings.ToLower(t.get("rel"))
	ref, _ := p.learnURL(t.get("href"))
	switch {
	case ref == "":
	case hasToken(rel, "stylesheet") && !p.headDone && (!t.has("media") || strings.EqualFold(t.get("media"), "all")):
		p.learned.addCSS(ref)
	case hasToken(rel, "preload") && strings.EqualFold(t.get("as"), "font"):
		p.fonts.preloaded = true
	case hasToken(rel, "modulepreload"):
		p.learned.addModule(ref, false)
	}
	p.emit(raw)
}

func hasToken(list, tok string) bool {
	for _, f := range strings.Fields(list) {
		if f == tok {
			return true
		}
	}
	return false
}
