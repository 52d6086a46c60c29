// Command apibench serves the demo shop three times for the load comparison
// in run.sh: as it is, behind the API optimizer with its catalogue routes
// cached, and the same behind the optimizer's fasthttp front. Varnish, started by run.sh, sits in front of the uncached
// one. Every listener is on a loopback address.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/perfengine/perfengine/apiopt"
	"github.com/perfengine/perfengine/internal/demo"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "apibench:", err)
		os.Exit(1)
	}
}

func run() error {
	dataDir := flag.String("data", "", "demo data `directory` (required)")
	plain := flag.String("plain", "127.0.0.1:18081", "`addr` of the uncached demo handler")
	cached := flag.String("cached", "127.0.0.1:18082", "`addr` of the demo handler behind apiopt")
	fast := flag.String("fast", "127.0.0.1:18084", "`addr` of the demo handler behind apiopt on fasthttp")
	ttl := flag.Duration("ttl", time.Hour, "TTL of the cached catalogue routes")
	flag.Parse()
	if *dataDir == "" {
		return errors.New("-data is required")
	}
	for _, a := range []string{*plain, *cached, *fast} {
		if host, _, err := net.SplitHostPort(a); err != nil || !net.ParseIP(host).IsLoopback() {
			return fmt.Errorf("%s: only loopback addresses are allowed", a)
		}
	}
	svc, err := demo.New(demo.Options{DataDir: *dataDir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer svc.Close()
	opt, err := apiopt.New(apiopt.Config{Cache: apiopt.CacheConfig{Routes: map[string]time.Duration{
		"GET /api/products": *ttl, "GET /api/products/{id}": *ttl,
	}}})
	if err != nil {
		return err
	}
	defer opt.Close()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	servers := map[string]http.Handler{*plain: svc.Handler(), *cached: opt.Middleware(svc.Handler())}
	errc := make(chan error, len(servers))
	var all []*http.Server
	for addr, h := range servers {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return err
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
		all = append(all, srv)
		go func() { errc <- srv.Serve(ln) }()
	}
	fln, err := net.Listen("tcp", *fast)
	if err != nil {
		return err
	}
	fsrv := &fasthttp.Server{Handler: opt.FastHandler(svc.Handler()), ReadTimeout: 30 * time.Second}
	go func() { errc <- fsrv.Serve(fln) }()
	defer fsrv.Shutdown()
	fmt.Fprintf(os.Stderr, "apibench: plain on %s, cached on %s, cached on fasthttp on %s\n", *plain, *cached, *fast)
	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for _, s := range all {
		_ = s.Shutdown(sctx)
	}
	return nil
}
