package webopt

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"flag"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files and generated testdata")

// TestGenerateTestdata writes the small images and the WOFF font under
// testdata/site with -update. photo.webp is x/image's testdata
// blue-purple-pink.lossy.webp and go.ttf is Go Regular (both BSD-licensed,
// from golang.org/x/image).
func TestGenerateTestdata(t *testing.T) {
	if !*update {
		t.Skip("run with -update to regenerate testdata/site")
	}
	dir := filepath.Join("testdata", "site")
	img := func(w, h int) *image.RGBA {
		m := image.NewRGBA(image.Rect(0, 0, w, h))
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				m.Set(x, y, color.RGBA{uint8(x), uint8(y), 128, 255})
			}
		}
		return m
	}
	write := func(name string, encode func(*bytes.Buffer) error) {
		var b bytes.Buffer
		if err := encode(&b); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("img/hero.jpg", func(b *bytes.Buffer) error { return jpeg.Encode(b, img(800, 450), &jpeg.Options{Quality: 30}) })
	write("img/thumb.png", func(b *bytes.Buffer) error { return png.Encode(b, img(300, 200)) })
	write("img/icon.gif", func(b *bytes.Buffer) error { return gif.Encode(b, img(32, 32), nil) })
	write("img/logo.svg", func(b *bytes.Buffer) error {
		_, err := b.WriteString(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 120 40"><rect width="120" height="40" fill="#36c"/></svg>`)
		return err
	})
	ttf, err := os.ReadFile(filepath.Join(dir, "fonts", "go.ttf"))
	if err != nil {
		t.Fatal(err)
	}
	write("fonts/go.woff", func(b *bytes.Buffer) error { return writeWOFF(b, ttf) })
}

// writeWOFF packs an sfnt into WOFF 1.0 with zlib-compressed tables.
func writeWOFF(b *bytes.Buffer, sf []byte) error {
	be := binary.BigEndian
	n := int(be.Uint16(sf[4:]))
	type table struct {
		tag, check uint32
		orig       []byte
		comp       []byte
	}
	tables := make([]table, n)
	for i := range tables {
		d := sf[12+16*i:]
		off, length := be.Uint32(d[8:]), be.Uint32(d[12:])
		tb := table{tag: be.Uint32(d), check: be.Uint32(d[4:]), orig: sf[off : off+length]}
		var z bytes.Buffer
		zw := zlib.NewWriter(&z)
		zw.Write(tb.orig)
		zw.Close()
		tb.comp = tb.orig
		if z.Len() < len(tb.orig) {
			tb.comp = z.Bytes()
		}
		tables[i] = tb
	}
	hdr := make([]byte, 44+20*n)
	copy(hdr, "wOFF")
	be.PutUint32(hdr[4:], be.Uint32(sf))
	be.PutUint16(hdr[12:], uint16(n))
	off := len(hdr)
	var body bytes.Buffer
	for i, tb := range tables {
		d := hdr[44+20*i:]
		be.PutUint32(d, tb.tag)
		be.PutUint32(d[4:], uint32(off+body.Len()))
		be.PutUint32(d[8:], uint32(len(tb.comp)))
		be.PutUint32(d[12:], uint32(len(tb.orig)))
		be.PutUint32(d[16:], tb.check)
		body.Write(tb.comp)
		for body.Len()%4 != 0 {
			body.WriteByte(0)
		}
	}
	be.PutUint32(hdr[8:], uint32(len(hdr)+body.Len()))
	b.Write(hdr)
	b.Write(body.Bytes())
	return nil
}
