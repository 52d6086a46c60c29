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
