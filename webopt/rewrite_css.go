package webopt

import (
	"bytes"
	"html"
	"path"
	"sort"
	"strconv"
	"strings"
)

// fontState follows the page's web fonts across its <style> elements.
type fontState struct {
	preloaded bool
	faces     map[string]*webFace // by lower-case family
}

type webFace struct {
	family   string
	url      string // the first src URL, the one browsers will likely take
	urlType  string
	fallback string // the fallback family, when its metrics are known
}

type cssEdit struct {
	at  int
	ins string
}

// styleText rewrites the text of one inline <style>: font-display: swap in
// @font-face rules that have none, a metric-matched fallback face after
// each web font's first rule, the fallback added to the font-family
// stacks that name the web font, and a preload of the first web font the
// styles use, written before the <style>.
func (p *page) styleText(css []byte) {
	edits, preload := p.cssEdits(css)
	if preload != nil {
		p.emit([]byte(`<link rel="preload" href="` + html.EscapeString(preload.url) + `" as="font" type="` + preload.urlType + `" crossorigin>`))
		p.rewrote = true
	}
	p.emit(p.pendingStyle)
	p.pendingStyle = nil
	if len(edits) == 0 {
		p.emit(css)
		return
	}
	p.rewrote = true
	sort.SliceStable(edits, func(i, j int) bool { return edits[i].at < edits[j].at })
	prev := 0
	for _, e := range edits {
		p.emit(css[prev:e.at])
		p.emit([]byte(e.ins))
		prev = e.at
	}
	p.emit(css[prev:])
}

// cssBlock is a span of CSS: an @font-face rule or a declaration value.
type cssSpan struct{ start, open, end int }

// skipCSS returns the index after the comment or string starting at i, or
// i when there is none.
func skipCSS(css []byte, i int) int {
	switch {
	case css[i] == '/' && i+1 < len(css) && css[i+1] == '*':
		if k := bytes.Index(css[i+2:], []byte("*/")); k >= 0 {
			return i + 4 + k
		}
		return len(css)
	case css[i] == '"' || css[i] == '\'':
		q := css[i]
		for j := i + 1; j < len(css); j++ {
			switch css[j] {
			case '\\':
				j++
			case q, '\n':
				return j + 1
			}
		}
		return len(css)
	}
	return i
}

// scanCSS finds the @font-face rules and the font-family and font
// declarations outside them.
func scanCSS(css []byte) (faces, decls []cssSpan, props []bool) {
	depth, boundary := 0, 0
	for i := 0; i < len(css); {
		if j := skipCSS(css, i); j != i {
			i = j
			continue
		}
		switch c := css[i]; c {
		case '{':
			depth++
			boundary = i + 1
		case '}':
			if depth > 0 {
				depth--
			}
			boundary = i + 1
		case ';':
			boundary = i + 1
		case '@':
			if len(css)-i >= 10 && bytes.EqualFold(css[i:i+10], []byte("@font-face")) {
				open := bytes.IndexByte(css[i:], '{')
				if open < 0 {
					return
				}
				open += i
				end := blockEnd(css, open)
				faces = append(faces, cssSpan{start: i, open: open, end: end})
				i, boundary = end, end
				continue
			}
		case ':':
			if depth == 0 {
				break
			}
			name := strings.ToLower(strings.TrimSpace(string(css[boundary:i])))
			if name != "font-family" && name != "font" {
				break
			}
			end := valueEnd(css, i+1)
			decls = append(decls, cssSpan{start: boundary, open: i + 1, end: end})
			props = append(props, name == "font")
			i = end
			continue
		}
		i++
	}
	return
}

