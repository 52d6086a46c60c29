package demo

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// Contract figures of the demo service. Later issues and the project's own
// checks rely on them.
const (
	// ProductCount is how many products the first start seeds.
	ProductCount = 20_000
	// PageSize is the number of products in one page of GET /api/products;
	// with the seeded descriptions a page is about 50 KB of JSON.
	PageSize = 100
	// MaxSlow is the longest GET /api/slow accepts.
	MaxSlow = 5 * time.Second
	// DBFile is the demo database's file name inside the data directory.
	DBFile = "demo.db"
)

// Options configure a Service. The zero value is not usable: DataDir is
// required unless OpenDB is set.
type Options struct {
	// DataDir holds the SQLite database (DBFile); created when missing.
	DataDir string
	// OpenDB opens the database at path instead of OpenSQLite, so another
	// optimizer can hand in a *sql.DB opened through an instrumented driver.
	// The Service closes what OpenDB returns.
	OpenDB func(path string) (*sql.DB, error)
	// Middleware wraps the whole handler. Middleware[0] is the outermost, so
	// it sees every request first and every response last. The mux has set
	// r.Pattern by the time next.ServeHTTP returns.
	Middleware []func(http.Handler) http.Handler
	// Logger receives the service's events; nil discards them.
	Logger *slog.Logger
	// Now is the clock for updated_at and profile creation; nil is time.Now.
	Now func() time.Time
}

// Service is the demo web service: a product catalogue over SQLite with
// deliberate performance problems. It is safe for concurrent use.
type Service struct {
	db      *sql.DB
	log     *slog.Logger
	now     func() time.Time
	handler http.Handler
	assets  *assets
}

// New opens (and on first start seeds) the database and builds the handler.
// Seeding 20,000 products takes about a second; later starts reuse the file.
func New(opts Options) (*Service, error) {
	if opts.DataDir == "" && opts.OpenDB == nil {
		return nil, errors.New("demo: Options.DataDir is required")
	}
	for i, mw := range opts.Middleware {
		if mw == nil {
			return nil, fmt.Errorf("demo: Options.Middleware[%d] is nil", i)
		}
	}
	s := &Service{log: opts.Logger, now: opts.Now, assets: sharedAssets()}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	open := opts.OpenDB
	if open == nil {
		open = OpenSQLite
	}
	path := DBPath(opts.DataDir)
	if opts.DataDir != "" {
		if err := os.MkdirAll(opts.DataDir, 0o755); err != nil {
			return nil, fmt.Errorf("demo: create data dir: %w", err)
		}
	}
	db, err := open(path)
	if err != nil {
		return nil, fmt.Errorf("demo: open database: %w", err)
	}
	s.db = db
	start := time.Now()
	seeded, err := prepare(db)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("demo: %w", err)
	}
	if seeded {
		s.log.Info("demo database seeded", "products", ProductCount, "path", path, "took", time.Since(start).Round(time.Millisecond))
	}
	var h http.Handler = s.routes()
	for i := len(opts.Middleware) - 1; i >= 0; i-- {
		h = opts.Middleware[i](h)
	}
	s.handler = h
	return s, nil
}

// DBPath is where the demo database lives inside dataDir.
func DBPath(dataDir string) string { return filepath.Join(dataDir, DBFile) }

// Handler serves the demo's routes (see the package documentation).
func (s *Service) Handler() http.Handler { return s.handler }

// DB is the demo's database, for optimizers that watch it.
func (s *Service) DB() *sql.DB { return s.db }

// Close closes the database.
func (s *Service) Close() error { return s.db.Close() }

func (s *Service) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.handleIndex)
	mux.HandleFunc("GET /static/hero.png", s.handleHero)
	mux.HandleFunc("GET /static/products/{n}", s.handleProductImage)
	mux.HandleFunc("GET /static/font.ttf", s.handleFont)
	mux.HandleFunc("GET /api/products", s.handleProducts)
	mux.HandleFunc("GET /api/products/{id}", s.handleProduct)
	mux.HandleFunc("PUT /api/products/{id}", s.handleUpdateProduct)
	mux.HandleFunc("GET /api/search", s.handleSearch)
	mux.HandleFunc("GET /api/me", s.handleMe)
	mux.HandleFunc("GET /api/slow", s.handleSlow)
	mux.HandleFunc("GET /api/related/{id}", s.handleRelated)
	return mux
}

// apiError is the body of every error response:
// {"error":{"code":"invalid","message":"..."}}.
type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// errorStatus maps error codes to HTTP statuses in one place.
var errorStatus = map[string]int{
	"invalid":      http.StatusBadRequest,
	"unauthorized": http.StatusUnauthorized,
	"not_found":    http.StatusNotFound,
	"too_large":    http.StatusRequestEntityTooLarge,
	"internal":     http.StatusInternalServerError,
}

func (s *Service) fail(w http.ResponseWriter, r *http.Request, code, msg string) {
	status, ok := errorStatus[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="demo"`)
	}
	if status >= 500 {
		s.log.Error("demo request failed", "route", r.Pattern, "error", msg)
		msg = "internal error"
	}
	writeJSON(w, status, map[string]apiError{"error": {Code: code, Message: msg}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"error":{"code":"internal","message":"encode response"}}`, http.StatusInternalServerError)
		return
	}
	b = append(b, '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", fmt.Sprint(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}
