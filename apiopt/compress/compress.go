package compress

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzhttp"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	brrr "github.com/molecule-man/go-brrr"
)

// Defaults.
const (
	DefaultMinSize     = 1024
	DefaultGzipLevel   = gzip.DefaultCompression
	DefaultZstdLevel   = int(zstd.SpeedDefault)
	DefaultBrotliLevel = 5 // the speed/ratio balance brrr recommends on the fly
)

// DefaultContentTypes are compressed unless Config.ContentTypes says
// otherwise: text and the structured formats APIs serve.
var DefaultContentTypes = []string{
	"text/*",
	"application/json", "application/problem+json", "application/ld+json",
	"application/javascript", "application/xml", "application/xhtml+xml",
	"application/rss+xml", "application/atom+xml", "application/x-ndjson",
	"application/graphql-response+json", "image/svg+xml", "application/wasm",
}

// NoCompressionHeader on a request skips compression, as the seed's
// middleware does.
const NoCompressionHeader = "X-No-Compression"

// Config selects codings, levels and what to compress. The zero value means
// every default: gzip, zstd and brotli at their default levels, 1 KiB
// minimum, DefaultContentTypes.
type Config struct {
	// MinSize in bytes below which a response is sent as is; default 1024.
	MinSize int
	// ContentTypes to compress: exact media types or "type/*". Default
	// DefaultContentTypes.
	ContentTypes []string
	// Levels: gzip -1..9, zstd 1..4 (zstd.EncoderLevel), brotli 0..11.
	GzipLevel, ZstdLevel, BrotliLevel int
	// Disable* turn a coding off.
	DisableGzip, DisableZstd, DisableBrotli bool
	// BREACH adds gzhttp's content-dependent random padding to gzip and zstd
	// output and turns brotli off for responses produced on the fly, so the
	// length of a response that reflects input next to a secret leaks less.
	BREACH bool
}

func (c Config) withDefaults() Config {
	if c.MinSize == 0 {
		c.MinSize = DefaultMinSize
	}
	if c.ContentTypes == nil {
		c.ContentTypes = DefaultContentTypes
	}
	if c.GzipLevel == 0 {
		c.GzipLevel = DefaultGzipLevel
	}
	if c.ZstdLevel == 0 {
		c.ZstdLevel = DefaultZstdLevel
	}
	if c.BrotliLevel == 0 {
		c.BrotliLevel = DefaultBrotliLevel
	}
	return c
}

// Validate names every field out of range.
func (c Config) Validate() error {
	var errs []error
	if c.MinSize < 0 {
		errs = append(errs, fmt.Errorf("compress: MinSize %d must not be negative", c.MinSize))
	}
	if c.GzipLevel < -2 || c.GzipLevel > 9 {
		errs = append(errs, fmt.Errorf("compress: GzipLevel %d must be in -2..9", c.GzipLevel))
	}
	if c.ZstdLevel < 0 || c.ZstdLevel > 4 {
		errs = append(errs, fmt.Errorf("compress: ZstdLevel %d must be in 1..4", c.ZstdLevel))
	}
	if c.BrotliLevel < 0 || c.BrotliLevel > 11 {
		errs = append(errs, fmt.Errorf("compress: BrotliLevel %d must be in 0..11", c.BrotliLevel))
	}
	return errors.Join(errs...)
}

// Compressor negotiates and applies content codings. It is safe for
// concurrent use.
type Compressor struct {
	cfg      Config
	enabled  [numEncodings]bool
	dynamic  [numEncodings]bool // enabled for on-the-fly responses
	exact    map[string]bool
	prefixes []string
	gz       func(http.Handler) http.HandlerFunc
	brPool   sync.Pool
	zstdEnc  *zstd.Encoder
}

