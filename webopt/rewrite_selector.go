package webopt

import (
	"errors"
	"fmt"
	"strings"
)

// selector is a list of compound CSS selectors (tag, #id, .class, [attr],
// [attr=value]). The rewriter sees one tag at a time, without ancestors,
// so of a complex selector ("main > img.hero") it matches the rightmost
// compound; the browser script uses the whole selector.
type selector []compound

type compound struct {
	tag     string
	id      string
	classes []string
	attrs   []attrCond
}

type attrCond struct {
	name, val string
	hasVal    bool
}

var errSelector = errors.New("unsupported selector")

func parseSelector(s string) (selector, error) {
	var sel selector
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			return nil, fmt.Errorf("%q: empty selector in list: %w", s, errSelector)
		}
		// The subject is the last compound after a combinator.
		depth, start := 0, 0
		for i := 0; i < len(part); i++ {
			switch c := part[i]; {
			case c == '[':
				depth++
			case c == ']':
				depth--
			case depth == 0 && (c == ' ' || c == '>' || c == '+' || c == '~'):
				start = i + 1
			}
		}
		c, err := parseCompound(strings.TrimSpace(part[start:]))
		if err != nil {
			return nil, fmt.Errorf("%q: %w", s, err)
		}
		sel = append(sel, c)
	}
	return sel, nil
}

func identEnd(s string, i int) int {
	for i < len(s) {
		c := s[i]
		if c == '-' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80 {
			i++
			continue
		}
		break
	}
	return i
}

func parseCompound(s string) (compound, error) {
	var c compound
	if s == "" {
		return c, fmt.Errorf("empty compound: %w", errSelector)
	}
	i := 0
	if s[0] == '*' {
		i = 1
	} else if j := identEnd(s, 0); j > 0 {
		c.tag, i = strings.ToLower(s[:j]), j
	}
	for i < len(s) {
		switch s[i] {
		case '#', '.':
			j := identEnd(s, i+1)
			if j == i+1 {
				return c, fmt.Errorf("missing name after %q: %w", s[i], errSelector)
			}
			if s[i] == '#' {
				c.id = s[i+1 : j]
			} else {
				c.classes = append(c.classes, s[i+1:j])
			}
			i = j
		case '[':
			k := strings.IndexByte(s[i:], ']')
			if k < 0 {
				return c, fmt.Errorf("unclosed [: %w", errSelector)
			}
			body := s[i+1 : i+k]
			var a attrCond
			if name, val, ok := strings.Cut(body, "="); ok {
				if strings.ContainsAny(name, "~|^$*") {
					return c, fmt.Errorf("[%s]: only [attr] and [attr=value]: %w", body, errSelector)
				}
				a.name, a.hasVal = strings.ToLower(strings.TrimSpace(name)), true
				a.val = strings.Trim(strings.TrimSpace(val), `"'`)
			} else {
				a.name = strings.ToLower(strings.TrimSpace(body))
			}
			if a.name == "" || identEnd(a.name, 0) != len(a.name) {
				return c, fmt.Errorf("[%s]: bad attribute name: %w", body, errSelector)
			}
			c.attrs = append(c.attrs, a)
			i += k + 1
		default:
			return c, fmt.Errorf("%q at %q (pseudo-classes and the like are not supported): %w", s[i], s, errSelector)
		}
	}
	return c, nil
}

// match reports whether the start tag t named name (lower case) matches.
func (sel selector) match(name string, t *tag) bool {
	for _, c := range sel {
		if c.match(name, t) {
			return true
		}
	}
	return false
}

func (c compound) match(name string, t *tag) bool {
	if c.tag != "" && c.tag != name {
		return false
	}
	if c.id != "" && t.get("id") != c.id {
		return false
	}
	if len(c.classes) > 0 {
		have := strings.Fields(t.get("class"))
	classes:
		for _, want := range c.classes {
			for _, h := range have {
				if h == want {
					continue classes
				}
			}
			return false
		}
	}
	for _, a := range c.attrs {
		if !t.has(a.name) || a.hasVal && t.get(a.name) != a.val {
			return false
		}
	}
	return true
}

// attrNames lists the attributes every compound requires, for a quick
// byte check before parsing a tag; nil when some compound needs none.
func (sel selector) attrNames() []string {
	var names []string
	for _, c := range sel {
		switch {
		case len(c.attrs) > 0:
			names = append(names, c.attrs[0].name)
		case len(c.classes) > 0:
			names = append(names, "class")
		case c.id != "":
			names = append(names, "id")
		default:
			return nil
		}
	}
	return names
}
