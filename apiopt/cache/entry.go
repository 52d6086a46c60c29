package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/perfengine/perfengine/apiopt/compress"
)

// Entry is one stored response. It is immutable once stored: a revalidation
// replaces it with a copy.
type Entry struct {
	Status int
	Header http.Header // without hop-by-hop fields, Set-Cookie, Age and Content-Length
	// Body is the identity coding; nil when the cache holds it packed
	// (Config.PackAbove), and then Identity returns it.
	Body  []byte
	Route string   // ServeMux pattern that produced it, "" when unknown
	Tags  []string // surrogate keys

	StoredAt   time.Time     // response_time in RFC 9111 terms
	InitialAge time.Duration // corrected_initial_age
	Lifetime   time.Duration
	SWR, SIE   time.Duration // stale-while-revalidate, stale-if-error windows
	// Revalidate says a stale entry must not be served without validation
	// (must-revalidate, proxy-revalidate, s-maxage), and NoCache that even a
	// fresh one must be validated first.
	Revalidate, NoCache bool
	// ByRule says the lifetime came from a route rule (adaptive), not the origin.
	ByRule bool

	VaryNames, VaryValues []string

	ETag       string // strong validator served to clients
	originETag string // the origin's own validator, sent back when revalidating
	lastMod    time.Time

	// coded is the origin's own Content-Encoding, stored and served as sent
	// ("" for identity bodies, which the cache codes itself), and
	// varyCoding that the origin varied it on Accept-Encoding.
	coded      string
	varyCoding bool
	// part is the byte range a stored 206 holds; nil for a whole body.
	part *span
	// language is the Content-Language, for matching Accept-Language by
	// what the response would select rather than by the exact value.
	language string

	// localUntil, for an entry read from the shared backend, is when the
	// process stops trusting its copy; zero for entries stored here.
	localUntil time.Time

	// packed is the identity body as an LZ4 block when Body is nil, and
	// bodyLen the identity body's length either way.
	packed  []byte
	bodyLen int

	// variants[e] is the body and the ready header lines for coding e;
	// nil when that coding is not worth it. Identity's body is nil while
	// the entry is packed.
	variants [4]*variant
}

// Identity returns the body in identity coding, unpacking it when the
// cache holds it packed: the one case where a hit decompresses.
func (e *Entry) Identity() []byte {
	if e.packed == nil {
		return e.Body
	}
	return unpack(e.packed, e.bodyLen)
}

// variant is a body in one coding with its header lines prebuilt, so a hit
// copies slices into the header map and formats nothing.
type variant struct {
	body   []byte
	fields []field
}

type field struct {
	name   string
	values []string
}

// Age is the current age of e at now, RFC 9111 §4.2.3.
func (e *Entry) Age(now time.Time) time.Duration {
	resident := now.Sub(e.StoredAt)
	if resident < 0 {
		resident = 0
	}
	return e.InitialAge + resident
}

// Fresh reports whether e can be served without validation at age.
func (e *Entry) Fresh(age time.Duration) bool { return !e.NoCache && age < e.Lifetime }

// Size approximates the memory e holds, for the byte bound.
func (e *Entry) Size() int {
	n := len(e.Body) + len(e.packed) + 256
	for _, v := range e.variants {
		if v != nil && v != e.variants[compress.Identity] {
			n += len(v.body)
		}
	}
	for k, vs := range e.Header {
		n += len(k)
		for _, v := range vs {
			n += len(v)
		}
	}
	return n
}

func bodyETag(body []byte) string {
	sum := sha256.Sum256(body)
	return `"` + hex.EncodeToString(sum[:12]) + `"`
}

// codingETag derives the validator of a coded representation, which must
// differ from the identity one (RFC 9110 §8.8.3).
func codingETag(etag string, e compress.Encoding) string {
	// A weak tag (W/"x") ends in a quote too, and its codings stay weak.
	if e == compress.Identity || !strings.HasSuffix(etag, `"`) {
		return etag
	}
	return etag[:len(etag)-1] + "-" + e.String() + `"`
}

// build prepares e for serving: its body in every coding worth it, the
// header lines of each, and the identity body packed with LZ4 when the
// cache packs bodies of its size. Codings e already holds (from before a
// revalidation, or as the shared backend stored them) are kept, so neither
// a 304 nor a read by another instance encodes a body again.
func (c *Cache) build(e *Entry) {
	comp := c.cfg.Compressor
	if e.packed == nil {
		e.bodyLen = len(e.Body)
	}
	compressible := comp != nil && e.coded == "" && e.part == nil && e.bodyLen >= comp.MinSize() &&
		comp.Compressible(e.Header.Get("Content-Type")) && !hasNoTransform(e.Header)
	var bodies [4][]byte
	if compressible {
		var identity []byte
		enabled := comp.Enabled()
		for _, enc := range compress.Encodings {
			if !enabled[enc] {
				continue
			}
			if v := e.variants[enc]; v != nil {
				bodies[enc] = v.body
				continue
			}
			if identity == nil {
				identity = e.Identity()
			}
			out, err := comp.Encode(enc, identity)
			if err != nil || len(out) >= len(identity) {
				continue
			}
			bodies[enc] = out
		}
	}
	e.setVariants(bodies, compressible, c.hidden)
	switch {
	case e.packed == nil && c.cfg.PackAbove > 0 && e.part == nil && e.bodyLen >= c.cfg.PackAbove && e.hasCoding():
		if packed := pack(e.Body); packed != nil {
			e.packed, e.Body = packed, nil
		}
	case e.packed != nil && !e.hasCoding():
		// Read packed from the shared backend by a cache that makes no
		// coding of it: every hit would decompress, so unpack it once.
		e.Body, e.packed = e.Identity(), nil
	}
	e.variants[compress.Identity].body = e.Body
}

