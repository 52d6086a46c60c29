package webopt

import (
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"
)

// resources are what one rewrite of a route found: hints for the next
// response of the route go out before its body exists (Link headers, 103
// Early Hints, preloads in the head for what only the body names).
type resources struct {
	css         []string
	hero        string
	font        string
	fontType    string
	modules     []string
	bodyModules []string
	origins     []string
	bodyOrigins []string
}

const maxListed = 8

func addUnique(list []string, s string, limit int) []string {
	if len(list) >= limit {
		return list
	}
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

func (r *resources) addCSS(ref string) { r.css = addUnique(r.css, ref, maxListed) }

func (r *resources) addModule(ref string, inBody bool) {
	r.modules = addUnique(r.modules, ref, maxListed)
	if inBody {
		r.bodyModules = addUnique(r.bodyModules, ref, maxListed)
	}
}

func (r *resources) addOrigin(origin string, inBody bool, limit int) {
	seen := false
	for _, o := range r.origins {
		seen = seen || o == origin
	}
	r.origins = addUnique(r.origins, origin, limit)
	if inBody && !seen {
		r.bodyOrigins = addUnique(r.bodyOrigins, origin, limit)
	}
}

// lcpHint is what SetLCPHint said of a route: an image URL or a selector.
type lcpHint struct {
	url string
	sel selector
}

// routeMemory keeps resources and LCP hints per route, for at most max
// routes each: a flood of distinct paths cannot grow it.
type routeMemory struct {
	mu   sync.RWMutex
	max  int
	res  map[string]*resources
	hint map[string]lcpHint
}

func (m *routeMemory) init(max int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.max = max
	if m.res == nil {
		m.res, m.hint = map[string]*resources{}, map[string]lcpHint{}
	}
}

func (m *routeMemory) learn(route string, r *resources) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.res[route]; !ok && len(m.res) >= m.max {
		return
	}
	cp := *r
	m.res[route] = &cp
}

func (m *routeMemory) get(route string) *resources {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.res[route]
}

func (m *routeMemory) setLCP(route, selectorOrURL string) {
	s := strings.TrimSpace(selectorOrURL)
	m.mu.Lock()
	defer m.mu.Unlock()
	if s == "" {
		delete(m.hint, route)
		return
	}
	if _, ok := m.hint[route]; !ok && len(m.hint) >= m.max {
		return
	}
	var h lcpHint
	if strings.HasPrefix(s, "/") || strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") {
		h.url = s
		if strings.HasPrefix(s, "//") {
			h.url = "https:" + s
		}
	} else if sel, err := parseSelector(s); err == nil {
		h.sel = sel
	} else {
		// A selector we cannot match still says the LCP is not the
		// image a guess would pick.
		h.sel = selector{{tag: "\x00"}}
	}
	m.hint[route] = h
}

func (m *routeMemory) lcp(route, urlPath string) lcpHint {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if h, ok := m.hint[route]; ok {
		return h
	}
	return m.hint[urlPath]
}

// links are the Link header values for route. With early set they are for
// a 103: local files count against the byte budget, and a font goes only
// when its size is known and fits.
func (o *Optimizer) links(c *compiled, route, urlPath string, early bool) []string {
	prev := o.routes.get(route)
	hint := o.routes.lcp(route, urlPath)
	if prev == nil && hint.url == "" {
		return nil
	}
	if prev == nil {
		prev = &resources{}
	}
	budget := c.Hints.EarlyHintsBudget
	fits := func(ref string, mustKnow bool) bool {
		if !early {
			return true
		}
		size, ok := o.localSize(c, ref)
		if !ok {
			return !mustKnow
		}
		if size > budget {
			return false
		}
		budget -= size
		return true
	}
	var out []string
	add := func(ref, params string) {
		if linkSafe(ref) {
			out = append(out, "<"+ref+">; "+params)
		}
	}
	if !c.Hints.DisablePreload {
		for _, css := range prev.css {
			if fits(css, false) {
				add(css, "rel=preload; as=style")
			}
		}
		hero := hint.url
		if hero == "" {
			hero = prev.hero
		}
		// The hero is not charged to the budget: the page fetches it first
		// and at high priority anyway, so hinting it only starts that
		// fetch sooner, whatever its size.
		if hero != "" && !c.Images.DisablePriority {
			add(hero, "rel=preload; as=image; fetchpriority=high")
		}
		if prev.font != "" && !c.Fonts.DisablePreload && fits(prev.font, true) {
			add(prev.font, `rel=preload; as=font; type="`+prev.fontType+`"; crossorigin`)
		}
		if !c.Scripts.DisableModulePreload {
			for _, m := range prev.modules {
				if fits(m, false) {
					add(m, "rel=modulepreload")
				}
			}
		}
	}
	if !c.Hints.DisablePreconnect {
		for i, origin := range prev.origins {
			if i >= c.Hints.MaxPreconnects {
				break
			}
			add(origin, "rel=preconnect")
		}
	}
	return out
}

