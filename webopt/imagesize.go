package webopt

import (
	"encoding/xml"
	"image"
	_ "image/gif" // decoders for image.DecodeConfig
	_ "image/jpeg"
	_ "image/png"
	"io"
	"io/fs"
	"math"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "golang.org/x/image/webp"
)

// imageSizes reads image dimensions from file headers only
// (image.DecodeConfig for PNG, JPEG, GIF and WebP; the root element's
// width, height or viewBox for SVG) and keeps them per path, checked
// against the file's mtime and size so an edited file is read again.
type imageSizes struct {
	mu  sync.Mutex
	max int
	m   map[string]sizeEntry
}

type sizeEntry struct {
	checked time.Time // when the file was last stat'ed
	mod     time.Time
	size    int64
	w, h    int
	ok      bool
}

func newImageSizes(max int) *imageSizes { return &imageSizes{max: max, m: map[string]sizeEntry{}} }

// sizeRecheck is how long a file's size is trusted before it is stat'ed
// again: a page with 50 images would otherwise cost 50 system calls, and a
// redeployed image is noticed within a second.
const sizeRecheck = time.Second

// maxImageHeader bounds what is read of one file: headers sit at the start
// (a JPEG's SOF can follow large EXIF data, hence not less).
const maxImageHeader = 512 << 10

func (s *imageSizes) get(fsys fs.FS, name string) (w, h int, ok bool) {
	if fsys == nil || !fs.ValidPath(name) {
		return 0, 0, false
	}
	now := time.Now()
	s.mu.Lock()
	e, hit := s.m[name]
	s.mu.Unlock()
	if hit && now.Sub(e.checked) < sizeRecheck {
		return e.w, e.h, e.ok
	}
	st, err := fs.Stat(fsys, name)
	if err != nil || st.IsDir() {
		return 0, 0, false
	}
	if hit && e.mod.Equal(st.ModTime()) && e.size == st.Size() {
		e.checked = now
		s.mu.Lock()
		s.m[name] = e
		s.mu.Unlock()
		return e.w, e.h, e.ok
	}
	e = sizeEntry{checked: now, mod: st.ModTime(), size: st.Size()}
	if f, err := fsys.Open(name); err == nil {
		e.w, e.h, e.ok = imageSize(io.LimitReader(f, maxImageHeader), strings.EqualFold(path.Ext(name), ".svg"))
		f.Close()
	}
	s.mu.Lock()
	if len(s.m) >= s.max {
		for k := range s.m {
			delete(s.m, k)
			break
		}
	}
	s.m[name] = e
	s.mu.Unlock()
	return e.w, e.h, e.ok
}

func imageSize(r io.Reader, svg bool) (w, h int, ok bool) {
	if svg {
		return svgSize(r)
	}
	cfg, _, err := image.DecodeConfig(r)
	if err != nil || cfg.Width <= 0 || cfg.Height <= 0 {
		return 0, 0, false
	}
	return cfg.Width, cfg.Height, true
}

// svgSize reads the root <svg>'s width and height (in px or unitless) or,
// failing those, its viewBox.
func svgSize(r io.Reader) (w, h int, ok bool) {
	d := xml.NewDecoder(r)
	d.Strict = false
	for {
		tok, err := d.Token()
		if err != nil {
			return 0, 0, false
		}
		se, isStart := tok.(xml.StartElement)
		if !isStart {
			continue
		}
		if se.Name.Local != "svg" {
			return 0, 0, false
		}
		var ws, hs, vb string
		for _, a := range se.Attr {
			switch a.Name.Local {
			case "width":
				ws = a.Value
			case "height":
				hs = a.Value
			case "viewBox":
				vb = a.Value
			}
		}
		fw, okw := svgLength(ws)
		fh, okh := svgLength(hs)
		var vw, vh float64
		if f := strings.FieldsFunc(vb, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' || r == '\n' }); len(f) == 4 {
			vw, _ = strconv.ParseFloat(f[2], 64)
			vh, _ = strconv.ParseFloat(f[3], 64)
		}
		switch {
		case okw && okh:
		case okw && vw > 0 && vh > 0:
			fh = fw * vh / vw
		case okh && vw > 0 && vh > 0:
			fw = fh * vw / vh
		case vw > 0 && vh > 0:
			fw, fh = vw, vh
		default:
			return 0, 0, false
		}
		w, h = int(math.Round(fw)), int(math.Round(fh))
		return w, h, w > 0 && h > 0 && w < 1<<16 && h < 1<<16
	}
}

func svgLength(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	s = strings.TrimSuffix(s, "px")
	if s == "" {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil && f > 0 && !math.IsInf(f, 0)
}
