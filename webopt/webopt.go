package webopt

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of Options.
const (
	DefaultRootMargin        = "50px"
	DefaultThreshold         = 0.1
	DefaultImageSelector     = "img[data-src]"
	DefaultComponentSelector = "[data-lazy-component]"
	DefaultFadeInDuration    = 300 * time.Millisecond
	DefaultAboveFold         = 3
	DefaultMinLCPArea        = 160 * 160
	DefaultMaxBytes          = 8 << 20
	DefaultMaxTokenBytes     = 256 << 10
	DefaultEarlyHintsBudget  = 100 << 10
	DefaultMaxPreconnects    = 4
	DefaultMaxRoutes         = 512
	DefaultFallbackFont      = "Arial"
)

// Options configures an Optimizer. The zero value rewrites text/html 200
// responses with the safe filters on (image dimensions, LCP priority,
// preconnect and preload hints, font-display swap, fallback font metrics)
// and the ones that change loading behaviour off (lazy loading, deferred
// scripts, 103 Early Hints).
type Options struct {
	// Disabled passes every response through untouched.
	Disabled bool `yaml:"disabled" json:"disabled"`
	// Root holds the site's static files (images, fonts) so that sizes and
	// font metrics can be read; nil uses Dir, and with neither no file is
	// read. StaticPrefix is the URL path at which Root is served; default
	// "/": the URL /img/a.png is the file img/a.png.
	Root         fs.FS  `yaml:"-" json:"-"`
	Dir          string `yaml:"dir" json:"dir"`
	StaticPrefix string `yaml:"staticPrefix" json:"staticPrefix"`

	Images  ImageOptions  `yaml:"images" json:"images"`
	Lazy    LazyOptions   `yaml:"lazy" json:"lazy"`
	Scripts ScriptOptions `yaml:"scripts" json:"scripts"`
	Hints   HintOptions   `yaml:"hints" json:"hints"`
	Fonts   FontOptions   `yaml:"fonts" json:"fonts"`

	// MaxBytes: a response declaring a larger Content-Length is passed
	// through; default 8 MiB. Responses of unknown length are streamed.
	MaxBytes int64 `yaml:"maxBytes" json:"maxBytes"`
	// MaxTokenBytes bounds the tokenizer's buffer (one tag, text run or
	// script); a longer token turns the rest of the page into a
	// pass-through. Default 256 KiB.
	MaxTokenBytes int `yaml:"maxTokenBytes" json:"maxTokenBytes"`
	// MaxRoutes bounds how many routes' resources and LCP hints are
	// remembered; default 512.
	MaxRoutes int `yaml:"maxRoutes" json:"maxRoutes"`

	// Inject is HTML inserted verbatim before </head> (for example the RUM
	// collector's <script>); InjectScript is JavaScript wrapped in a
	// <script> element there. Both empty by default.
	Inject       []byte `yaml:"-" json:"-"`
	InjectScript string `yaml:"injectScript" json:"injectScript"`
}

// ImageOptions configures the image filters.
type ImageOptions struct {
	// DisableDimensions leaves images without width/height alone.
	DisableDimensions bool `yaml:"disableDimensions" json:"disableDimensions"`
	// DisablePriority stops marking the likely LCP image fetchpriority=high.
	DisablePriority bool `yaml:"disablePriority" json:"disablePriority"`
	// AboveFold is how many of a page's first images count as above the
	// fold: the LCP candidates, never lazy-loaded. Default 3.
	AboveFold int `yaml:"aboveFold" json:"aboveFold"`
	// MinLCPArea in CSS pixels² an image needs to be taken for the LCP
	// without real-user data; default 25600 (160×160).
	MinLCPArea int `yaml:"minLCPArea" json:"minLCPArea"`
}

// LazyOptions is the seed's lazy-loading block. Off unless Enabled.
type LazyOptions struct {
	Enabled bool `yaml:"enabled" json:"enabled"`
	// RootMargin and Threshold are the IntersectionObserver's; defaults
	// "50px" and 0.1.
	RootMargin string  `yaml:"rootMargin" json:"rootMargin"`
	Threshold  float64 `yaml:"threshold" json:"threshold"`
	// ImageSelector marks images whose URL waits in data-src; default
	// "img[data-src]". ComponentSelector marks elements loaded as they
	// near the viewport (their <template> child is put in place and a
	// "lazy-component" event fires); default "[data-lazy-component]".
	ImageSelector     string `yaml:"imageSelector" json:"imageSelector"`
	ComponentSelector string `yaml:"componentSelector" json:"componentSelector"`
	// FadeInDuration of images the script loads; default 300ms, negative
	// for none.
	FadeInDuration time.Duration `yaml:"fadeInDuration" json:"fadeInDuration"`
	// Native swaps data-src to src on the server with loading="lazy", so
	// images need no script (the browser picks its own margin). Default
	// false: the observer script honours RootMargin, Threshold and fade-in.
	Native bool `yaml:"native" json:"native"`
}

