package demo_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/perfengine/perfengine/internal/demo"
)

func ExampleNew() {
	dir, err := os.MkdirTemp("", "demo-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	svc, err := demo.New(demo.Options{DataDir: dir})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer svc.Close()
	srv := httptest.NewServer(svc.Handler())
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/api/products/1")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	var p demo.Product
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.StatusCode, p.SKU, p.Name, p.Category, p.Price)
	// Output: 200 PE-000001 Smart Ceramic Backpack toys 595.46
}

func ExampleLoad() {
	// Any server will do; Load only counts what it sent.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan demo.LoadStats)
	go func() {
		st, err := demo.Load(ctx, demo.LoadOptions{BaseURL: srv.URL, Rate: 200})
		if err != nil {
			fmt.Println(err)
		}
		done <- st
	}()
	cancel()
	st := <-done
	fmt.Println("failed:", st.Failed)
	// Output: failed: 0
}

func ExampleParseProductUpdate() {
	u, err := demo.ParseProductUpdate([]byte(`{"price": 19.99, "stock": 3}`))
	fmt.Println(*u.Price, *u.Stock, err)
	_, err = demo.ParseProductUpdate([]byte(`{"stock": -1, "colour": "red"}`))
	fmt.Println(err)
	// Output:
	// 19.99 3 <nil>
	// body must be a JSON object of name, category, price, description, stock: json: unknown field "colour"
}

func ExampleRun() {
	dir, err := os.MkdirTemp("", "demo-run-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithCancel(context.Background())
	_, err = demo.Run(ctx, demo.RunOptions{
		Addr: "127.0.0.1:0", DashboardAddr: "127.0.0.1:0", DataDir: dir, NoLoad: true,
		Ready: func(demoURL, dashboardURL string) {
			defer cancel() // one look, then shut down
			for _, u := range []string{demoURL + "/api/products/2", dashboardURL + "/healthz"} {
				resp, err := http.Get(u)
				if err != nil {
					fmt.Println(err)
					return
				}
				resp.Body.Close()
				fmt.Println(resp.StatusCode, resp.Request.URL.Path)
			}
		},
	})
	fmt.Println("stopped:", err)
	// Output:
	// 200 /api/products/2
	// 200 /healthz
	// stopped: <nil>
}
