package cache

import (
	"bytes"
	"sync"

	"github.com/pierrec/lz4/v4"
)

// DefaultPackAbove is the identity body size from which the cache holds
// bodies packed with LZ4 (Config.PackAbove).
const DefaultPackAbove = 4 << 10

// packer is LZ4's hash table (64 KiB), which a fresh Compressor would
// allocate and clear per body, and a scratch buffer for the block.
type packer struct {
	c   lz4.Compressor
	buf []byte
}

var packers = sync.Pool{New: func() any { return new(packer) }}

// pack returns body as an LZ4 block, or nil when that saves less than an
// eighth: a body that does not shrink is cheaper kept as it is.
func pack(body []byte) []byte {
	p := packers.Get().(*packer)
	defer packers.Put(p)
	if bound := lz4.CompressBlockBound(len(body)); cap(p.buf) < bound {
		p.buf = make([]byte, bound)
	}
	n, err := p.c.CompressBlock(body, p.buf[:cap(p.buf)])
	if err != nil || n == 0 || n > len(body)-len(body)/8 {
		return nil
	}
	return bytes.Clone(p.buf[:n])
}

// unpack restores a body of n bytes from its LZ4 block; nil when the block
// is damaged or not n bytes long.
func unpack(block []byte, n int) []byte {
	out := make([]byte, n)
	m, err := lz4.UncompressBlock(block, out)
	if err != nil || m != n {
		return nil
	}
	return out
}
