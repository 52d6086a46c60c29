package dashboard

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/perfengine/perfengine"
	"github.com/perfengine/perfengine/metrics"
)

//go:embed static
var staticFS embed.FS

// Options configure the handler. The zero value serves a read-only dashboard
// without /metrics.
type Options struct {
	// Token guards the mutating endpoints (approve, undo): a request must
	// carry "Authorization: Bearer <Token>" (or, from the status page's
	// forms, a token field). Empty disables those endpoints with 403.
	Token string
	// Gatherer is served at /metrics; nil serves 404 there.
	Gatherer prometheus.Gatherer
	// Logger receives approve and undo events and internal errors; nil
	// discards them.
	Logger *slog.Logger
	// Targets is the daemon's watcher of other services, served at
	// /api/v1/targets; nil answers an empty list.
	Targets *perfengine.TargetsModule
}

// Dashboard is the daemon's HTTP handler. It holds no state of its own:
// every answer comes from the engine, so it is safe for concurrent use.
type Dashboard struct {
	eng     *perfengine.Engine
	targets *perfengine.TargetsModule
	token   [sha256.Size]byte
	auth    bool
	log     *slog.Logger
	mux     *http.ServeMux
}

// New returns the handler for eng. It panics if eng is nil, a programming
// error caught at construction rather than per request.
func New(eng *perfengine.Engine, opts Options) http.Handler {
	if eng == nil {
		panic("dashboard: nil engine")
	}
	d := &Dashboard{eng: eng, targets: opts.Targets, log: opts.Logger, auth: opts.Token != ""}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	d.log = d.log.With("module", "dashboard")
	// Comparing digests keeps the comparison constant-time whatever the
	// lengths of the token and the guess.
	d.token = sha256.Sum256([]byte(opts.Token))

	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", d.handlePage)
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /healthz", d.handleHealth)
	mux.HandleFunc("GET /targets/{name}", d.handleTargetPage)
	if opts.Gatherer != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(opts.Gatherer, promhttp.HandlerOpts{
			ErrorLog: slog.NewLogLogger(d.log.Handler(), slog.LevelWarn),
		}))
	}
	mux.HandleFunc("GET /api/v1/summary", d.handleSummary)
	mux.HandleFunc("GET /api/v1/metrics", d.handleMetrics)
	mux.HandleFunc("GET /api/v1/actions", d.handleActions)
	mux.HandleFunc("POST /api/v1/actions/{id}/approve", d.handleMutate("approve", eng.Approve))
	mux.HandleFunc("POST /api/v1/actions/{id}/undo", d.handleMutate("undo", eng.Undo))
	mux.HandleFunc("POST /api/v1/rollback", d.handleRollback)
	mux.HandleFunc("PATCH /api/v1/config", d.handleConfig)
	mux.HandleFunc("GET /api/v1/debug", d.handleDebug)
	mux.HandleFunc("GET /api/v1/targets", d.handleTargets)
	mux.HandleFunc("GET /api/v1/targets/{name}/summary", d.handleTarget)
	mux.HandleFunc("GET /api/v1/series", d.handleSeries)
	mux.HandleFunc("GET /api/v1/alerts", d.handleAlerts)
	mux.HandleFunc("GET /api/v1/silences", d.handleSilences)
	mux.HandleFunc("POST /api/v1/silences", d.handleAddSilence)
	mux.HandleFunc("DELETE /api/v1/silences/{id}", d.handleExpireSilence)
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		d.fail(w, r, codeNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	d.mux = mux
	return d
}

// ServeHTTP adds the security headers every answer carries and routes.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; form-action 'self'")
	h.Set("Referrer-Policy", "no-referrer")
	d.mux.ServeHTTP(w, r)
}

// Error codes of the JSON API.
const (
	codeInvalid      = "invalid"
	codeUnauthorized = "unauthorized"
	codeForbidden    = "forbidden"
	codeNotFound     = "not_found"
	codeConflict     = "conflict"
	codeTooLarge     = "too_large"
	codeInternal     = "internal"
)

// codeStatus is the one table from error codes to HTTP statuses.
var codeStatus = map[string]int{
	codeInvalid:      http.StatusBadRequest,
	codeUnauthorized: http.StatusUnauthorized,
	codeForbidden:    http.StatusForbidden,
	codeNotFound:     http.StatusNotFound,
	codeConflict:     http.StatusConflict,
	codeTooLarge:     http.StatusRequestEntityTooLarge,
	codeInternal:     http.StatusInternalServerError,
}

// engineCode maps the engine's sentinel errors to codes.
func engineCode(err error) string {
	switch {
	case errors.Is(err, perfengine.ErrNotFound):
		return codeNotFound
	case errors.Is(err, perfengine.ErrConflict), errors.Is(err, perfengine.ErrNotUndoable), errors.Is(err, perfengine.ErrRefused):
		return codeConflict
	}
	return codeInternal
}

// Error is the body of every error answer.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type errorBody struct {
	Error Error `json:"error"`
}