// New checks cfg and builds a Compressor.
func New(cfg Config) (*Compressor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	c := &Compressor{cfg: cfg, exact: map[string]bool{}}
	c.enabled[Gzip] = !cfg.DisableGzip
	c.enabled[Zstd] = !cfg.DisableZstd
	c.enabled[Brotli] = !cfg.DisableBrotli
	c.dynamic = c.enabled
	if cfg.BREACH {
		c.dynamic[Brotli] = false
	}
	for _, t := range cfg.ContentTypes {
		t = strings.ToLower(strings.TrimSpace(t))
		if p, ok := strings.CutSuffix(t, "/*"); ok {
			c.prefixes = append(c.prefixes, p+"/")
		} else {
			c.exact[t] = true
		}
	}
	opts := list(
		gzhttp.MinSize(cfg.MinSize),
		gzhttp.CompressionLevel(cfg.GzipLevel),
		gzhttp.ZstdCompressionLevel(cfg.ZstdLevel),
		gzhttp.EnableGzip(!cfg.DisableGzip),
		gzhttp.EnableZstd(!cfg.DisableZstd),
		gzhttp.ContentTypeFilter(c.Compressible),
		// A compressed representation needs its own validator (RFC 9110
		// §8.8.3); the suffix keeps If-None-Match working for it.
		gzhttp.SuffixETag("-c"),
	)
	if cfg.BREACH {
		opts = append(opts, gzhttp.RandomJitter(32, 0, false))
	}
	wrap, err := gzhttp.NewWrapper(opts...)
	if err != nil {
		return nil, fmt.Errorf("compress: configure gzhttp: %w", err)
	}
	c.gz = wrap
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.EncoderLevel(cfg.ZstdLevel)), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return nil, fmt.Errorf("compress: zstd encoder: %w", err)
	}
	c.zstdEnc = enc
	return c, nil
}

// Enabled reports which codings are on, indexed by Encoding.
func (c *Compressor) Enabled() [numEncodings]bool { return c.enabled }

// Negotiate picks the coding for a request among the enabled ones.
func (c *Compressor) Negotiate(h http.Header) Encoding { return Negotiate(h, c.enabled) }

// MinSize is the smallest body worth compressing.
func (c *Compressor) MinSize() int { return c.cfg.MinSize }

// Compressible reports whether a Content-Type is on the allowlist. An empty
// type is not: we do not sniff bodies we did not produce.
func (c *Compressor) Compressible(ct string) bool {
	if ct == "" {
		return false
	}
	mt := ct
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		mt = ct[:i]
	}
	mt = strings.TrimSpace(mt)
	if c.exact[mt] {
		return true
	}
	for _, p := range c.prefixes {
		if len(mt) > len(p) && strings.EqualFold(mt[:len(p)], p) {
			return true
		}
	}
	return c.exact[strings.ToLower(mt)]
}

// list builds a slice of gzhttp's unexported option type.
func list[T any](xs ...T) []T { return xs }

// Encode compresses a whole body at once, for caches that store each coding
// once and serve it many times.
func (c *Compressor) Encode(e Encoding, body []byte) ([]byte, error) {
	switch e {
	case Identity:
		return body, nil
	case Gzip:
		var buf bytes.Buffer
		buf.Grow(len(body)/3 + 64)
		w, err := gzip.NewWriterLevel(&buf, c.cfg.GzipLevel)
		if err != nil {
			return nil, fmt.Errorf("compress: gzip: %w", err)
		}
		if _, err := w.Write(body); err != nil {
			return nil, fmt.Errorf("compress: gzip: %w", err)
		}
		if err := w.Close(); err != nil {
			return nil, fmt.Errorf("compress: gzip: %w", err)
		}
		return buf.Bytes(), nil
	case Zstd:
		return c.zstdEnc.EncodeAll(body, make([]byte, 0, len(body)/3+64)), nil
	case Brotli:
		out, err := brrr.Compress(body, c.cfg.BrotliLevel)
		if err != nil {
			return nil, fmt.Errorf("compress: brotli: %w", err)
		}
		return out, nil
	}
	return nil, fmt.Errorf("compress: unknown coding %d", e)
}

// Middleware compresses next's responses: gzip and zstd through gzhttp,
// brotli through go-brrr, chosen by the client's q-values. Responses that
// already carry a Content-Encoding or a Content-Range, or are smaller than
// MinSize, or of a type not on the list, are sent as they are. Flushes go
// through, so server-sent events keep streaming.
func (c *Compressor) Middleware(next http.Handler) http.Handler {
	viaGzhttp := c.gz(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.EqualFold(r.Header.Get(NoCompressionHeader), "true") {
			next.ServeHTTP(w, r)
			return
		}
		switch Negotiate(r.Header, c.dynamic) {
		case Brotli:
			bw := c.newBrWriter(w, r)
			defer bw.close()
			next.ServeHTTP(bw, r)
		case Gzip, Zstd:
			viaGzhttp.ServeHTTP(w, r)
		default:
			addVary(w.Header())
			next.ServeHTTP(w, r)
		}
	})
}

// addVary adds Accept-Encoding to Vary once.
func addVary(h http.Header) {
	for _, v := range h["Vary"] {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f == "*" || strings.EqualFold(f, "Accept-Encoding") {
				return
			}
		}
	}
	h.Add("Vary", "Accept-Encoding")
}
