package cache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/perfengine/perfengine/apiopt/compress"
)

// ErrMiss is what a Backend returns for a key it does not hold.
var ErrMiss = errors.New("cache: miss")

// Backend is a shared second level behind the in-process cache, so that
// several instances of a service answer from one store and one write
// invalidates for all (package rediscache implements it on Redis). Keys are
// stable across processes. Implementations must be safe for concurrent use.
type Backend interface {
	Get(ctx context.Context, key string) ([]byte, error)
	// Set stores value for ttl and adds key to each tag's set.
	Set(ctx context.Context, key string, value []byte, ttl time.Duration, tags []string) error
	Delete(ctx context.Context, keys ...string) error
	// DeleteTags drops every key in the tags' sets and the sets, and
	// returns how many keys it dropped.
	DeleteTags(ctx context.Context, tags ...string) (int, error)
}

// DefaultLocalTTL is how long an entry read from the shared backend is
// trusted in process before it is read again, which bounds how long an
// invalidation made by another instance takes to reach this one.
const DefaultLocalTTL = time.Second

// sharedTimeout bounds one backend call on the request path.
const sharedTimeout = 200 * time.Millisecond

func sharedKey(host, uri string) string {
	sum := sha256.Sum256([]byte(host + "\x00" + uri))
	return hex.EncodeToString(sum[:16])
}

// A URL's variants are stored in the backend as wireMagic, the length of
// the metadata as a uvarint, the metadata as JSON, then every body raw in
// the order the metadata lists them. A body so costs its own bytes, not a
// third more as base64 in JSON, and is stored in the forms the instance
// that stored it serves: identity packed with LZ4 when that pays, and each
// coding it made, so another instance that reads it encodes nothing.
// Nodes stored before this format (plain JSON, identity body inline) are
// still read.
const wireMagic = "\x00pe\x01"

// maxWireMeta bounds the metadata a stored node may claim.
const maxWireMeta = 1 << 20

// wireEntry is an Entry's metadata as the backend stores it.
type wireEntry struct {
	Status     int           `json:"s"`
	Header     http.Header   `json:"h"`
	Body       []byte        `json:"b,omitempty"` // before wireMagic: the identity body inline
	Bodies     []wireBody    `json:"x,omitempty"`
	Size       int           `json:"sz,omitempty"` // identity body length
	Route      string        `json:"r,omitempty"`
	Tags       []string      `json:"t,omitempty"`
	StoredAt   time.Time     `json:"at"`
	InitialAge time.Duration `json:"ia"`
	Lifetime   time.Duration `json:"lt"`
	SWR        time.Duration `json:"swr,omitempty"`
	SIE        time.Duration `json:"sie,omitempty"`
	Revalidate bool          `json:"rv,omitempty"`
	NoCache    bool          `json:"nc,omitempty"`
	ByRule     bool          `json:"br,omitempty"`
	VaryNames  []string      `json:"vn,omitempty"`
	VaryValues []string      `json:"vv,omitempty"`
	ETag       string        `json:"e"`
	OriginETag string        `json:"oe,omitempty"`
	LastMod    time.Time     `json:"lm,omitzero"`
	Coded      string        `json:"ce,omitempty"`
	VaryCoding bool          `json:"vc,omitempty"`
	Part       *span         `json:"p,omitempty"`
	Language   string        `json:"cl,omitempty"`
}

// wireBody names one stored body: its form and its length.
type wireBody struct {
	Form string `json:"f"` // "identity", "lz4" (identity packed) or a content coding
	Len  int    `json:"n"`
}

const (
	formIdentity = "identity"
	formLZ4      = "lz4"
)

type wireNode struct {
	Host     string        `json:"host"`
	URI      string        `json:"uri"`
	TTLHint  time.Duration `json:"hint,omitempty"`
	Variants []wireEntry   `json:"v"`
}