// setVariants makes each coding's variant with its header lines: identity
// always, the others where bodies holds one. Hidden fields are stored but
// never sent.
func (e *Entry) setVariants(bodies [4][]byte, compressible bool, hidden []string) {
	base := make([]field, 0, len(e.Header)+4)
	for k, vs := range e.Header {
		if k == "Etag" || k == "ETag" || k == "Vary" || slices.Contains(hidden, k) {
			continue
		}
		base = append(base, field{k, slices.Clip(slices.Clone(vs))})
	}
	vary := slices.Clone(e.Header["Vary"])
	if compressible && !hasAcceptEncoding(vary) {
		vary = append(vary, "Accept-Encoding")
	}
	mk := func(enc compress.Encoding, body []byte, n int) *variant {
		f := slices.Clone(base)
		f = append(f, field{"Content-Length", []string{strconv.Itoa(n)}})
		f = append(f, field{"Etag", []string{codingETag(e.ETag, enc)}})
		if len(vary) > 0 {
			f = append(f, field{"Vary", slices.Clip(vary)})
		}
		if enc != compress.Identity {
			f = append(f, field{"Content-Encoding", []string{enc.String()}})
		}
		return &variant{body: body, fields: slices.Clip(f)}
	}
	e.variants = [4]*variant{}
	e.variants[compress.Identity] = mk(compress.Identity, e.Body, e.bodyLen)
	for _, enc := range compress.Encodings {
		if bodies[enc] != nil {
			e.variants[enc] = mk(enc, bodies[enc], len(bodies[enc]))
		}
	}
}

// hasCoding reports whether e holds a body in a coding other than
// identity, so that identity is what few clients take.
func (e *Entry) hasCoding() bool {
	for _, enc := range compress.Encodings {
		if e.variants[enc] != nil {
			return true
		}
	}
	return false
}

func hasAcceptEncoding(vary []string) bool {
	for _, v := range vary {
		for f := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), "Accept-Encoding") {
				return true
			}
		}
	}
	return false
}

func hasNoTransform(h http.Header) bool {
	for _, v := range h["Cache-Control"] {
		if strings.Contains(strings.ToLower(v), "no-transform") {
			return true
		}
	}
	return false
}

// VisitHeader calls fn with each stored header line of coding enc, ready to
// send (Content-Length excepted), and returns that coding's body. A coding
// the entry does not hold falls back to identity, which used reports.
func (e *Entry) VisitHeader(enc compress.Encoding, fn func(name, value string)) (body []byte, used compress.Encoding) {
	v := e.variants[enc]
	if v == nil {
		v, enc = e.variants[compress.Identity], compress.Identity
	}
	body = v.body
	if enc == compress.Identity {
		body = e.Identity()
	}
	for _, f := range v.fields {
		if f.name == "Content-Length" {
			continue
		}
		for _, val := range f.values {
			fn(f.name, val)
		}
	}
	return body, enc
}

// matchesFunc is matches for a request whose fields get returns.
func (e *Entry) matchesFunc(get func(name string) string) bool {
	if e.varyCoding && !accepts(get("Accept-Encoding"), e.coded) {
		return false
	}
	for i, name := range e.VaryNames {
		if v := get(name); v != e.VaryValues[i] && !e.selects(name, v) {
			return false
		}
	}
	return true
}

// matches reports whether a request selects e by its Vary fields: the same
// normalised values, or for Accept-Language a first preference that e's
// Content-Language satisfies, which is what the origin would choose too.
func (e *Entry) matches(h http.Header) bool {
	if e.varyCoding && !accepts(strings.Join(h["Accept-Encoding"], ","), e.coded) {
		return false
	}
	for i, name := range e.VaryNames {
		if v := requestValue(h, name); v != e.VaryValues[i] && !e.selects(name, v) {
			return false
		}
	}
	return true
}

// selects reports whether a request's value of a varied field would select
// e although it differs from the value e was stored for.
func (e *Entry) selects(name, value string) bool {
	return name == "Accept-Language" && languageMatches(preferredLanguage(value), e.language)
}

// ageValues holds ready Age header lines for small ages, so a hit formats
// nothing; older entries format their age.
var ageValues = func() [][]string {
	v := make([][]string, 4096)
	for i := range v {
		v[i] = []string{strconv.Itoa(i)}
	}
	return v
}()

func ageField(age time.Duration) []string {
	s := int64(age / time.Second)
	if s < int64(len(ageValues)) {
		return ageValues[s]
	}
	return []string{strconv.FormatInt(s, 10)}
}