// linkSafe keeps values that cannot break out of a Link header.
func linkSafe(ref string) bool {
	if ref == "" || len(ref) > 2048 {
		return false
	}
	for i := 0; i < len(ref); i++ {
		if c := ref[i]; c <= ' ' || c == '<' || c == '>' || c == '"' || c == 0x7f || c >= 0x80 {
			return false
		}
	}
	return true
}

// localSize is the size of the file a same-origin reference names.
func (o *Optimizer) localSize(c *compiled, ref string) (int64, bool) {
	if c.root == nil || !strings.HasPrefix(ref, c.StaticPrefix) {
		return 0, false
	}
	p := strings.SplitN(ref, "?", 2)[0]
	name := strings.TrimPrefix(path.Clean(strings.TrimPrefix(p, c.StaticPrefix)), "/")
	if !fs.ValidPath(name) || name == "." {
		return 0, false
	}
	st, err := fs.Stat(c.root, name)
	if err != nil || st.IsDir() {
		return 0, false
	}
	return st.Size(), true
}

// earlyHints sends 103 Early Hints for what route used last time. Only
// over HTTP/2: Chrome ignores 103 on HTTP/1.1, and some HTTP/1.1 clients
// and proxies mishandle it.
func (o *Optimizer) earlyHints(c *compiled, w http.ResponseWriter, r *http.Request, route string) bool {
	if !c.Hints.EarlyHints || r.ProtoMajor != 2 || r.Method != http.MethodGet {
		return false
	}
	links := o.links(c, route, r.URL.Path, true)
	if len(links) == 0 {
		return false
	}
	h := w.Header()
	for _, l := range links {
		h.Add("Link", l)
	}
	// net/http keeps the header map after a 1xx, so the final response
	// repeats the Link headers, as RFC 8297 suggests.
	w.WriteHeader(http.StatusEarlyHints)
	o.stats.hints.Add(1)
	return true
}

// linkHeaders adds the route's Link headers to a response being rewritten.
func (o *Optimizer) linkHeaders(c *compiled, h http.Header, route string, r *http.Request) {
	for _, l := range o.links(c, route, r.URL.Path, false) {
		h.Add("Link", l)
	}
}

// cspNonce reads the script nonce of a Content-Security-Policy, and
// whether the policy forbids inline scripts that carry none.
func cspNonce(h http.Header) (nonce string, forbidden bool) {
	for _, policy := range h.Values("Content-Security-Policy") {
		var scriptSrc, defaultSrc []string
		for _, d := range strings.Split(policy, ";") {
			f := strings.Fields(d)
			if len(f) == 0 {
				continue
			}
			switch strings.ToLower(f[0]) {
			case "script-src", "script-src-elem":
				scriptSrc = f[1:]
			case "default-src":
				defaultSrc = f[1:]
			}
		}
		src := scriptSrc
		if src == nil {
			src = defaultSrc
		}
		if src == nil {
			continue
		}
		inline := false
		for _, s := range src {
			ls := strings.ToLower(s)
			switch {
			case strings.HasPrefix(ls, "'nonce-") && strings.HasSuffix(s, "'"):
				nonce = s[len("'nonce-") : len(s)-1]
			case ls == "'unsafe-inline'":
				inline = true
			}
		}
		if nonce == "" && !inline {
			forbidden = true
		}
	}
	return nonce, forbidden && nonce == ""
}
