package cache_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/perfengine/perfengine/apiopt/cache"
)

func Example() {
	c, err := cache.New(cache.Config{})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Surrogate-Key", "products")
		io.WriteString(w, `[{"id":1}]`)
	})
	h := c.Middleware(origin)
	for range 2 {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/api/products", nil))
		fmt.Println(w.Header().Get("Cache-Status"))
	}
	fmt.Println("invalidated:", c.Invalidate("products"))
	// Output:
	// perfengine; fwd=uri-miss; stored
	// perfengine; hit
	// invalidated: 1
}

// A memory optimizer calls Shed under pressure; the cache gives up its
// coldest entries and keeps its bound, so it refills on demand.
func ExampleCache_Shed() {
	c, err := cache.New(cache.Config{})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	h := c.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, r.URL.Path)
	}))
	for i := range 10 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", fmt.Sprintf("/items/%d", i), nil))
	}
	fmt.Println("entries:", c.Stats().Entries)
	c.Shed(1) // critical: everything
	fmt.Println("entries after Shed(1):", c.Stats().Entries)
	// Output:
	// entries: 10
	// entries after Shed(1): 0
}