// blockEnd is the index after the '}' matching the '{' at open.
func blockEnd(css []byte, open int) int {
	depth := 0
	for i := open; i < len(css); {
		if j := skipCSS(css, i); j != i {
			i = j
			continue
		}
		switch css[i] {
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
		i++
	}
	return len(css)
}

// valueEnd is the index of the ';' or '}' ending a declaration value.
func valueEnd(css []byte, i int) int {
	paren := 0
	for i < len(css) {
		if j := skipCSS(css, i); j != i {
			i = j
			continue
		}
		switch css[i] {
		case '(':
			paren++
		case ')':
			paren--
		case ';', '}':
			if paren <= 0 {
				return i
			}
		}
		i++
	}
	return len(css)
}

// splitCSS splits s on sep outside strings and parentheses, returning the
// [start, end) of each part.
func splitCSS(s []byte, sep byte) [][2]int {
	var parts [][2]int
	start, paren := 0, 0
	for i := 0; i < len(s); {
		if j := skipCSS(s, i); j != i {
			i = j
			continue
		}
		switch s[i] {
		case '(':
			paren++
		case ')':
			paren--
		case sep:
			if paren <= 0 {
				parts = append(parts, [2]int{start, i})
				start = i + 1
			}
		}
		i++
	}
	return append(parts, [2]int{start, len(s)})
}

func unquote(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}

func (p *page) cssEdits(css []byte) (edits []cssEdit, preload *webFace) {
	c := p.c
	faces, decls, short := scanCSS(css)
	if p.fonts.faces == nil && len(faces) > 0 {
		p.fonts.faces = map[string]*webFace{}
	}
	for _, f := range faces {
		var family, src string
		hasDisplay := false
		body := css[f.open+1 : max(f.open+1, f.end-1)]
		for _, d := range splitCSS(body, ';') {
			prop, val, ok := strings.Cut(string(body[d[0]:d[1]]), ":")
			if !ok {
				continue
			}
			switch strings.ToLower(strings.TrimSpace(prop)) {
			case "font-family":
				family = unquote(val)
			case "src":
				src = val
			case "font-display":
				hasDisplay = true
			}
		}
		if !hasDisplay && !c.Fonts.DisableSwap {
			edits = append(edits, cssEdit{at: f.open + 1, ins: "font-display:swap;"})
			p.o.stats.swap.Add(1)
		}
		if family == "" {
			continue
		}
		key := strings.ToLower(family)
		face := p.fonts.faces[key]
		if face == nil {
			face = &webFace{family: family}
			p.fonts.faces[key] = face
			urls := cssURLs(src)
			if len(urls) > 0 {
				ref, _, _ := p.resolve(urls[0])
				face.url, face.urlType = ref, fontType(urls[0])
			}
			if !c.Fonts.DisableFallback && plainFamily(family) {
				if m, ok := p.faceMetrics(urls); ok {
					face.fallback = family + " Fallback"
					edits = append(edits, cssEdit{at: f.end, ins: fallbackFace(face.fallback, m, c.Fonts.Fallback)})
					p.o.stats.fall.Add(1)
				}
			}
		}
	}
	if len(p.fonts.faces) == 0 {
		return edits, nil
	}
	for k, d := range decls {
		val := css[d.open:d.end]
		items := splitCSS(val, ',')
		for n, it := range items {
			item := strings.TrimSpace(string(val[it[0]:it[1]]))
			face := p.fonts.faces[strings.ToLower(unquote(item))]
			if face == nil && short[k] {
				// "font: 16px/1.5 Inter, sans-serif": the family ends the
				// first item.
				if sp := strings.LastIndexAny(item, " \t\n"); sp >= 0 && n == 0 {
					face = p.fonts.faces[strings.ToLower(unquote(item[sp+1:]))]
				}
			}
			if face == nil {
				continue
			}
			if preload == nil && !p.fonts.preloaded && !c.Fonts.DisablePreload && face.url != "" && linkSafe(face.url) {
				preload = face
				p.fonts.preloaded = true
				p.learned.font, p.learned.fontType = face.url, face.urlType
			}
			if face.fallback == "" {
				continue
			}
			if n+1 < len(items) && strings.EqualFold(unquote(string(val[items[n+1][0]:items[n+1][1]])), face.fallback) {
				continue
			}
			end := d.open + it[1]
			for end > d.open+it[0] && isSpace(css[end-1]) {
				end--
			}
			edits = append(edits, cssEdit{at: end, ins: `, "` + face.fallback + `"`})
		}
	}
	return edits, preload
}

// cssURLs lists the url(...) arguments of an @font-face src.
func cssURLs(src string) []string {
	var urls []string
	for {
		i := strings.Index(strings.ToLower(src), "url(")
		if i < 0 {
			return urls
		}
		src = src[i+4:]
		j := strings.IndexByte(src, ')')
		if j < 0 {
			return urls
		}
		urls = append(urls, unquote(src[:j]))
		src = src[j+1:]
	}
}

func fontType(u string) string {
	switch strings.ToLower(path.Ext(strings.SplitN(u, "?", 2)[0])) {
	case ".woff2":
		return "font/woff2"
	case ".woff":
		return "font/woff"
	case ".otf":
		return "font/otf"
	default:
		return "font/ttf"
	}
}

// faceMetrics reads the metrics of the first source that is a TTF, OTF or
// WOFF file in Root; for a WOFF2 source it tries the same name with those
// extensions.
func (p *page) faceMetrics(urls []string) (fontMetrics, bool) {
	for _, u := range urls {
		_, file, _ := p.resolve(u)
		if file == "" {
			continue
		}
		ext := strings.ToLower(path.Ext(file))
		cands := []string{file}
		if ext == ".woff2" {
			base := strings.TrimSuffix(file, path.Ext(file))
			cands = []string{base + ".woff", base + ".ttf", base + ".otf"}
		}
		for _, f := range cands {
			if m, ok := p.o.fonts.get(p.c.root, f); ok {
				return m, true
			}
		}
	}
	return fontMetrics{}, false
}

// fallbackFace is the @font-face of a local font scaled to take the web
// font's room, so the swap does not move the text.
func fallbackFace(name string, m fontMetrics, local string) string {
	o := m.overrides(fallbackFonts[local])
	pct := func(v float64) string { return strconv.FormatFloat(v*100, 'f', 2, 64) + "%" }
	return `@font-face{font-family:"` + name + `";src:local("` + local + `");size-adjust:` + pct(o.SizeAdjust) +
		`;ascent-override:` + pct(o.Ascent) + `;descent-override:` + pct(o.Descent) + `;line-gap-override:` + pct(o.LineGap) + `}`
}

// plainFamily accepts family names that are safe to quote in generated CSS.
func plainFamily(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for _, r := range s {
		if !(r == ' ' || r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}
