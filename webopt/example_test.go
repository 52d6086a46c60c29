package webopt_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/perfengine/perfengine/webopt"
)

// The rewriter in front of a page: the hero gets its size and priority,
// the images below the fold are lazy-loaded.
func ExampleOptimizer_Middleware() {
	o, err := webopt.New(webopt.Options{Dir: "testdata/site", Images: webopt.ImageOptions{AboveFold: 1}, Lazy: webopt.LazyOptions{Enabled: true}})
	if err != nil {
		panic(err)
	}
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, `<body><img src="/img/hero.jpg" alt=""><p>…</p><img src="/img/thumb.png" alt=""></body>`)
	})
	rec := httptest.NewRecorder()
	o.Middleware(page).ServeHTTP(rec, httptest.NewRequest("GET", "http://shop.example/", nil))
	fmt.Println(rec.Body.String())
	// Output:
	// <body><img src="/img/hero.jpg" alt="" width="800" height="450" fetchpriority="high"><p>…</p><img src="/img/thumb.png" alt="" width="300" height="200" loading="lazy" decoding="async"></body>
}

// The collector receives the beacons the RUM script sends and keeps p75
// per route.
func ExampleCollector() {
	c, err := webopt.NewCollector(webopt.CollectorOptions{})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle(c.Path(), c)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for _, lcp := range []int{1800, 2100, 2600, 3900} {
		body := fmt.Sprintf(`{"r":"/products/42","m":[{"n":"LCP","v":%d,"s":"img.hero"}]}`, lcp)
		req, _ := http.NewRequest("POST", srv.URL+c.Path(), strings.NewReader(body))
		req.Header.Set("Content-Type", "text/plain")
		req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 Safari/537.36")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
	}
	for _, v := range c.Vitals() {
		fmt.Printf("%s %s %s p75=%.0f %s over %d views\n", v.Route, v.Device, v.Name, v.P75, v.Rating, v.Views)
	}
	// Output:
	// /products/{id} desktop LCP p75=2643 needs-improvement over 4 views
}

// The script tag a page carries to report its vitals to the collector.
func ExampleScriptTag() {
	tag := webopt.ScriptTag(webopt.DefaultBeaconPath)
	fmt.Println(strings.HasPrefix(tag, "<script>"), len(tag) < 4096)
	// Output:
	// true true
}
