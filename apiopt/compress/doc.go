// Package compress negotiates and applies response codings: brotli through
// github.com/molecule-man/go-brrr, gzip and zstd through klauspost's gzhttp,
// chosen by the client's Accept-Encoding q-values (brotli, then zstd, then
// gzip when equal). Responses below a minimum size, of types not on the
// allowlist, already coded, or partial are sent as they are; flushes pass
// through, so server-sent events keep streaming; "X-No-Compression: true"
// on a request turns it off. Encode compresses whole bodies for caches that
// store each coding once.
//
//	c, err := compress.New(compress.Config{})
//	if err != nil {
//		return err
//	}
//	http.ListenAndServe("127.0.0.1:8080", c.Middleware(mux))
package compress