// encodeNode is n as the backend stores it; identity bodies of packAbove
// bytes or more are packed (none when packAbove is not positive).
func encodeNode(n *node, packAbove int) ([]byte, error) {
	w := wireNode{Host: n.host, URI: n.uri, TTLHint: n.ttlHint}
	var bodies [][]byte
	size := 0
	add := func(we *wireEntry, form string, b []byte) {
		we.Bodies = append(we.Bodies, wireBody{Form: form, Len: len(b)})
		bodies = append(bodies, b)
		size += len(b)
	}
	for _, e := range n.variants {
		we := wireEntry{
			Status: e.Status, Header: e.Header, Size: e.bodyLen, Route: e.Route, Tags: e.Tags,
			StoredAt: e.StoredAt, InitialAge: e.InitialAge, Lifetime: e.Lifetime, SWR: e.SWR, SIE: e.SIE,
			Revalidate: e.Revalidate, NoCache: e.NoCache, ByRule: e.ByRule,
			VaryNames: e.VaryNames, VaryValues: e.VaryValues, ETag: e.ETag, OriginETag: e.originETag, LastMod: e.lastMod,
			Coded: e.coded, VaryCoding: e.varyCoding, Part: e.part, Language: e.language,
		}
		switch {
		case e.packed != nil:
			add(&we, formLZ4, e.packed)
		case packAbove > 0 && e.bodyLen >= packAbove:
			if packed := pack(e.Body); packed != nil {
				add(&we, formLZ4, packed)
				break
			}
			fallthrough
		default:
			add(&we, formIdentity, e.Body)
		}
		for _, enc := range compress.Encodings {
			if v := e.variants[enc]; v != nil {
				add(&we, enc.String(), v.body)
			}
		}
		w.Variants = append(w.Variants, we)
	}
	meta, err := json.Marshal(w)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(wireMagic)+binary.MaxVarintLen64+len(meta)+size)
	out = append(out, wireMagic...)
	out = binary.AppendUvarint(out, uint64(len(meta)))
	out = append(out, meta...)
	for _, b := range bodies {
		out = append(out, b...)
	}
	return out, nil
}

// errWire is a stored node this cache cannot read.
var errWire = errors.New("cache: damaged entry in the shared backend")

// decodeNode reads what encodeNode wrote, or a node of the JSON format
// before it, into metadata and each variant's bodies by form.
func decodeNode(b []byte) (wireNode, [][]formBody, error) {
	var w wireNode
	if !bytes.HasPrefix(b, []byte(wireMagic)) {
		if err := json.Unmarshal(b, &w); err != nil {
			return w, nil, errWire
		}
		bodies := make([][]formBody, len(w.Variants))
		for i, we := range w.Variants {
			bodies[i] = []formBody{{formIdentity, we.Body}}
			w.Variants[i].Size = len(we.Body)
		}
		return w, bodies, nil
	}
	b = b[len(wireMagic):]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > maxWireMeta || n > uint64(len(b)-k) {
		return w, nil, errWire
	}
	if err := json.Unmarshal(b[k:k+int(n)], &w); err != nil {
		return w, nil, errWire
	}
	rest := b[k+int(n):]
	bodies := make([][]formBody, len(w.Variants))
	for i, we := range w.Variants {
		for _, wb := range we.Bodies {
			if wb.Len < 0 || wb.Len > len(rest) {
				return w, nil, errWire
			}
			bodies[i] = append(bodies[i], formBody{wb.Form, rest[:wb.Len:wb.Len]})
			rest = rest[wb.Len:]
		}
	}
	if len(rest) != 0 {
		return w, nil, errWire
	}
	return w, bodies, nil
}

type formBody struct {
	form string
	body []byte
}

