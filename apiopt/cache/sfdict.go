package cache

import "errors"

// errStructured reports a field value that is not a valid Structured Field
// Dictionary (RFC 8941 §4.2.2).
var errStructured = errors.New("cache: not a structured field dictionary")

// sfKind is the type of a dictionary member's value.
type sfKind uint8

const (
	sfBoolean sfKind = iota
	sfInteger
	sfDecimal
	sfString
	sfToken
	sfBytes
	sfInnerList
)

// sfMember is one dictionary member: its type, and for the types the cache
// directives use, the value. Parameters are parsed and dropped: RFC 9213
// §2.1 asks that unknown parameters be ignored.
type sfMember struct {
	kind    sfKind
	boolean bool
	integer int64
}

// parseSFDictionary parses the field lines of a Dictionary structured field,
// joined as one value the way RFC 8941 §4.2 combines them. A later member
// with the same key replaces an earlier one. Anything that does not parse
// fails the whole field.
func parseSFDictionary(lines []string) (map[string]sfMember, error) {
	var s string
	for i, l := range lines {
		if i > 0 {
			s += ","
		}
		s += l
	}
	p := sfParser{s: s}
	p.skipSP()
	out := map[string]sfMember{}
	if p.done() {
		return out, nil
	}
	for {
		if len(out) >= maxDirectives {
			return nil, errStructured
		}
		key, ok := p.key()
		if !ok {
			return nil, errStructured
		}
		m := sfMember{kind: sfBoolean, boolean: true}
		if p.peek() == '=' {
			p.i++
			if m, ok = p.itemOrInnerList(); !ok {
				return nil, errStructured
			}
		} else if !p.parameters() {
			return nil, errStructured
		}
		out[key] = m
		p.skipOWS()
		if p.done() {
			return out, nil
		}
		if p.peek() != ',' {
			return nil, errStructured
		}
		p.i++
		p.skipOWS()
		if p.done() {
			return nil, errStructured // a trailing comma
		}
	}
}

type sfParser struct {
	s string
	i int
}

func (p *sfParser) done() bool { return p.i >= len(p.s) }

func (p *sfParser) peek() byte {
	if p.done() {
		return 0
	}
	return p.s[p.i]
}

func (p *sfParser) skipSP() {
	for !p.done() && p.s[p.i] == ' ' {
		p.i++
	}
}

func (p *sfParser) skipOWS() {
	for !p.done() && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func isLCAlpha(c byte) bool { return c >= 'a' && c <= 'z' }
func isDigit(c byte) bool   { return c >= '0' && c <= '9' }

// key: ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" ).
func (p *sfParser) key() (string, bool) {
	start := p.i
	if c := p.peek(); !isLCAlpha(c) && c != '*' {
		return "", false
	}
	p.i++
	for !p.done() {
		c := p.s[p.i]
		if !isLCAlpha(c) && !isDigit(c) && c != '_' && c != '-' && c != '.' && c != '*' {
			break
		}
		p.i++
	}
	return p.s[start:p.i], true
}

func (p *sfParser) itemOrInnerList() (sfMember, bool) {
	if p.peek() != '(' {
		m, ok := p.bareItem()
		return m, ok && p.parameters()
	}
	p.i++
	for {
		p.skipSP()
		if p.peek() == ')' {
			p.i++
			return sfMember{kind: sfInnerList}, p.parameters()
		}
		if _, ok := p.bareItem(); !ok || !p.parameters() {
			return sfMember{}, false
		}
		if c := p.peek(); c != ' ' && c != ')' {
			return sfMember{}, false
		}
	}
}

// parameters: *( ";" *SP key [ "=" bare-item ] ).
func (p *sfParser) parameters() bool {
	for p.peek() == ';' {
		p.i++
		p.skipSP()
		if _, ok := p.key(); !ok {
			return false
		}
		if p.peek() == '=' {
			p.i++
			if _, ok := p.bareItem(); !ok {
				return false
			}
		}
	}
	return true
}

func (p *sfParser) bareItem() (sfMember, bool) {
	c := p.peek()
	switch {
	case c == '-' || isDigit(c):
		return p.number()
	case c == '"':
		return sfMember{kind: sfString}, p.str()
	case c == ':':
		return sfMember{kind: sfBytes}, p.bytes()
	case c == '?':
		p.i++
		switch p.peek() {
		case '0', '1':
			b := p.peek() == '1'
			p.i++
			return sfMember{kind: sfBoolean, boolean: b}, true
		}
		return sfMember{}, false
	case isAlpha(c) || c == '*':
		p.i++
		for !p.done() && (isTChar(p.s[p.i]) || p.s[p.i] == ':' || p.s[p.i] == '/') {
			p.i++
		}
		return sfMember{kind: sfToken}, true
	}
	return sfMember{}, false
}

// number: RFC 8941 §4.2.4, integers of at most 15 digits, decimals of at
// most 12 integer and 3 fractional digits.
func (p *sfParser) number() (sfMember, bool) {
	neg := false
	if p.peek() == '-' {
		neg = true
		p.i++
	}
	var n int64
	intDigits, fracDigits, decimal := 0, 0, false
	for !p.done() {
		c := p.s[p.i]
		switch {
		case isDigit(c):
			if decimal {
				fracDigits++
			} else {
				intDigits++
				n = n*10 + int64(c-'0')
			}
		case c == '.' && !decimal:
			if intDigits > 12 {
				return sfMember{}, false
			}
			decimal = true
		default:
			goto end
		}
		p.i++
		if (!decimal && intDigits > 15) || fracDigits > 3 {
			return sfMember{}, false
		}
	}
end:
	if intDigits == 0 || (decimal && fracDigits == 0) {
		return sfMember{}, false
	}
	if neg {
		n = -n
	}
	if decimal {
		return sfMember{kind: sfDecimal}, true
	}
	return sfMember{kind: sfInteger, integer: n}, true
}

func (p *sfParser) str() bool {
	p.i++ // opening quote
	for !p.done() {
		c := p.s[p.i]
		p.i++
		switch {
		case c == '\\':
			if p.done() || (p.s[p.i] != '"' && p.s[p.i] != '\\') {
				return false
			}
			p.i++
		case c == '"':
			return true
		case c < 0x20 || c > 0x7e:
			return false
		}
	}
	return false
}

func (p *sfParser) bytes() bool {
	p.i++ // opening colon
	for !p.done() {
		c := p.s[p.i]
		p.i++
		switch {
		case c == ':':
			return true
		case isAlpha(c) || isDigit(c) || c == '+' || c == '/' || c == '=':
		default:
			return false
		}
	}
	return false
}

func isAlpha(c byte) bool { return isLCAlpha(c) || (c >= 'A' && c <= 'Z') }

// isTChar is RFC 9110's tchar.
func isTChar(c byte) bool {
	if isAlpha(c) || isDigit(c) {
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}
