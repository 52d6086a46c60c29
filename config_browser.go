package perfengine

import (
	"time"

	"github.com/perfengine/perfengine/webopt"
)

// BrowserConfig configures the browser module (package webopt): the HTML
// rewriter's filters and the real-user Core Web Vitals collector. Zero
// values mean the defaults noted on each field.
type BrowserConfig struct {
	// RewriteDisabled passes every page through the rewriter untouched.
	RewriteDisabled bool `yaml:"rewriteDisabled" json:"rewriteDisabled"`
	// StaticDir holds the site's images and fonts, served at StaticPrefix
	// (default "/"), so their sizes and metrics can be read. Empty: none.
	StaticDir    string `yaml:"staticDir" json:"staticDir"`
	StaticPrefix string `yaml:"staticPrefix" json:"staticPrefix"`
	// AboveFold is how many of a page's first images are LCP candidates,
	// never lazy-loaded; default 3.
	AboveFold int `yaml:"aboveFold" json:"aboveFold"`
	// LazyLoading is the seed's block; off unless enabled.
	LazyLoading LazyLoadingConfig `yaml:"lazyLoading" json:"lazyLoading"`
	// DeferScripts adds defer to classic external scripts. Opt-in: it
	// breaks pages that rely on script order or document.write.
	DeferScripts bool `yaml:"deferScripts" json:"deferScripts"`
	// EarlyHints sends 103 Early Hints over HTTP/2; opt-in.
	// EarlyHintsBudget bounds their bytes (the LCP image aside); default
	// 100 KiB.
	EarlyHints       bool  `yaml:"earlyHints" json:"earlyHints"`
	EarlyHintsBudget int64 `yaml:"earlyHintsBudget" json:"earlyHintsBudget"`

	// RUMDisabled stops injecting the collector script.
	RUMDisabled bool `yaml:"rumDisabled" json:"rumDisabled"`
	// BeaconPath is where beacons are POSTed; default "/_perfengine/rum".
	BeaconPath string `yaml:"beaconPath" json:"beaconPath"`
	// RUMMaxRoutes bounds the routes whose vitals are kept (more count as
	// "other"); default 100.
	RUMMaxRoutes int `yaml:"rumMaxRoutes" json:"rumMaxRoutes"`
	// RUMWindow is the history a p75 covers; default 10m.
	RUMWindow Duration `yaml:"rumWindow" json:"rumWindow"`
	// MinViews is how many page views a route needs before the module
	// recommends anything from its vitals; default 5.
	MinViews int `yaml:"minViews" json:"minViews"`
}

// LazyLoadingConfig is the seed's lazy-loading section.
type LazyLoadingConfig struct {
	Enabled bool `yaml:"enabled" json:"enabled"`
	// RootMargin of the IntersectionObserver; default "50px".
	RootMargin string `yaml:"rootMargin" json:"rootMargin"`
	// Threshold of the IntersectionObserver, 0..1; default 0.1.
	Threshold float64 `yaml:"threshold" json:"threshold"`
	// ImageSelector default "img[data-src]"; ComponentSelector default
	// "[data-lazy-component]".
	ImageSelector     string `yaml:"imageSelector" json:"imageSelector"`
	ComponentSelector string `yaml:"componentSelector" json:"componentSelector"`
	// FadeInDuration in milliseconds (a bare number, as in the seed) or a
	// duration; default 300ms.
	FadeInDuration Duration `yaml:"fadeInDuration" json:"fadeInDuration"`
}

// DefaultBrowserMinViews is BrowserConfig.MinViews' default.
const DefaultBrowserMinViews = 5

// defaultBrowserConfig spells out webopt's defaults, so that
// `perfengine config defaults` shows what a zero value would mean.
func defaultBrowserConfig() BrowserConfig {
	return BrowserConfig{
		AboveFold:        webopt.DefaultAboveFold,
		LazyLoading:      defaultLazyLoading(),
		EarlyHintsBudget: webopt.DefaultEarlyHintsBudget,
		BeaconPath:       webopt.DefaultBeaconPath,
		RUMMaxRoutes:     webopt.DefaultCollectorMaxRoutes,
		RUMWindow:        Duration(webopt.DefaultWindow),
		MinViews:         DefaultBrowserMinViews,
	}
}

// defaultLazyLoading is the seed's lazy-loading block: off, with the
// IntersectionObserver settings it names.
func defaultLazyLoading() LazyLoadingConfig {
	return LazyLoadingConfig{
		RootMargin: webopt.DefaultRootMargin, Threshold: webopt.DefaultThreshold,
		ImageSelector: webopt.DefaultImageSelector, ComponentSelector: webopt.DefaultComponentSelector,
		FadeInDuration: Duration(webopt.DefaultFadeInDuration),
	}
}

// IsDefault reports whether the block is the seed's default,
// untouched by the user: the demo turns lazy loading on then.
func (c LazyLoadingConfig) IsDefault() bool {
	return c == defaultLazyLoading() || c == (LazyLoadingConfig{})
}

// RewriterOptions are the webopt.Options the section describes.
func (c BrowserConfig) RewriterOptions() webopt.Options {
	o := webopt.Options{
		Disabled: c.RewriteDisabled, Dir: c.StaticDir, StaticPrefix: c.StaticPrefix,
		Lazy: webopt.LazyOptions{
			Enabled: c.LazyLoading.Enabled, RootMargin: c.LazyLoading.RootMargin, Threshold: c.LazyLoading.Threshold,
			ImageSelector: c.LazyLoading.ImageSelector, ComponentSelector: c.LazyLoading.ComponentSelector,
			FadeInDuration: c.LazyLoading.FadeInDuration.D(),
		},
		Scripts: webopt.ScriptOptions{Defer: c.DeferScripts},
		Hints:   webopt.HintOptions{EarlyHints: c.EarlyHints, EarlyHintsBudget: c.EarlyHintsBudget},
	}
	o.Images.AboveFold = c.AboveFold
	return o
}

// CollectorOptions are the webopt.CollectorOptions the section describes.
func (c BrowserConfig) CollectorOptions() webopt.CollectorOptions {
	return webopt.CollectorOptions{Path: c.BeaconPath, MaxRoutes: c.RUMMaxRoutes, Window: time.Duration(c.RUMWindow)}
}

func (c BrowserConfig) validate(p *problems) {
	if err := c.RewriterOptions().Validate(); err != nil {
		p.add("browser", nil, "%v", err)
	}
	if err := c.CollectorOptions().Validate(); err != nil {
		p.add("browser", nil, "%v", err)
	}
	if c.MinViews < 0 {
		p.add("browser.minViews", c.MinViews, "must not be negative")
	}
	if c.EarlyHintsBudget < 0 {
		p.add("browser.earlyHintsBudget", c.EarlyHintsBudget, "must not be negative")
	}
}