// fromWire makes the node a stored one describes, keeping the codings
// stored with it that this cache serves. A variant that is damaged (no
// identity body, or one that does not unpack to its length) is left out
// rather than served.
func (c *Cache) fromWire(w wireNode, bodies [][]formBody, now time.Time) *node {
	n := &node{host: w.Host, uri: w.URI, ttlHint: w.TTLHint}
	var enabled [4]bool
	if c.cfg.Compressor != nil {
		enabled = c.cfg.Compressor.Enabled()
	}
	for i, we := range w.Variants {
		if len(we.VaryNames) != len(we.VaryValues) || we.Header == nil || we.Size < 0 || we.Size > c.cfg.MaxEntryBytes {
			continue // not ours, or damaged: ignore rather than serve it
		}
		e := &Entry{
			Status: we.Status, Header: we.Header, Route: we.Route, Tags: we.Tags,
			StoredAt: we.StoredAt, InitialAge: we.InitialAge, Lifetime: we.Lifetime, SWR: we.SWR, SIE: we.SIE,
			Revalidate: we.Revalidate, NoCache: we.NoCache, ByRule: we.ByRule,
			VaryNames: we.VaryNames, VaryValues: we.VaryValues, ETag: we.ETag, originETag: we.OriginETag, lastMod: we.LastMod,
			coded: we.Coded, varyCoding: we.VaryCoding, part: we.Part, language: we.Language,
			localUntil: now.Add(c.cfg.LocalTTL),
			bodyLen:    we.Size,
		}
		whole := false
		for _, fb := range bodies[i] {
			switch fb.form {
			case formIdentity:
				e.Body, whole = bytes.Clone(fb.body), len(fb.body) == we.Size
			case formLZ4:
				identity := unpack(fb.body, we.Size)
				whole = identity != nil
				if c.cfg.PackAbove > 0 && we.Size >= c.cfg.PackAbove {
					e.packed = bytes.Clone(fb.body)
				} else {
					e.Body = identity
				}
			default:
				if enc, ok := compress.Parse(fb.form); ok && enabled[enc] {
					e.variants[enc] = &variant{body: bytes.Clone(fb.body)}
				}
			}
		}
		if !whole {
			continue
		}
		c.build(e)
		n.variants = append(n.variants, e)
	}
	return n
}

// keep is how long the backend holds an entry: as long as it may be served
// stale, plus a margin for revalidation.
func keep(n *node) time.Duration {
	var d time.Duration
	for _, e := range n.variants {
		d = max(d, e.Lifetime+max(e.SWR, e.SIE)-e.InitialAge)
	}
	return max(d, time.Second) + time.Minute
}

func (c *Cache) putShared(n *node) {
	b, err := encodeNode(n, c.cfg.PackAbove)
	if err != nil {
		return
	}
	var tags []string
	for _, e := range n.variants {
		tags = append(tags, e.Tags...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
	defer cancel()
	if err := c.cfg.Shared.Set(ctx, sharedKey(n.host, n.uri), b, keep(n), tags); err != nil {
		c.sharedErrors.Add(1)
	}
}

// lookupShared reads a URL from the backend into the in-process layer.
func (c *Cache) lookupShared(r *http.Request, key uint64, uri string, now time.Time) (*node, *Entry) {
	ctx, cancel := context.WithTimeout(r.Context(), sharedTimeout)
	defer cancel()
	b, err := c.cfg.Shared.Get(ctx, sharedKey(r.Host, uri))
	if err != nil {
		if !errors.Is(err, ErrMiss) {
			c.sharedErrors.Add(1)
		}
		c.store.Invalidate(key) // a local copy past LocalTTL is no longer trusted
		return nil, nil
	}
	w, bodies, err := decodeNode(b)
	if err != nil || w.Host != r.Host || w.URI != uri {
		c.sharedErrors.Add(1)
		return nil, nil
	}
	n := c.fromWire(w, bodies, now)
	c.store.Set(key, n)
	c.sharedHits.Add(1)
	for _, e := range n.variants {
		if e.matches(r.Header) {
			return n, e
		}
	}
	return n, nil
}

func (c *Cache) invalidateShared(host, uri string) {
	ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
	defer cancel()
	if err := c.cfg.Shared.Delete(ctx, sharedKey(host, uri)); err != nil {
		c.sharedErrors.Add(1)
	}
}

func (c *Cache) invalidateSharedTags(tags []string) int {
	ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
	defer cancel()
	n, err := c.cfg.Shared.DeleteTags(ctx, tags...)
	if err != nil {
		c.sharedErrors.Add(1)
	}
	return n
}
