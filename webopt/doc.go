// Package webopt is the browser optimizer: an HTML rewriter that makes
// pages load faster in real browsers, and a collector of the Core Web
// Vitals those browsers measure.
//
// Optimizer.Middleware rewrites text/html 200 responses in one streaming
// pass of golang.org/x/net/html's tokenizer, copying every token it does
// not change byte for byte and bounding its memory per token. Its filters
// give local images the width and height read from the file's header (so
// nothing shifts), mark the likely LCP image fetchpriority=high with a
// preload and never lazy-load it, lazy-load and async-decode the images
// below the fold (natively, or through a small IntersectionObserver script
// for img[data-src] and [data-lazy-component]), optionally defer scripts,
// add preconnect and preload hints (as Link headers and, over HTTP/2, a
// 103 Early Hints response within a byte budget), set font-display: swap
// and size a fallback font with metric overrides computed from the font
// file. It composes with apiopt: put it inside apiopt's middleware so the
// cache stores and the compressor compresses the rewritten page.
//
// Collector closes the loop with real users: Script is a small snippet
// (about 1.2 KB gzipped) that reports LCP, CLS, INP, FCP and TTFB with
// the LCP element's attribution; the Collector accepts those beacons
// (bounded, validated), keeps p75 per route and device class over a
// rotating window, exports them to Prometheus, and tells the Optimizer
// which element real users see as each route's LCP. Package audit
// measures the same vitals in a lab, in headless Chromium.
package webopt