// ScriptOptions configures script loading.
type ScriptOptions struct {
	// Defer adds defer to classic external scripts. Opt-in: it breaks
	// pages that rely on script order with inline scripts or on
	// document.write.
	Defer bool `yaml:"defer" json:"defer"`
	// DisableModulePreload stops preloading module scripts.
	DisableModulePreload bool `yaml:"disableModulePreload" json:"disableModulePreload"`
	// Critical lists script URL paths (or suffixes) that get
	// fetchpriority="high".
	Critical []string `yaml:"critical" json:"critical"`
}

// HintOptions configures resource hints.
type HintOptions struct {
	// DisablePreload and DisablePreconnect turn off the <link> and Link
	// header hints for the critical CSS, hero image and font, and the
	// preconnects to third-party origins.
	DisablePreload    bool `yaml:"disablePreload" json:"disablePreload"`
	DisablePreconnect bool `yaml:"disablePreconnect" json:"disablePreconnect"`
	// MaxPreconnects per page; default 4 (each costs a handshake).
	MaxPreconnects int `yaml:"maxPreconnects" json:"maxPreconnects"`
	// EarlyHints sends 103 Early Hints on HTTP/2 for the resources a route
	// used last time. Opt-in.
	EarlyHints bool `yaml:"earlyHints" json:"earlyHints"`
	// EarlyHintsBudget bounds the bytes of the local files early-hinted
	// in one response; a font is hinted only when its size is known and
	// fits. The LCP image is not charged: the page fetches it first
	// anyway. Default 100 KiB.
	EarlyHintsBudget int64 `yaml:"earlyHintsBudget" json:"earlyHintsBudget"`
}

// FontOptions configures the font filters.
type FontOptions struct {
	// DisableSwap leaves @font-face rules without font-display alone.
	DisableSwap bool `yaml:"disableSwap" json:"disableSwap"`
	// DisablePreload stops preloading the font used above the fold.
	DisablePreload bool `yaml:"disablePreload" json:"disablePreload"`
	// DisableFallback stops emitting metric-matched fallback faces.
	DisableFallback bool `yaml:"disableFallback" json:"disableFallback"`
	// Fallback is the local font the fallback face is fitted to: "Arial"
	// (default) or "Times New Roman".
	Fallback string `yaml:"fallback" json:"fallback"`
}

func (o Options) withDefaults() Options {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	if o.StaticPrefix == "" {
		o.StaticPrefix = "/"
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	def(&o.MaxTokenBytes, DefaultMaxTokenBytes)
	def(&o.MaxRoutes, DefaultMaxRoutes)
	def(&o.Images.AboveFold, DefaultAboveFold)
	def(&o.Images.MinLCPArea, DefaultMinLCPArea)
	def(&o.Hints.MaxPreconnects, DefaultMaxPreconnects)
	l := &o.Lazy
	if l.RootMargin == "" {
		l.RootMargin = DefaultRootMargin
	}
	if l.Threshold == 0 {
		l.Threshold = DefaultThreshold
	}
	if l.ImageSelector == "" {
		l.ImageSelector = DefaultImageSelector
	}
	if l.ComponentSelector == "" {
		l.ComponentSelector = DefaultComponentSelector
	}
	if l.FadeInDuration == 0 {
		l.FadeInDuration = DefaultFadeInDuration
	}
	if o.Hints.EarlyHintsBudget == 0 {
		o.Hints.EarlyHintsBudget = DefaultEarlyHintsBudget
	}
	if o.Fonts.Fallback == "" {
		o.Fonts.Fallback = DefaultFallbackFont
	}
	return o
}

// Validate reports every field out of range at once.
func (o Options) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf("webopt: "+format, args...)) }
	if o.MaxBytes < 0 {
		add("maxBytes %d must not be negative", o.MaxBytes)
	}
	if o.MaxTokenBytes < 0 || (o.MaxTokenBytes > 0 && o.MaxTokenBytes < 1024) {
		add("maxTokenBytes %d must be 0 (default) or at least 1024", o.MaxTokenBytes)
	}
	if o.MaxRoutes < 0 {
		add("maxRoutes %d must not be negative", o.MaxRoutes)
	}
	if o.StaticPrefix != "" && !strings.HasPrefix(o.StaticPrefix, "/") {
		add("staticPrefix %q must start with /", o.StaticPrefix)
	}
	if o.Images.AboveFold < 0 || o.Images.MinLCPArea < 0 {
		add("images.aboveFold and images.minLCPArea must not be negative")
	}
	l := o.Lazy
	if l.Threshold < 0 || l.Threshold > 1 {
		add("lazy.threshold %g must be in [0, 1]", l.Threshold)
	}
	if l.RootMargin != "" && !validMargin(l.RootMargin) {
		add("lazy.rootMargin %q must be 1 to 4 lengths in px or %%, like \"50px\" or \"0px 0px 200px\"", l.RootMargin)
	}
	if l.FadeInDuration > 10*time.Second {
		add("lazy.fadeInDuration %v must be at most 10s", l.FadeInDuration)
	}
	if l.ImageSelector != "" {
		if _, err := parseSelector(l.ImageSelector); err != nil {
			add("lazy.imageSelector: %w", err)
		}
	}
	if l.ComponentSelector != "" {
		if _, err := parseSelector(l.ComponentSelector); err != nil {
			add("lazy.componentSelector: %w", err)
		}
	}
	if o.Hints.MaxPreconnects < 0 || o.Hints.EarlyHintsBudget < 0 {
		add("hints.maxPreconnects and hints.earlyHintsBudget must not be negative")
	}
	if f := o.Fonts.Fallback; f != "" && fallbackFonts[f].UnitsPerEm == 0 {
		add("fonts.fallback %q must be \"Arial\" or \"Times New Roman\"", f)
	}
	if o.Dir != "" {
		if st, err := os.Stat(o.Dir); err != nil || !st.IsDir() {
			add("dir %q must be a readable directory", o.Dir)
		}
	}
	return errors.Join(errs...)
}

