package webopt

import (
	"bytes"
	"html"
	"strconv"
)

// tag is one start tag, parsed from its raw bytes. The tokenizer's own
// TagName and TagAttr lower-case and unescape in place, which would change
// the bytes copied out, so tags are parsed here from a copy and edited by
// splicing: everything not edited keeps its bytes.
type tag struct {
	raw     []byte
	nameEnd int
	attrs   []attr
	ok      bool

	edits []attrEdit
	adds  []byte
}

// attr is one attribute's spans in raw: key [ks,ke), value [vs,ve) and
// the attribute's end (after a closing quote).
type attr struct {
	ks, ke, vs, ve, end int
	hasVal              bool
}

type attrEdit struct {
	i      int
	del    bool
	newKey string
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' }

// tagName returns the name in "<name ...>" or "</name ...>".
func tagName(raw []byte) []byte {
	i := 1
	if len(raw) > 1 && raw[1] == '/' {
		i = 2
	}
	j := i
	for j < len(raw) && !isSpace(raw[j]) && raw[j] != '/' && raw[j] != '>' {
		j++
	}
	return raw[i:j]
}

// parse reads raw's attributes the way the HTML tokenizer does (WHATWG
// 13.2.5.32-39). It reports false for tags it will not edit: unterminated
// quotes or attribute names with quote or '<' characters.
func (t *tag) parse(raw []byte) bool {
	t.raw, t.attrs, t.edits, t.adds, t.ok = raw, t.attrs[:0], t.edits[:0], t.adds[:0], false
	n := len(raw)
	if n < 3 || raw[0] != '<' || raw[n-1] != '>' {
		return false
	}
	t.nameEnd = 1 + len(tagName(raw))
	i := t.nameEnd
	for i < n {
		c := raw[i]
		if isSpace(c) || c == '/' {
			i++
			continue
		}
		if c == '>' {
			break
		}
		a := attr{ks: i}
		i++ // a leading '=' belongs to the name
		for i < n && !isSpace(raw[i]) && raw[i] != '/' && raw[i] != '>' && raw[i] != '=' {
			i++
		}
		a.ke = i
		if bytes.ContainsAny(raw[a.ks:a.ke], "\"'<") || raw[a.ks] == '=' {
			return false
		}
		j := i
		for j < n && isSpace(raw[j]) {
			j++
		}
		if j < n && raw[j] == '=' {
			j++
			for j < n && isSpace(raw[j]) {
				j++
			}
			a.hasVal = true
			switch {
			case j < n && (raw[j] == '"' || raw[j] == '\''):
				q := raw[j]
				k := bytes.IndexByte(raw[j+1:], q)
				if k < 0 {
					return false
				}
				a.vs, a.ve, a.end = j+1, j+1+k, j+2+k
			case j < n && raw[j] == '>':
				a.vs, a.ve, a.end = j, j, j
			default:
				a.vs = j
				for j < n && !isSpace(raw[j]) && raw[j] != '>' {
					j++
				}
				// "<img src=a/>": the slash belongs to the value, so the
				// tag ends at '>' alone.
				a.ve, a.end = j, j
			}
			i = a.end
		} else {
			a.end = a.ke
		}
		t.attrs = append(t.attrs, a)
	}
	t.ok = true
	return true
}

func (t *tag) index(name string) int {
	for i, a := range t.attrs {
		if a.ke-a.ks == len(name) && bytes.EqualFold(t.raw[a.ks:a.ke], []byte(name)) {
			return i // the first one counts, as in browsers
		}
	}
	return -1
}

func (t *tag) has(name string) bool { return t.index(name) >= 0 }

// get returns an attribute's unescaped value.
func (t *tag) get(name string) string {
	i := t.index(name)
	if i < 0 || !t.attrs[i].hasVal {
		return ""
	}
	a := t.attrs[i]
	v := t.raw[a.vs:a.ve]
	if bytes.IndexByte(v, '&') < 0 {
		return string(v)
	}
	return html.UnescapeString(string(v))
}

// getInt reads a non-negative integer attribute (a width, a height) from
// the raw bytes, without the string get would make; anything but plain
// digits reads as 0, absent.
func (t *tag) getInt(name string) int {
	i := t.index(name)
	if i < 0 || !t.attrs[i].hasVal {
		return 0
	}
	v := t.raw[t.attrs[i].vs:t.attrs[i].ve]
	if len(v) == 0 || len(v) > 9 {
		return 0
	}
	n := 0
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// addInt adds name="n".
func (t *tag) addInt(name string, n int) {
	t.adds = append(t.adds, ' ')
	t.adds = append(t.adds, name...)
	t.adds = append(t.adds, `="`...)
	t.adds = strconv.AppendInt(t.adds, int64(n), 10)
	t.adds = append(t.adds, '"')
}

func (t *tag) add(name, value string) {
	t.adds = append(t.adds, ' ')
	t.adds = append(t.adds, name...)
	if value == "" {
		return
	}
	t.adds = append(t.adds, `="`...)
	t.adds = append(t.adds, html.EscapeString(value)...)
	t.adds = append(t.adds, '"')
}

func (t *tag) remove(name string) {
	if i := t.index(name); i >= 0 {
		t.edits = append(t.edits, attrEdit{i: i, del: true})
	}
}

func (t *tag) rename(from, to string) {
	if i := t.index(from); i >= 0 {
		t.edits = append(t.edits, attrEdit{i: i, newKey: to})
	}
}

func (t *tag) changed() bool { return len(t.edits) > 0 || len(t.adds) > 0 }

// appendTo writes the edited tag to dst.
func (t *tag) appendTo(dst []byte) []byte {
	if !t.changed() {
		return append(dst, t.raw...)
	}
	prev := t.nameEnd
	dst = append(dst, t.raw[:t.nameEnd]...)
	for i, a := range t.attrs {
		var e *attrEdit
		for k := range t.edits {
			if t.edits[k].i == i {
				e = &t.edits[k]
			}
		}
		if e != nil && e.del {
			prev = a.end
			continue
		}
		dst = append(dst, t.raw[prev:a.ks]...)
		if e != nil && e.newKey != "" {
			dst = append(dst, e.newKey...)
			dst = append(dst, t.raw[a.ke:a.end]...)
		} else {
			dst = append(dst, t.raw[a.ks:a.end]...)
		}
		prev = a.end
	}
	// New attributes go right after the last attribute, before any "/>",
	// with a space so an unquoted value cannot swallow them.
	dst = append(dst, t.adds...)
	return append(dst, t.raw[prev:]...)
}
