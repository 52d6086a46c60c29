package batch_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/perfengine/perfengine/apiopt/batch"
)

func Example() {
	api := http.NewServeMux()
	api.HandleFunc("GET /api/products/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":`+r.PathValue("id")+`}`)
	})
	h := batch.Handler(api, batch.Config{})
	body := `[{"path":"/api/products/1"},{"path":"/api/products/2"}]`
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("POST", "/batch", strings.NewReader(body)))
	fmt.Print(w.Code, " ", w.Body.String())
	// Output:
	// 200 [{"status":200,"headers":{"Content-Type":"application/json"},"body":{"id":1}},{"status":200,"headers":{"Content-Type":"application/json"},"body":{"id":2}}]
}