func validMargin(s string) bool {
	parts := strings.Fields(s)
	if len(parts) < 1 || len(parts) > 4 {
		return false
	}
	for _, p := range parts {
		num := strings.TrimSuffix(strings.TrimSuffix(p, "px"), "%")
		if num == p && p != "0" {
			return false
		}
		if num == "" || strings.Trim(num, "-0123456789.") != "" {
			return false
		}
	}
	return true
}

// Option sets a collaborator that exists in code only.
type Option func(*Optimizer)

// WithLogger sets the logger; default discards.
func WithLogger(l *slog.Logger) Option { return func(o *Optimizer) { o.log = l } }

// WithRouteOf names a request's route for learned hints and LCP hints;
// default: the ServeMux pattern when Middleware wraps a ServeMux, else the
// URL path.
func WithRouteOf(f func(*http.Request) string) Option { return func(o *Optimizer) { o.routeOf = f } }

// Optimizer rewrites HTML responses. Make it with New; it is safe for
// concurrent use, including Update, SetLCPHint and Stats while serving.
type Optimizer struct {
	opts    atomic.Pointer[compiled]
	log     *slog.Logger
	routeOf func(*http.Request) string

	images *imageSizes
	fonts  *fontCache
	routes routeMemory
	stats  counters
}

// compiled is Options with defaults applied and selectors parsed.
type compiled struct {
	Options
	root         fs.FS
	imgSel       selector
	compSel      selector
	lazyScript   []byte
	injectScript []byte
}

