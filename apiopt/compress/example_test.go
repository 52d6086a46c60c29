package compress_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/perfengine/perfengine/apiopt/compress"
)

func Example() {
	c, err := compress.New(compress.Config{})
	if err != nil {
		panic(err)
	}
	h := c.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, "["+strings.Repeat(`{"id":1},`, 300)+`{"id":2}]`)
	}))
	for _, ae := range []string{"br", "zstd", "gzip;q=0.9, br;q=0.1", ""} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Accept-Encoding", ae)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Printf("%q -> %q\n", ae, w.Header().Get("Content-Encoding"))
	}
	// Output:
	// "br" -> "br"
	// "zstd" -> "zstd"
	// "gzip;q=0.9, br;q=0.1" -> "gzip"
	// "" -> ""
}
