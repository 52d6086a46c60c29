package webopt

import (
	"bytes"

	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// text is a page's text content as a tokenizer sees it: the text tokens
// outside <script> and <style>, whose content the rewriter may change.
func text(page []byte) string {
	z := html.NewTokenizer(bytes.NewReader(page))
	var b strings.Builder
	skip := false
	for {
		switch z.Next() {
		case html.ErrorToken:
			return b.String()
		case html.TextToken:
			if !skip {
				b.Write(z.Text())
			}
		case html.StartTagToken:
			n, _ := z.TagName()
			skip = string(n) == "script" || string(n) == "style"
		default:
			skip = false
		}
	}
}

// FuzzRewrite: whatever the page, the rewriter never panics, keeps the
// text content, and a tiny token bound only ever passes bytes through.
func FuzzRewrite(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "rewrite", "*.txt"))
	for _, file := range files {
		data, _ := os.ReadFile(file)
		in, _, _ := bytes.Cut(data, []byte(goldenSep))
		f.Add(in, uint16(7))
	}
	f.Add([]byte("<img src=/img/hero.jpg/><img data-src=\xff\xfe>"), uint16(1))
	f.Add([]byte("<style>@font-face{font-family:Go;src:url(/fonts/go.woff)}p{font:1em Go}</style>"), uint16(3))
	opts := Options{Root: site, Lazy: LazyOptions{Enabled: true}, Scripts: ScriptOptions{Defer: true}, MaxTokenBytes: 1024}
	o, err := New(opts)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, page []byte, chunk uint16) {
		step := int(chunk%64) + 1
		h := o.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			for i := 0; i < len(page); i += step {
				w.Write(page[i:min(len(page), i+step)])
			}
		}))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "http://example.test/shop/", nil))
		got := rec.Body.Bytes()
		if text(got) != text(page) {
			t.Fatalf("text content changed:\n in: %q\nout: %q", page, got)
		}
		// Only the data-src swap removes bytes: "data-" from each attribute.
		swapped := bytes.Count(bytes.ToLower(page), []byte("data-src"))
		if len(got) < len(page)-len("data-")*swapped {
			t.Fatalf("output lost bytes: %q -> %q", page, got)
		}
	})
}

// FuzzTagParse: the attribute scanner agrees with the tokenizer on the
// attributes of every start tag it accepts.
func FuzzTagParse(f *testing.F) {
	for _, s := range []string{`<img src="a" alt='b' c=d e>`, `<img src=a/>`, `<a =b c = "d"/ e>`, `<img/src="x"/alt=y>`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		z := html.NewTokenizer(strings.NewReader(s))
		for {
			tt := z.Next()
			if tt == html.ErrorToken {
				return
			}
			if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
				continue
			}
			raw := append([]byte(nil), z.Raw()...)
			var tg tag
			if !tg.parse(raw) {
				continue
			}
			seen := map[string]bool{}
			var mine []string
			for _, a := range tg.attrs {
				k := string(lowerName(nil, append([]byte("<"), raw[a.ks:a.ke]...)))
				if seen[k] {
					continue
				}
				seen[k] = true
				mine = append(mine, k+"="+tg.get(k))
			}
			var theirs []string
			for {
				k, v, more := z.TagAttr()
				theirs = append(theirs, string(k)+"="+string(v))
				if !more {
					break
				}
			}
			if len(mine) == 0 && len(theirs) == 1 && theirs[0] == "=" {
				theirs = nil
			}
			// The tokenizer turns NUL into U+FFFD, as browsers do.
			nul := strings.NewReplacer("\x00", "\uFFFD")
			if nul.Replace(strings.Join(mine, "\n")) != strings.Join(theirs, "\n") {
				t.Fatalf("parse(%q) = %q, tokenizer %q", raw, mine, theirs)
			}
		}
	})
}
