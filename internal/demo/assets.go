package demo

import (
	"bytes"
	"html/template"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/image/font/gofont/goregular"
)

// ImageCount is how many product images the home page shows below the fold.
const ImageCount = 30

// Image sizes. The hero is a large PNG of noisy pixels, which compresses
// badly: the kind of asset the browser optimizer should flag.
const (
	heroW, heroH   = 1600, 600
	thumbW, thumbH = 480, 360
)

// assets are generated on first use, deterministically, so the same bytes
// come out on every machine and start-up stays fast.
type assets struct {
	hero   func() []byte
	thumbs [ImageCount]func() []byte
}

// sharedAssets are generated once per process: the service serves them and
// the browser optimizer reads their sizes.
var sharedAssets = sync.OnceValue(newAssets)

func newAssets() *assets {
	a := &assets{hero: sync.OnceValue(heroPNG)}
	for i := range a.thumbs {
		a.thumbs[i] = sync.OnceValue(func() []byte { return thumbJPEG(i + 1) })
	}
	return a
}

func heroPNG() []byte {
	img := image.NewRGBA(image.Rect(0, 0, heroW, heroH))
	// A xorshift generator inline: the noise costs one shift-xor per pixel,
	// which keeps generation fast even in race-instrumented tests.
	x := uint32(seed1)
	for y := range heroH {
		row := img.Pix[y*img.Stride : y*img.Stride+heroW*4]
		for i := 0; i < len(row); i += 4 {
			x ^= x << 13
			x ^= x >> 17
			x ^= x << 5
			n := uint8(x & 47)
			px := i / 4
			row[i] = uint8(40+px*120/heroW) + n
			row[i+1] = uint8(60+y*100/heroH) + n
			row[i+2] = uint8(150+(px+y)*60/(heroW+heroH)) + n/2
			row[i+3] = 255
		}
	}
	var b bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&b, img); err != nil {
		panic(err) // encoding to memory cannot fail for an RGBA image
	}
	return b.Bytes()
}

// thumbJPEG draws product n: a tinted background with a disc, colours from n.
func thumbJPEG(n int) []byte {
	r := rand.New(rand.NewPCG(seed1, uint64(n)+100))
	bg := color.RGBA{uint8(120 + r.IntN(120)), uint8(120 + r.IntN(120)), uint8(120 + r.IntN(120)), 255}
	fg := color.RGBA{uint8(r.IntN(160)), uint8(r.IntN(160)), uint8(r.IntN(160)), 255}
	img := image.NewRGBA(image.Rect(0, 0, thumbW, thumbH))
	cx, cy, rad := thumbW/2, thumbH/2, thumbH/3
	for y := range thumbH {
		for x := range thumbW {
			dx, dy := x-cx, y-cy
			c := bg
			if dx*dx+dy*dy < rad*rad {
				c = fg
			}
			c.R += uint8(r.IntN(12))
			img.SetRGBA(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 92}); err != nil {
		panic(err) // encoding to memory cannot fail for an RGBA image
	}
	return b.Bytes()
}

func writeAsset(w http.ResponseWriter, contentType string, b []byte) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Write(b)
}

func (s *Service) handleHero(w http.ResponseWriter, r *http.Request) {
	writeAsset(w, "image/png", s.assets.hero())
}

func (s *Service) handleProductImage(w http.ResponseWriter, r *http.Request) {
	num, ok := strings.CutSuffix(r.PathValue("n"), ".jpg")
	n, err := strconv.Atoi(num)
	if !ok || err != nil || n < 1 || n > ImageCount {
		s.fail(w, r, "not_found", "no such image")
		return
	}
	writeAsset(w, "image/jpeg", s.assets.thumbs[n-1]())
}

// handleFont serves Go's own regular font (BSD licensed) as the page's web
// font.
func (s *Service) handleFont(w http.ResponseWriter, r *http.Request) {
	writeAsset(w, "font/ttf", goregular.TTF)
}

// The page is deliberately unoptimized for the browser optimizer to find:
// the hero is a heavy PNG, the product images have no dimensions and no lazy
// loading, and the font blocks text rendering (no font-display).
var indexTemplate = template.Must(template.New("index").Funcs(template.FuncMap{"inc": func(i int) int { return i + 1 }}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>perfengine demo shop</title>
<style>
@font-face { font-family: "Go"; src: url("/static/font.ttf") format("truetype"); }
body { font-family: "Go", sans-serif; margin: 0; color: #222; }
header { padding: 1rem 2rem; background: #1d3557; color: #fff; }
.hero img { width: 100%; display: block; }
.hero h1 { margin: 1rem 2rem; font-size: 2.4rem; }
.intro { margin: 0 2rem 2rem; max-width: 48rem; line-height: 1.5; min-height: 60vh; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(16rem, 1fr)); gap: 1rem; padding: 2rem; }
.card img { width: 100%; }
.card h2 { font-size: 1.1rem; margin: .4rem 0; }
</style>
</head>
<body>
<header>perfengine demo shop</header>
<section class="hero">
<img src="/static/hero.png" alt="Our catalogue">
<h1>{{.Total}} products, one slow catalogue</h1>
</section>
<p class="intro">This shop is the demo service of perfengine. Its pages, API and database have
performance problems on purpose, for the engine to find and fix. Scroll down for the products.</p>
<main class="grid">
{{range $i, $p := .Products}}<article class="card">
<img src="/static/products/{{inc $i}}.jpg" alt="{{$p.Name}}">
<h2>{{$p.Name}}</h2>
<p>{{$p.Category}} · ${{printf "%.2f" $p.Price}} · {{$p.Stock}} in stock</p>
</article>
{{end}}</main>
</body>
</html>
`))

func (s *Service) handleIndex(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var total int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM products`).Scan(&total); err != nil {
		s.fail(w, r, "internal", "count products: "+err.Error())
		return
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+productColumns+` FROM products ORDER BY id LIMIT ?`, ImageCount)
	if err != nil {
		s.fail(w, r, "internal", "list products: "+err.Error())
		return
	}
	products, err := scanProducts(rows)
	if err != nil {
		s.fail(w, r, "internal", "list products: "+err.Error())
		return
	}
	var b bytes.Buffer
	if err := indexTemplate.Execute(&b, map[string]any{"Total": total, "Products": products}); err != nil {
		s.fail(w, r, "internal", "render page: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.Write(b.Bytes())
}
