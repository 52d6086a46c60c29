package cache

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// span is the byte range a stored 206 holds: first and last byte,
// inclusive, of a representation of Total bytes (-1 when the origin wrote
// "*").
type span struct {
	First int64 `json:"f"`
	Last  int64 `json:"l"`
	Total int64 `json:"t"`
}

func (s *span) covers(first, last int64) bool { return first >= s.First && last <= s.Last }

// parseContentRange reads "bytes first-last/total" (RFC 9110 §14.4).
func parseContentRange(v string) (*span, bool) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(v), "bytes ")
	if !ok {
		return nil, false
	}
	rng, total, ok := strings.Cut(rest, "/")
	if !ok {
		return nil, false
	}
	a, b, ok := strings.Cut(rng, "-")
	if !ok {
		return nil, false
	}
	first, err1 := strconv.ParseInt(a, 10, 64)
	last, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || first < 0 || last < first {
		return nil, false
	}
	s := &span{First: first, Last: last, Total: -1}
	if total != "*" {
		t, err := strconv.ParseInt(total, 10, 64)
		if err != nil || t <= last {
			return nil, false
		}
		s.Total = t
	}
	return s, true
}

// requestedRange reads a Range field of one byte range, resolved against a
// representation of total bytes. ok is false for anything else (several
// ranges, other units, a range past the end): those go to the origin.
func requestedRange(h http.Header, total int64) (first, last int64, ok bool) {
	vs := h["Range"]
	if len(vs) != 1 || total <= 0 {
		return 0, 0, false
	}
	spec, found := strings.CutPrefix(strings.TrimSpace(vs[0]), "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false
	}
	a, b, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return 0, 0, false
	}
	if a == "" { // suffix: the last b bytes
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n <= 0 {
			return 0, 0, false
		}
		return max(total-n, 0), total - 1, true
	}
	first, err := strconv.ParseInt(a, 10, 64)
	if err != nil || first < 0 || first >= total {
		return 0, 0, false
	}
	last = total - 1
	if b != "" {
		l, err := strconv.ParseInt(b, 10, 64)
		if err != nil || l < first {
			return 0, 0, false
		}
		last = min(l, total-1)
	}
	return first, last, true
}

// lookupPart finds a stored 206 of n that matches r and holds the whole
// range r asks for.
func (c *Cache) lookupPart(n *node, r *http.Request) *Entry {
	if n == nil || len(r.Header["If-Range"]) != 0 {
		return nil
	}
	for _, e := range n.variants {
		if e.part == nil || e.part.Total < 0 || !e.matches(r.Header) {
			continue
		}
		if first, last, ok := requestedRange(r.Header, e.part.Total); ok && e.part.covers(first, last) {
			return e
		}
	}
	return nil
}

// servePart answers from a stored 206: the bytes the request asks for
// when the stored range holds them, else the stored range as the origin
// sent it.
func (c *Cache) servePart(w http.ResponseWriter, r *http.Request, e *Entry, age time.Duration, status []string) {
	h := w.Header()
	for _, f := range e.variants[0].fields {
		h[f.name] = f.values
	}
	h["Age"] = ageField(age)
	h["Cache-Status"] = status
	p := *e.part
	body := e.Body
	if first, last, ok := requestedRange(r.Header, p.Total); ok && p.covers(first, last) {
		body = e.Body[first-p.First : last-p.First+1]
		p.First, p.Last = first, last
	}
	total := "*"
	if p.Total >= 0 {
		total = strconv.FormatInt(p.Total, 10)
	}
	h.Set("Content-Range", "bytes "+strconv.FormatInt(p.First, 10)+"-"+strconv.FormatInt(p.Last, 10)+"/"+total)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusPartialContent)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
	c.fromCache.Add(uint64(len(body)))
}

// assemble joins stored 206s that together hold a whole representation
// into one 200 entry (RFC 9111 §3.4): they must share a strong validator,
// a total length and their Vary values. It returns the variants to keep.
func (c *Cache) assemble(variants []*Entry, latest *Entry) []*Entry {
	p := latest.part
	if p == nil || p.Total < 0 || !strongETag(latest.originETag) {
		return variants
	}
	var parts []*Entry
	for _, e := range variants {
		if e.part != nil && e.part.Total == p.Total && e.originETag == latest.originETag && sameVaryValues(e, latest) {
			parts = append(parts, e)
		}
	}
	slices.SortFunc(parts, func(a, b *Entry) int { return int(a.part.First - b.part.First) })
	var next int64
	for _, e := range parts {
		if e.part.First > next {
			return variants // a gap
		}
		next = max(next, e.part.Last+1)
	}
	if next < p.Total {
		return variants
	}
	body := make([]byte, p.Total)
	for _, e := range parts {
		copy(body[e.part.First:], e.Body)
	}
	whole := *latest
	whole.Status, whole.part, whole.Body = http.StatusOK, nil, body
	whole.Header = latest.Header.Clone()
	whole.Header.Del("Content-Range")
	whole.variants = [4]*variant{}
	c.build(&whole)
	kept := []*Entry{&whole}
	for _, e := range variants {
		if !slices.Contains(parts, e) && !sameVary(e, &whole) {
			kept = append(kept, e)
		}
	}
	return kept
}

// strongETag reports a strong entity-tag, which alone lets partial
// responses be combined (RFC 9110 §8.8.1).
func strongETag(t string) bool { return validETag(t) && !strings.HasPrefix(t, "W/") }
