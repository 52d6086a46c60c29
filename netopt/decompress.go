package netopt

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	brrr "github.com/molecule-man/go-brrr"
)

// acceptEncoding lists what the stack decodes, best ratio per CPU first.
var acceptEncoding = []string{"zstd, br, gzip"}

// decode replaces a compressed body the stack asked for by its decoded
// stream, as net/http does for gzip: Content-Encoding and Content-Length go,
// Uncompressed is set. It reports whether it did.
func decode(resp *http.Response) bool {
	enc := strings.ToLower(strings.TrimSpace(resp.Header.Get("Content-Encoding")))
	switch enc {
	case "gzip", "x-gzip", "zstd", "br":
	default:
		return false
	}
	if resp.Body == nil || resp.Body == http.NoBody {
		return false
	}
	resp.Body = &decodedBody{raw: resp.Body, enc: enc}
	resp.Header.Del("Content-Encoding")
	resp.Header.Del("Content-Length")
	resp.ContentLength = -1
	resp.Uncompressed = true
	return true
}

// zstd decoders are pooled: each holds its window buffers. Concurrency 1
// decodes on the reader's goroutine, so a decoder starts none of its own.
var zstdPool sync.Pool

// decodedBody decodes lazily, on the first Read, so that RoundTrip does not
// block on the first bytes of the body.
type decodedBody struct {
	raw    io.ReadCloser
	enc    string
	r      io.Reader
	zd     *zstd.Decoder
	gz     *gzip.Reader
	br     *brrr.Reader
	err    error
	closed bool
}

func (b *decodedBody) init() error {
	switch b.enc {
	case "gzip", "x-gzip":
		gz, err := gzip.NewReader(b.raw)
		if err != nil {
			return errors.Join(errors.New("netopt: gzip body"), err)
		}
		b.gz, b.r = gz, gz
	case "zstd":
		zd, _ := zstdPool.Get().(*zstd.Decoder)
		if zd == nil {
			var err error
			if zd, err = zstd.NewReader(b.raw, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(256<<20)); err != nil {
				return errors.Join(errors.New("netopt: zstd body"), err)
			}
		} else if err := zd.Reset(b.raw); err != nil {
			return errors.Join(errors.New("netopt: zstd body"), err)
		}
		b.zd, b.r = zd, zd
	case "br":
		b.br = brrr.NewReader(b.raw)
		b.r = b.br
	}
	return nil
}

func (b *decodedBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.closed {
		return 0, errors.New("netopt: read on closed body")
	}
	if b.r == nil {
		if err := b.init(); err != nil {
			b.err = err
			return 0, err
		}
	}
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

func (b *decodedBody) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	if b.zd != nil {
		if b.zd.Reset(nil) == nil {
			zstdPool.Put(b.zd)
		}
		b.zd = nil
	}
	if b.gz != nil {
		_ = b.gz.Close()
	}
	if b.br != nil {
		_ = b.br.Close()
	}
	return b.raw.Close()
}
