package target_test

import (
	"context"
	"fmt"
	"net/http/httptest"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/perfengine/perfengine/target"
)

func Example() {
	// A service instrumented with client_golang.
	reg := prometheus.NewRegistry()
	reqs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "http_requests_total", Help: "Requests."}, []string{"code"})
	reg.MustRegister(reqs)
	reqs.WithLabelValues("200").Add(10)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()

	w, err := target.New([]target.Spec{{Name: "shop", Kind: target.Service, URL: srv.URL}}, target.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	r, _ := w.ScrapeNow(context.Background(), "shop")
	fmt.Println(r.Target, "up:", r.Up())
	// Output: shop up: true
}
