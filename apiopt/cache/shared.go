package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"time"
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

// wireEntry is an Entry as the backend stores it: identity body only; each
// instance builds its codings once when it first reads the entry.
type wireEntry struct {
	Status     int           `json:"s"`
	Header     http.Header   `json:"h"`
	Body       []byte        `json:"b"`
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

type wireNode struct {
	Host     string        `json:"host"`
	URI      string        `json:"uri"`
	TTLHint  time.Duration `json:"hint,omitempty"`
	Variants []wireEntry   `json:"v"`
}

func toWire(n *node) wireNode {
	w := wireNode{Host: n.host, URI: n.uri, TTLHint: n.ttlHint}
	for _, e := range n.variants {
		w.Variants = append(w.Variants, wireEntry{
			Status: e.Status, Header: e.Header, Body: e.Body, Route: e.Route, Tags: e.Tags,
			StoredAt: e.StoredAt, InitialAge: e.InitialAge, Lifetime: e.Lifetime, SWR: e.SWR, SIE: e.SIE,
			Revalidate: e.Revalidate, NoCache: e.NoCache, ByRule: e.ByRule,
			VaryNames: e.VaryNames, VaryValues: e.VaryValues, ETag: e.ETag, OriginETag: e.originETag, LastMod: e.lastMod,
			Coded: e.coded, VaryCoding: e.varyCoding, Part: e.part, Language: e.language,
		})
	}
	return w
}

func (c *Cache) fromWire(w wireNode, now time.Time) *node {
	n := &node{host: w.Host, uri: w.URI, ttlHint: w.TTLHint}
	for _, we := range w.Variants {
		if len(we.VaryNames) != len(we.VaryValues) || we.Header == nil {
			continue // not ours, or damaged: ignore rather than serve it
		}
		e := &Entry{
			Status: we.Status, Header: we.Header, Body: we.Body, Route: we.Route, Tags: we.Tags,
			StoredAt: we.StoredAt, InitialAge: we.InitialAge, Lifetime: we.Lifetime, SWR: we.SWR, SIE: we.SIE,
			Revalidate: we.Revalidate, NoCache: we.NoCache, ByRule: we.ByRule,
			VaryNames: we.VaryNames, VaryValues: we.VaryValues, ETag: we.ETag, originETag: we.OriginETag, lastMod: we.LastMod,
			coded: we.Coded, varyCoding: we.VaryCoding, part: we.Part, language: we.Language,
			localUntil: now.Add(c.cfg.LocalTTL),
		}
		e.build(c.cfg.Compressor, c.hidden)
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
	b, err := json.Marshal(toWire(n))
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
	var w wireNode
	if err := json.Unmarshal(b, &w); err != nil || w.Host != r.Host || w.URI != uri {
		c.sharedErrors.Add(1)
		return nil, nil
	}
	n := c.fromWire(w, now)
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
