// Package cache is an RFC 9111 shared HTTP cache for net/http handlers.
//
// It stores GET responses that a shared cache may store (no no-store, no
// private, no Set-Cookie, no Authorization unless public or s-maxage) for
// as long as their freshness allows (s-maxage, max-age, Expires, the
// Last-Modified heuristic, or a TTL set per ServeMux route with
// SetRouteTTL, which adapts to how often the content really changes). Each
// entry keeps its identity body and each worthwhile coding (brotli, zstd,
// gzip) compressed once, and answers every request in the coding it
// accepts, with a strong ETag, Age and a Cache-Status field (RFC 9211). It
// answers If-None-Match and If-Modified-Since with 304 and Range through
// net/http's ServeContent; it follows Vary (Accept-Encoding excepted: codings
// never split entries); concurrent misses for one URL make one origin call,
// and each waiter still leaves when its own context ends; stale entries are
// revalidated in the background (stale-while-revalidate) or served when the
// origin fails (stale-if-error). Surrogate-Key response fields tag entries
// for Invalidate, and a successful unsafe request drops what it changed.
// Memory is bounded in bytes with otter's W-TinyLFU, and an entry past its
// lifetime and stale windows is kept only Config.Keep (a minute by default)
// for revalidation, so a cache of many URLs holds what is asked for lately
// rather than everything ever asked for.
//
// HTTP has no LZ4 content coding, so LZ4 goes where it pays: an identity
// body of Config.PackAbove bytes or more (4 KiB by default) that also has a
// coding is held packed, so the cache holds more per byte (a 24 KiB JSON
// answer with its three codings takes 16 KB instead of 30 KB) and only a
// client that takes identity pays one decompression. A Shared backend
// stores a URL in a binary frame with its bodies raw (not base64), the
// identity packed and every coding ready, so the instance that reads it
// encodes nothing: 2.5 ms of brotli, zstd and gzip become 0.05 ms.
//
//	c, err := cache.New(cache.Config{Compressor: comp})
//	if err != nil {
//		return err
//	}
//	defer c.Close()
//	c.SetRouteTTL("GET /api/products", 30*time.Second)
//	http.ListenAndServe("127.0.0.1:8080", c.Middleware(mux))
package cache