func (d *Dashboard) fail(w http.ResponseWriter, r *http.Request, code, msg string) {
	status, ok := codeStatus[code]
	if !ok {
		code, status = codeInternal, http.StatusInternalServerError
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="perfengine"`)
	}
	if status >= 500 {
		d.log.Error("request failed", "method", r.Method, "route", r.Pattern, "err", msg)
	}
	writeJSON(w, status, errorBody{Error{Code: code, Message: msg}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(errorBody{Error{Code: codeInternal, Message: "encode response: " + err.Error()}})
	}
	b = append(b, '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(b)
}

// Health is the body of GET /healthz. The daemon is alive whatever the
// status of the service it watches, so the answer is 200 as long as it runs.
type Health struct {
	OK     bool              `json:"ok"`
	Status perfengine.Status `json:"status"`
}

func (d *Dashboard) handleHealth(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, Health{OK: true, Status: d.eng.Status()})
}

func (d *Dashboard) handleSummary(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, d.eng.Summary())
}

// MetricsBody is the body of GET /api/v1/metrics.
type MetricsBody struct {
	Metrics any `json:"metrics"`
}

func (d *Dashboard) handleMetrics(w http.ResponseWriter, r *http.Request) {
	m := d.eng.CurrentMetrics()
	slices.SortFunc(m, func(a, b metrics.Sample) int { return strings.Compare(a.Key(), b.Key()) })
	writeJSON(w, http.StatusOK, MetricsBody{Metrics: m})
}

// ActionsBody is the body of GET /api/v1/actions.
type ActionsBody struct {
	Actions []perfengine.Action `json:"actions"`
}

var actionStates = []perfengine.ActionState{
	perfengine.ActionPending, perfengine.ActionApplied, perfengine.ActionFailed,
	perfengine.ActionUndone, perfengine.ActionRejected,
}

// parseStates reads ?state=pending,applied (or the parameter repeated).
func parseStates(q url.Values) ([]perfengine.ActionState, error) {
	var out []perfengine.ActionState
	for _, v := range q["state"] {
		for s := range strings.SplitSeq(v, ",") {
			st := perfengine.ActionState(strings.TrimSpace(s))
			if !slices.Contains(actionStates, st) {
				return nil, fmt.Errorf("state %q must be one of pending, applied, failed, undone, rejected", s)
			}
			if !slices.Contains(out, st) {
				out = append(out, st)
			}
		}
	}
	return out, nil
}

func (d *Dashboard) handleActions(w http.ResponseWriter, r *http.Request) {
	states, err := parseStates(r.URL.Query())
	if err != nil {
		d.fail(w, r, codeInvalid, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, ActionsBody{Actions: d.eng.Actions(states...)})
}

func (d *Dashboard) handleDebug(w http.ResponseWriter, r *http.Request) {
	info := d.eng.DebugInfo()
	info.Config.Database.DSN = redactURL(info.Config.Database.DSN)
	info.Config.Store.DSN = redactURL(info.Config.Store.DSN)
	info.Config.Alerts.WebhookURL = redactURL(info.Config.Alerts.WebhookURL)
	info.Config.Alerts.EmailEndpoint = redactURL(info.Config.Alerts.EmailEndpoint)
	writeJSON(w, http.StatusOK, info)
}

// redactURL hides the password and query of a URL-shaped secret: debug
// output is readable without the token.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return raw
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	if u.RawQuery != "" {
		u.RawQuery = "redacted"
	}
	return u.String()
}

// maxActionBody bounds the optional body of approve and undo.
const maxActionBody = 4 << 10

// handleMutate serves approve and undo: authorize, read the optional reason,
// call the engine, answer with the action. A form post from the status page
// is answered with a redirect back to it.
func (d *Dashboard) handleMutate(verb string, call func(ctx context.Context, id string) (perfengine.Action, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !d.auth {
			d.fail(w, r, codeForbidden, verb+" is disabled: the server has no token (set server.token or PERFENGINE_TOKEN)")
			return
		}
		body, err := readBody(w, r, maxActionBody)
		if err != nil {
			if errors.Is(err, errTooLarge) {
				d.fail(w, r, codeTooLarge, err.Error())
				return
			}
			d.fail(w, r, codeInvalid, err.Error())
			return
		}
		req, err := ParseActionRequest(r.Header.Get("Content-Type"), body)
		if err != nil {
			d.fail(w, r, codeInvalid, err.Error())
			return
		}
		if !d.authorized(w, r, verb, req.Token) {
			return
		}
		id := r.PathValue("id")
		a, err := call(r.Context(), id)
		if err != nil {
			d.log.Warn(verb+" failed", "id", id, "reason", req.Reason, "err", err)
			d.fail(w, r, engineCode(err), err.Error())
			return
		}
		d.log.Info(verb, "id", id, "kind", a.Kind, "target", a.Target, "state", a.State, "reason", req.Reason)
		if req.Form {
			// Relative, so the page is found again when the dashboard is
			// mounted under a prefix (http.StripPrefix("/perf", ...)):
			// from .../api/v1/actions/{id}/{verb} four levels up.
			w.Header().Set("Location", "../../../../")
			w.WriteHeader(http.StatusSeeOther)
			return
		}
		writeJSON(w, http.StatusOK, a)
	}
}

// authorized checks the bearer token (or, from a form, its token field)
// and answers the refusal itself.
func (d *Dashboard) authorized(w http.ResponseWriter, r *http.Request, verb, formToken string) bool {
	token := formToken
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, t, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Bearer") {
			d.fail(w, r, codeUnauthorized, "authorization must be Bearer <token>")
			return false
		}
		token = strings.TrimSpace(t)
	}
	if token == "" {
		d.fail(w, r, codeUnauthorized, verb+" needs Authorization: Bearer <token>")
		return false
	}
	if sum := sha256.Sum256([]byte(token)); subtle.ConstantTimeCompare(sum[:], d.token[:]) != 1 {
		d.fail(w, r, codeUnauthorized, "wrong token")
		return false
	}
	return true
}

// CheckExposure refuses an address beyond loopback without a token: the
// dashboard's approve and undo endpoints would be open to the network.
func CheckExposure(addr, token string) error {
	if token != "" {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("server.addr %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("server.addr %q is not a loopback address: set server.token or PERFENGINE_TOKEN to guard approve and undo", addr)
}
