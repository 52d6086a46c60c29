// Package target watches services the daemon does not run in: each target
// is scraped on its own goroutine, with its own interval, timeout and
// backoff, so a dead or slow one is reported (up 0, and why) and never
// delays the others.
//
// Four kinds of target:
//
//   - Service: the service's Prometheus endpoint, read with expfmt in the
//     protobuf format (which carries native histograms) or text, bounded
//     in size. Latency percentiles come from the request duration
//     histogram's buckets between two scrapes (classic or native; by
//     default client_golang/promhttp's http_request_duration_seconds or
//     OpenTelemetry's http_server_request_duration_seconds), throughput and
//     error rate from http_requests_total (or the histogram's count) as
//     rates, where a counter that went down is a restart counted from
//     zero, as Prometheus's rate() does. The version comes from a
//     *_build_info or target_info label.
//   - HTTP: a synthetic probe of one URL through a netopt transport that
//     dials anew each time, reporting DNS, connect, TLS, time to first
//     byte and the whole request, like the blackbox exporter.
//   - Prometheus: a Prometheus server's query_range API (client_golang's
//     API client) as the source of a fleet's figures.
//   - Database: any Source the caller supplies; the engine gives each
//     database target its own database module.
//
// A Watcher does not judge: it reports each scrape (Options.OnScrape) and
// keeps each target's last State. The engine's targets module turns those
// into per-target status, findings and regressions.
//
//	w, err := target.New([]target.Spec{
//		{Name: "shop", Kind: target.Service, URL: "http://127.0.0.1:8080/metrics", Interval: 5 * time.Second},
//		{Name: "home", Kind: target.HTTP, URL: "https://shop.example/", ExpectStatus: []int{200}},
//	}, target.Options{OnScrape: func(r target.Report) { fmt.Println(r.Target, r.Up()) }})
//	if err != nil { ... }
//	err = w.Start(ctx)
//	defer w.Stop(ctx)
package target
