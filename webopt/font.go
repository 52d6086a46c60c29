package webopt

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sync"
	"time"

	"golang.org/x/image/font"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
)

// fontMetrics are the figures of a font that decide how much room its text
// takes, in font units: vertical metrics from the hhea table (the ones
// browsers use for line boxes on macOS and the CSS override descriptors
// replace) and the average advance width of English text.
type fontMetrics struct {
	UnitsPerEm, Ascent, Descent, LineGap, XWidthAvg float64
}

// letterWeights are the frequencies of the letters in English text
// (Lewand, "Cryptological Mathematics", 2000, as tabulated on Wikipedia's
// "Letter frequency"), scaled to 82% of characters, with the space taking
// the other 18% (English words average about 4.5 letters). The average
// width of text is what a fallback font must match for lines to break in
// the same places; capsize and Next.js's font fallbacks weight widths the
// same way.
var letterWeights = func() map[rune]float64 {
	freq := map[rune]float64{
		'a': 8.2, 'b': 1.5, 'c': 2.8, 'd': 4.3, 'e': 12.7, 'f': 2.2, 'g': 2.0, 'h': 6.1, 'i': 7.0,
		'j': 0.15, 'k': 0.77, 'l': 4.0, 'm': 2.4, 'n': 6.7, 'o': 7.5, 'p': 1.9, 'q': 0.095, 'r': 6.0,
		's': 6.3, 't': 9.1, 'u': 2.8, 'v': 0.98, 'w': 2.4, 'x': 0.15, 'y': 2.0, 'z': 0.074,
	}
	sum := 0.0
	for _, f := range freq {
		sum += f
	}
	w := make(map[rune]float64, len(freq)+1)
	for r, f := range freq {
		w[r] = 0.82 * f / sum
	}
	w[' '] = 0.18
	return w
}()

// fallbackFonts are the local fonts a fallback face can use. The figures
// are Arial's and Times New Roman's, measured with fontMetricsOf from
// Liberation Sans and Liberation Serif 2.1, which were drawn metric-compatible
// with them (same advance widths, same vertical metrics);
// TestFallbackConstants recomputes them where those files are installed.
var fallbackFonts = map[string]fontMetrics{
	"Arial":           {UnitsPerEm: 2048, Ascent: 1854, Descent: 434, LineGap: 67, XWidthAvg: 904.24},
	"Times New Roman": {UnitsPerEm: 2048, Ascent: 1825, Descent: 443, LineGap: 87, XWidthAvg: 819.43},
}

// overrides are the CSS descriptors of a fallback face, as fractions.
type overrides struct{ SizeAdjust, Ascent, Descent, LineGap float64 }

// overrides scale the fallback so its average text width matches m's, then
// set the line metrics to m's in the scaled em.
func (m fontMetrics) overrides(fb fontMetrics) overrides {
	size := 1.0
	if m.XWidthAvg > 0 && fb.XWidthAvg > 0 {
		size = (m.XWidthAvg / m.UnitsPerEm) / (fb.XWidthAvg / fb.UnitsPerEm)
	}
	em := m.UnitsPerEm * size
	return overrides{SizeAdjust: size, Ascent: m.Ascent / em, Descent: m.Descent / em, LineGap: m.LineGap / em}
}

var errFontFormat = errors.New("webopt: unsupported font format")

// maxFontBytes bounds the font files read for metrics.
const maxFontBytes = 16 << 20

// fontMetricsOf reads a TTF, OTF or WOFF (1.0) file. WOFF2 needs brotli
// and its glyph transforms undone and is not read; faceMetrics looks for a
// sibling file of another format instead.
func fontMetricsOf(data []byte) (fontMetrics, error) {
	if len(data) >= 4 && string(data[:4]) == "wOFF" {
		sf, err := woffToSFNT(data)
		if err != nil {
			return fontMetrics{}, err
		}
		data = sf
	} else if len(data) >= 4 && string(data[:4]) == "wOF2" {
		return fontMetrics{}, fmt.Errorf("woff2: %w", errFontFormat)
	}
	f, err := sfnt.Parse(data)
	if err != nil {
		return fontMetrics{}, fmt.Errorf("parse font: %w", err)
	}
	var b sfnt.Buffer
	upem := f.UnitsPerEm()
	if upem == 0 {
		return fontMetrics{}, fmt.Errorf("parse font: zero units per em: %w", errFontFormat)
	}
	ppem := fixed.I(int(upem))
	fm, err := f.Metrics(&b, ppem, font.HintingNone)
	if err != nil {
		return fontMetrics{}, fmt.Errorf("font metrics: %w", err)
	}
	m := fontMetrics{
		UnitsPerEm: float64(upem),
		Ascent:     float64(fm.Ascent) / 64,
		Descent:    float64(fm.Descent) / 64,
		LineGap:    float64(fm.Height-fm.Ascent-fm.Descent) / 64,
	}
	var sum, weight float64
	for r, w := range letterWeights {
		gi, err := f.GlyphIndex(&b, r)
		if err != nil || gi == 0 {
			continue
		}
		adv, err := f.GlyphAdvance(&b, gi, ppem, font.HintingNone)
		if err != nil {
			continue
		}
		sum += w * float64(adv) / 64
		weight += w
	}
	if weight > 0 {
		m.XWidthAvg = sum / weight
	}
	return m, nil
}

