// Package demo is the service that `perfengine demo` runs: a small product
// catalogue over SQLite with performance problems put there on purpose, so
// that a newcomer sees the engine find and fix real ones within seconds.
//
// Its routes are a contract that other packages and the project's own checks
// rely on:
//
//	GET /api/products?category=C&page=P  a page of PageSize products, about 50 KB of JSON
//	GET /api/products/{id}               one product; 404 when there is none
//	PUT /api/products/{id}               change one product (JSON body, see ProductUpdate); 400 with the reason
//	GET /api/search?q=NAME               products by name, ignoring case: a full table scan, no index
//	GET /api/me                          the profile of "Authorization: Bearer <user>"; 401 without
//	GET /api/slow?ms=N                   sleeps N ms, N ≤ 5000; 400 above
//	GET /api/related/{id}                RelatedCount products of its category, one query each: an N+1
//	GET /                                an HTML page: a heavy hero PNG, 30 product JPEGs below the
//	                                     fold without dimensions or lazy loading, a blocking web font
//
// Errors are JSON: {"error":{"code":"invalid","message":"page must be ..."}}.
//
// The first start seeds ProductCount products into DBFile in the data
// directory, deterministically (a fixed math/rand/v2 seed), in one
// transaction; later starts reuse the file. Images are generated on first
// request, also deterministically; the font is Go's own.
//
// Optimizers hook in without changing this package: Options.Middleware wraps
// the whole handler (the API optimizer's cache, compression and per-route
// statistics, the browser optimizer's HTML rewriter), and Options.OpenDB
// opens the database through another driver (a query tracer). Load drives a
// light mixed load over the routes.
//
//	svc, err := demo.New(demo.Options{DataDir: dir})
//	if err != nil {
//		return err
//	}
//	defer svc.Close()
//	srv := &http.Server{Addr: "127.0.0.1:8080", Handler: svc.Handler()}
//	go srv.ListenAndServe()
//	stats, err := demo.Load(ctx, demo.LoadOptions{BaseURL: "http://127.0.0.1:8080"})
package demo
