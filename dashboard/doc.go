// Package dashboard is the daemon's web face: a server-rendered status page
// and a JSON API over a running perfengine.Engine, plus Prometheus /metrics
// and /healthz. It keeps no state of its own; every answer is read from the
// engine, which serves its summary from memory.
//
// Routes:
//
//	GET  /                                  status page (html/template, assets embedded, no CDN)
//	GET  /healthz                           {"ok":true,"status":"healthy"}
//	GET  /metrics                           Prometheus exposition of Options.Gatherer
//	GET  /api/v1/summary                    perfengine.Summary
//	GET  /api/v1/metrics                    {"metrics":[...]}, the newest sample of every series
//	GET  /api/v1/actions?state=pending,...  {"actions":[...]}, newest first
//	POST /api/v1/actions/{id}/approve       apply a pending action; bearer token
//	POST /api/v1/actions/{id}/undo          revert an applied action; bearer token
//	POST /api/v1/rollback                   manual rollback {"reason","from","to"}; bearer token
//	PATCH /api/v1/config                    YAML or JSON merged over the running configuration (UpdateConfig); bearer token
//	GET  /api/v1/debug                      perfengine.DebugInfo, secrets redacted
//	GET  /api/v1/targets                    TargetsBody: each watched target's state and status, and the worst
//	GET  /api/v1/targets/{name}/summary     TargetBody: one target with its findings
//	GET  /api/v1/series?name=&target=&from=&to=&step=
//	                                        SeriesBody: stored history, one mean per step, at most 1000 points a series
//
// Approve and undo need "Authorization: Bearer <token>" and accept an
// optional JSON body {"reason": "..."} that is logged. Without a configured
// token they answer 403: a dashboard nobody can authenticate to must not
// change anything. Errors are {"error":{"code":"...","message":"..."}} with
// the codes invalid (400), unauthorized (401), forbidden (403), not_found
// (404), conflict (409), too_large (413) and internal (500).
//
//	reg := prometheus.NewRegistry()
//	eng, err := perfengine.New(cfg, perfengine.WithRegisterer(reg))
//	...
//	if err := eng.Start(ctx); err != nil { ... }
//	h := dashboard.New(eng, dashboard.Options{Token: cfg.Server.Token, Gatherer: reg})
//	srv := &http.Server{Addr: "127.0.0.1:7070", Handler: h}
//	err = srv.ListenAndServe()
package dashboard