// woffToSFNT unpacks WOFF 1.0 (zlib-compressed tables) into the sfnt it
// wraps.
func woffToSFNT(data []byte) ([]byte, error) {
	if len(data) < 44 {
		return nil, fmt.Errorf("woff header: %w", errFontFormat)
	}
	be := binary.BigEndian
	flavor := be.Uint32(data[4:])
	n := int(be.Uint16(data[12:]))
	if n == 0 || n > 512 || 44+20*n > len(data) {
		return nil, fmt.Errorf("woff tables: %w", errFontFormat)
	}
	type entry struct {
		tag                    uint32
		off, comp, orig, check uint32
	}
	entries := make([]entry, n)
	total := 12 + 16*n
	for i := range entries {
		d := data[44+20*i:]
		e := entry{be.Uint32(d), be.Uint32(d[4:]), be.Uint32(d[8:]), be.Uint32(d[12:]), be.Uint32(d[16:])}
		if uint64(e.off)+uint64(e.comp) > uint64(len(data)) || e.comp > e.orig || e.orig > maxFontBytes {
			return nil, fmt.Errorf("woff table %d: %w", i, errFontFormat)
		}
		total += int(e.orig+3) &^ 3
		if total > maxFontBytes {
			return nil, fmt.Errorf("woff size: %w", errFontFormat)
		}
		entries[i] = e
	}
	out := make([]byte, 12+16*n, total)
	be.PutUint32(out, flavor)
	be.PutUint16(out[4:], uint16(n))
	for i, e := range entries {
		off := len(out)
		src := data[e.off : e.off+e.comp]
		if e.comp < e.orig {
			zr, err := zlib.NewReader(bytes.NewReader(src))
			if err != nil {
				return nil, fmt.Errorf("woff table %d: %w", i, err)
			}
			buf := make([]byte, e.orig)
			_, err = io.ReadFull(zr, buf)
			zr.Close()
			if err != nil {
				return nil, fmt.Errorf("woff table %d: %w", i, err)
			}
			out = append(out, buf...)
		} else {
			out = append(out, src...)
		}
		for len(out)%4 != 0 {
			out = append(out, 0)
		}
		d := out[12+16*i:]
		be.PutUint32(d, e.tag)
		be.PutUint32(d[4:], e.check)
		be.PutUint32(d[8:], uint32(off))
		be.PutUint32(d[12:], e.orig)
	}
	return out, nil
}

// fontCache keeps metrics per file, checked against the file's mtime and
// size.
type fontCache struct {
	mu  sync.Mutex
	max int
	m   map[string]fontEntry
}

type fontEntry struct {
	mod  time.Time
	size int64
	m    fontMetrics
	ok   bool
}

func newFontCache(max int) *fontCache { return &fontCache{max: max, m: map[string]fontEntry{}} }

func (c *fontCache) get(fsys fs.FS, name string) (fontMetrics, bool) {
	if fsys == nil || !fs.ValidPath(name) {
		return fontMetrics{}, false
	}
	st, err := fs.Stat(fsys, name)
	if err != nil || st.IsDir() || st.Size() > maxFontBytes {
		return fontMetrics{}, false
	}
	c.mu.Lock()
	e, hit := c.m[name]
	c.mu.Unlock()
	if hit && e.mod.Equal(st.ModTime()) && e.size == st.Size() {
		return e.m, e.ok
	}
	e = fontEntry{mod: st.ModTime(), size: st.Size()}
	if data, err := fs.ReadFile(fsys, name); err == nil {
		if m, err := fontMetricsOf(data); err == nil {
			e.m, e.ok = m, true
		}
	}
	c.mu.Lock()
	if len(c.m) >= c.max {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[name] = e
	c.mu.Unlock()
	return e.m, e.ok
}