// New checks opts and builds an Optimizer. It starts nothing.
func New(opts Options, options ...Option) (*Optimizer, error) {
	o := &Optimizer{}
	for _, opt := range options {
		opt(o)
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	o.log = o.log.With("module", "web")
	o.images = newImageSizes(4096)
	o.fonts = newFontCache(256)
	if err := o.Update(opts); err != nil {
		return nil, err
	}
	return o, nil
}

// Update replaces the options for the requests that start from now on, so
// the engine can turn a filter on and undo it without a restart.
func (o *Optimizer) Update(opts Options) error {
	if err := opts.Validate(); err != nil {
		return err
	}
	c := &compiled{Options: opts.withDefaults()}
	c.root = c.Root
	if c.root == nil && c.Dir != "" {
		c.root = os.DirFS(c.Dir)
	}
	c.imgSel, _ = parseSelector(c.Lazy.ImageSelector)
	c.compSel, _ = parseSelector(c.Lazy.ComponentSelector)
	c.lazyScript = lazyScript(c.Lazy)
	if c.InjectScript != "" {
		c.injectScript = scriptElement(c.InjectScript)
	}
	o.routes.init(c.MaxRoutes)
	o.opts.Store(c)
	return nil
}

// Options returns the options in force, defaults filled in.
func (o *Optimizer) Options() Options { return o.opts.Load().Options }

// SetLCPHint tells the rewriter which element real users see as the
// largest contentful paint on route: an image URL ("/img/hero.jpg") or a
// CSS selector of the element ("img.hero", "#banner"). That image gets
// fetchpriority="high" and a preload and is never lazy-loaded; a hint that
// names no image keeps the guess from marking another one. An empty
// selectorOrURL forgets the hint.
func (o *Optimizer) SetLCPHint(route, selectorOrURL string) {
	o.routes.setLCP(route, selectorOrURL)
}

// Stats are the rewriter's counters since New.
type Stats struct {
	PagesRewritten uint64 `json:"pagesRewritten"`
	BytesIn        uint64 `json:"bytesIn"`
	BytesOut       uint64 `json:"bytesOut"`
	// PassedThrough counts responses left alone, by reason: "disabled",
	// "status", "content_type", "encoded", "no_transform", "method",
	// "range", "too_large". Degraded counts pages whose rest was passed
	// through after a token outgrew MaxTokenBytes or the rewriter failed.
	PassedThrough map[string]uint64 `json:"passedThrough"`
	Degraded      uint64            `json:"degraded"`

	ImagesSized       uint64 `json:"imagesSized"`
	ImagesLazy        uint64 `json:"imagesLazy"`
	ImagesPrioritized uint64 `json:"imagesPrioritized"`
	ScriptsDeferred   uint64 `json:"scriptsDeferred"`
	FontsSwapped      uint64 `json:"fontsSwapped"`
	FontFallbacks     uint64 `json:"fontFallbacks"`
	EarlyHints        uint64 `json:"earlyHints"`
	Injected          uint64 `json:"injected"`
}

// passReasons are the bounded labels of Stats.PassedThrough.
var passReasons = [...]string{"disabled", "status", "content_type", "encoded", "no_transform", "method", "range", "too_large"}

type passReason int

const (
	passDisabled passReason = iota
	passStatus
	passContentType
	passEncoded
	passNoTransform
	passMethod
	passRange
	passTooLarge
)

type counters struct {
	pages, in, out, degraded                atomic.Uint64
	passed                                  [len(passReasons)]atomic.Uint64
	sized, lazy, prio, deferred, swap, fall atomic.Uint64
	hints, injected                         atomic.Uint64
}

// Stats returns a snapshot of the counters.
func (o *Optimizer) Stats() Stats {
	c := &o.stats
	s := Stats{
		PagesRewritten: c.pages.Load(), BytesIn: c.in.Load(), BytesOut: c.out.Load(),
		Degraded: c.degraded.Load(), PassedThrough: make(map[string]uint64, len(passReasons)),
		ImagesSized: c.sized.Load(), ImagesLazy: c.lazy.Load(), ImagesPrioritized: c.prio.Load(),
		ScriptsDeferred: c.deferred.Load(), FontsSwapped: c.swap.Load(), FontFallbacks: c.fall.Load(),
		EarlyHints: c.hints.Load(), Injected: c.injected.Load(),
	}
	for i, r := range passReasons {
		s.PassedThrough[r] = c.passed[i].Load()
	}
	return s
}

// Middleware rewrites the HTML that next produces. Put it inside apiopt's
// middleware, so that compression and the cache see the rewritten page:
// apiopt.New(cfg).Middleware(webopt.Middleware(mux)).
func (o *Optimizer) Middleware(next http.Handler) http.Handler {
	routeOf := o.routeOf
	if routeOf == nil {
		if mux, ok := next.(*http.ServeMux); ok {
			routeOf = func(r *http.Request) string {
				if _, p := mux.Handler(r); p != "" {
					return p
				}
				return r.URL.Path
			}
		} else {
			routeOf = func(r *http.Request) string { return r.URL.Path }
		}
	}
	pool := sync.Pool{New: func() any { return new(writer) }}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := o.opts.Load()
		if c.Disabled {
			o.stats.passed[passDisabled].Add(1)
			next.ServeHTTP(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodPost {
			o.stats.passed[passMethod].Add(1)
			next.ServeHTTP(w, r)
			return
		}
		if r.Header.Get("Range") != "" {
			o.stats.passed[passRange].Add(1)
			next.ServeHTTP(w, r)
			return
		}
		route := routeOf(r)
		hinted := o.earlyHints(c, w, r, route)
		ww := pool.Get().(*writer)
		ww.reset(o, c, w, r, route, hinted)
		defer func() {
			ww.finish()
			ww.reset(nil, nil, nil, nil, "", false)
			pool.Put(ww)
		}()
		next.ServeHTTP(ww, r)
	})
}

// Middleware is New(opts).Middleware(next) for the zero-configuration case;
// it panics on invalid options, at construction, never per request.
func Middleware(opts Options) func(http.Handler) http.Handler {
	o, err := New(opts)
	if err != nil {
		panic(err)
	}
	return o.Middleware
}
