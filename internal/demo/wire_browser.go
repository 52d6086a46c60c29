package demo

import (
	"bytes"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"github.com/perfengine/perfengine"
	"github.com/perfengine/perfengine/webopt"
	"golang.org/x/image/font/gofont/goregular"
)

// wireBrowser puts the HTML rewriter and the real-user vitals collector
// inside the API optimizer (so the cache and the compressor see the
// rewritten page), reading image sizes and font metrics from the demo's
// generated assets. Lazy loading is on unless the configuration says
// otherwise: the demo's thirty product images are what it is for.
func wireBrowser(w *wiring) error {
	c := w.cfg.Browser
	if c.StaticDir == "" {
		c.StaticPrefix = "/static/"
	}
	if c.LazyLoading.IsDefault() {
		c.LazyLoading.Enabled = true
	}
	col, err := webopt.NewCollector(c.CollectorOptions(), webopt.WithCollectorLogger(w.log))
	if err != nil {
		return fmt.Errorf("browser optimizer: %w", err)
	}
	ro := c.RewriterOptions()
	if c.StaticDir == "" {
		ro.Root = assetFS{sharedAssets()}
	}
	if !c.RUMDisabled {
		ro.InjectScript = webopt.Script(col.Path())
	}
	rw, err := webopt.New(ro, webopt.WithLogger(w.log))
	if err != nil {
		return fmt.Errorf("browser optimizer: %w", err)
	}
	m := perfengine.NewBrowserModule(rw, col, c.MinViews)
	w.middleware = append(w.middleware, m.Middleware)
	w.modules = append(w.modules, m)
	return nil
}

// assetFS serves the demo's generated assets under the names the page
// uses below /static/: hero.png, products/N.jpg, font.ttf.
type assetFS struct{ a *assets }

func (f assetFS) Open(name string) (fs.File, error) {
	var b []byte
	switch {
	case name == "hero.png":
		b = f.a.hero()
	case name == "font.ttf":
		b = goregular.TTF
	case strings.HasPrefix(name, "products/") && strings.HasSuffix(name, ".jpg"):
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(name, "products/"), ".jpg"))
		if err != nil || n < 1 || n > ImageCount {
			return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
		}
		b = f.a.thumbs[n-1]()
	default:
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return &assetFile{Reader: bytes.NewReader(b), name: name, size: int64(len(b))}, nil
}

// assetFile is one generated asset, read-only, dated at the process start
// (the bytes never change while it runs).
type assetFile struct {
	*bytes.Reader
	name string
	size int64
}

var started = time.Now()

func (f *assetFile) Stat() (fs.FileInfo, error) { return f, nil }
func (f *assetFile) Close() error               { return nil }
func (f *assetFile) Name() string               { return f.name[strings.LastIndexByte(f.name, '/')+1:] }
func (f *assetFile) Size() int64                { return f.size }
func (f *assetFile) Mode() fs.FileMode          { return 0o444 }
func (f *assetFile) ModTime() time.Time         { return started }
func (f *assetFile) IsDir() bool                { return false }
func (f *assetFile) Sys() any                   { return nil }
