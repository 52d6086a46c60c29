// Package audit measures a page's Core Web Vitals in a real headless
// Chromium, the way Lighthouse's lab runs do, and names what to fix.
//
// Each run starts a fresh browser with an empty profile (so every run is a
// cold load), applies Lighthouse's mobile throttling through the DevTools
// protocol (150 ms round trip, 1.6 Mbps down, 750 kbps up, CPU slowed 4×),
// installs a PerformanceObserver before navigation, loads the page, lets it
// settle, and reads LCP (with its element), CLS (largest session window),
// FCP, TTFB and TBT, the lab's stand-in for INP, which needs a real user's
// input. A Report holds every run, the medians, and findings that point at
// elements: unsized images, render-blocking resources, a lazy-loaded LCP
// image, @font-face rules without font-display, and images below the fold
// fetched before any interaction.
package audit

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// Defaults of Options.
const (
	DefaultRuns    = 5
	DefaultTimeout = 90 * time.Second
	DefaultSettle  = 1500 * time.Millisecond
	// DefaultChromium is Debian's chromium package.
	DefaultChromium = "/usr/bin/chromium"
)

// Throttling profiles.
const (
	ThrottleLighthouse = "lighthouse"
	ThrottleNone       = "none"
)

// Lighthouse's mobile throttling.
const (
	LighthouseRTT        = 150 * time.Millisecond
	LighthouseDownBits   = 1.6e6 // per second
	LighthouseUpBits     = 750e3 // per second
	LighthouseCPUSlowing = 4
)

// ErrNoBrowser is returned when no Chromium binary can be found.
var ErrNoBrowser = errors.New("audit: no chromium browser found (apt-get install chromium, or set Options.Chromium)")

//go:embed observer.js
var observerJS string

//go:embed collect.js
var collectJS string

// Options configure an audit. The zero value runs DefaultRuns cold loads
// with Lighthouse throttling in DefaultChromium.
type Options struct {
	// Runs is how many cold loads are measured; default 5, at most 50.
	Runs int `json:"runs"`
	// Throttle is "lighthouse" (default) or "none".
	Throttle string `json:"throttle"`
	// Chromium is the browser binary; default $CHROMIUM, then
	// /usr/bin/chromium, then chromium or chromium-browser on $PATH.
	Chromium string `json:"chromium,omitempty"`
	// Timeout bounds one run; default 90s.
	Timeout time.Duration `json:"timeout"`
	// Settle is how long the audit waits after the load event for late
	// paints and shifts; default 1.5s.
	Settle time.Duration `json:"settle"`
	// IgnoreCertErrors accepts self-signed certificates, for HTTP/2 on a
	// test server.
	IgnoreCertErrors bool `json:"ignoreCertErrors,omitempty"`
	// Progress, when set, is called after each run.
	Progress func(done, total int) `json:"-"`
}

// Validate checks the options, naming the field and its range.
func (o Options) Validate() error {
	var errs []error
	if o.Runs < 0 || o.Runs > 50 {
		errs = append(errs, fmt.Errorf("runs %d: must be in 1..50", o.Runs))
	}
	if o.Throttle != "" && o.Throttle != ThrottleLighthouse && o.Throttle != ThrottleNone {
		errs = append(errs, fmt.Errorf("throttle %q: must be lighthouse or none", o.Throttle))
	}
	if o.Timeout < 0 || o.Settle < 0 {
		errs = append(errs, errors.New("timeout and settle must not be negative"))
	}
	return errors.Join(errs...)
}

// Vitals are one run's figures, or the medians over runs. Milliseconds,
// except CLS. A nil LCP means no LCP entry arrived.
type Vitals struct {
	LCP  *float64 `json:"lcp_ms"`
	CLS  float64  `json:"cls"`
	FCP  *float64 `json:"fcp_ms"`
	TTFB *float64 `json:"ttfb_ms"`
	TBT  float64  `json:"tbt_ms"`
	// HeroResponseEnd is when the hero image (the LCP image, else the
	// largest image above the fold) finished downloading, from navigation
	// start.
	HeroResponseEnd *float64 `json:"hero_response_end_ms"`
	// Bytes is what the page fetched before any interaction, as the
	// network counted it (headers and compressed bodies).
	Bytes int64 `json:"bytes"`
}

// RunResult is one cold load.
type RunResult struct {
	Vitals
	LCPElement string    `json:"lcp_element,omitempty"`
	LCPURL     string    `json:"lcp_url,omitempty"`
	Hero       string    `json:"hero,omitempty"`
	Findings   []Finding `json:"findings,omitempty"`
	Requests   int       `json:"requests"`
}

// Finding is a problem on the page with the element or resource to fix.
type Finding struct {
	Kind    string  `json:"kind"` // unsized_image, render_blocking, lazy_lcp, font_display, offscreen_image, no_lcp
	Element string  `json:"element,omitempty"`
	URL     string  `json:"url,omitempty"`
	Bytes   int64   `json:"bytes,omitempty"`
	Ms      float64 `json:"ms,omitempty"`
	Advice  string  `json:"advice"`
}

// Report is an audit's result.
type Report struct {
	URL      string      `json:"url"`
	Throttle string      `json:"throttle"`
	Browser  string      `json:"browser"`
	Runs     []RunResult `json:"runs"`
	Median   Vitals      `json:"median"`
	// LCPMissing counts runs without an LCP entry; the median LCP is then
	// over the others, and HeroResponseEnd is the figure to read.
	LCPMissing int       `json:"lcp_missing"`
	Findings   []Finding `json:"findings"`
}

// Run audits pageURL: opts.Runs cold loads, one after another.
func Run(ctx context.Context, pageURL string, opts Options) (*Report, error) {
	opts, bin, err := prepare(pageURL, opts)
	if err != nil {
		return nil, err
	}
	rep := &Report{URL: pageURL, Throttle: opts.Throttle, Browser: bin}
	for i := range opts.Runs {
		r, err := runOnce(ctx, bin, pageURL, opts)
		if err != nil {
			return nil, fmt.Errorf("audit run %d: %w", i+1, err)
		}
		rep.Runs = append(rep.Runs, r)
		if opts.Progress != nil {
			opts.Progress(i+1, opts.Runs)
		}
	}
	rep.Summarize()
	return rep, nil
}

// prepare checks the options and the page's URL, fills in the defaults
// and finds the browser.
func prepare(pageURL string, opts Options) (Options, string, error) {
	if err := opts.Validate(); err != nil {
		return opts, "", fmt.Errorf("audit: %w", err)
	}
	u, err := url.Parse(pageURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return opts, "", fmt.Errorf("audit: %q is not an absolute http(s) URL", pageURL)
	}
	if opts.Runs == 0 {
		opts.Runs = DefaultRuns
	}
	if opts.Throttle == "" {
		opts.Throttle = ThrottleLighthouse
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Settle == 0 {
		opts.Settle = DefaultSettle
	}
	bin, err := FindChromium(opts.Chromium)
	return opts, bin, err
}

// FindChromium returns the browser binary: path when set, else $CHROMIUM,
// DefaultChromium, or chromium / chromium-browser on $PATH.
func FindChromium(path string) (string, error) {
	for _, p := range []string{path, os.Getenv("CHROMIUM"), DefaultChromium} {
		if p == "" {
			continue
		}
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
		if path != "" {
			return "", fmt.Errorf("%w: %s", ErrNoBrowser, path)
		}
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", ErrNoBrowser
}

// Emulated device: Lighthouse's mobile viewport.
const (
	viewportW, viewportH = 412, 823
	deviceScale          = 1.75
)

// networkConditions are the parameters of Network.emulateNetworkConditions,
// which the cdproto release we use no longer lists: the protocol marks it
// deprecated for Network.emulateNetworkConditionsByRule, and current
// Chromium accepts it without throttling anything.
type networkConditions struct {
	Offline            bool    `json:"offline"`
	Latency            float64 `json:"latency"`
	DownloadThroughput float64 `json:"downloadThroughput"`
	UploadThroughput   float64 `json:"uploadThroughput"`
}

var emulateNetworkConditions = cdp.Command[networkConditions, cdp.Empty]{Method: "Network.emulateNetworkConditions"}

// throttleNetwork applies Lighthouse's network profile to every request:
// through the per-rule command (an empty pattern matches all), falling back
// to the old global command on a browser that predates it.
func throttleNetwork(ctx context.Context, t *chromedp.Target) error {
	lat, down, up := float64(LighthouseRTT/time.Millisecond), LighthouseDownBits/8, LighthouseUpBits/8
	_, err := cdp.Call(ctx, t, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
		MatchedNetworkConditions: []*network.Conditions{{Latency: lat, DownloadThroughput: down, UploadThroughput: up}},
	})
	if err == nil {
		return nil
	}
	if _, err2 := cdp.Call(ctx, t, emulateNetworkConditions, networkConditions{Latency: lat, DownloadThroughput: down, UploadThroughput: up}); err2 != nil {
		return fmt.Errorf("throttle network: %w", errors.Join(err, err2))
	}
	return nil
}

// startBrowser starts a headless Chromium with an empty profile and
// returns its context and what stops it and removes the profile.
func startBrowser(parent context.Context, bin string, opts Options) (context.Context, func(), error) {
	dir, err := os.MkdirTemp("", "perfengine-audit-")
	if err != nil {
		return nil, nil, fmt.Errorf("create profile dir: %w", err)
	}
	flags := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.UserDataDir(dir),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-features", "Translate,MediaRouter,OptimizationHints"),
		chromedp.WindowSize(viewportW, viewportH),
	}
	if opts.IgnoreCertErrors {
		flags = append(flags, chromedp.IgnoreCertErrors)
	}
	actx, cancelA := chromedp.NewExecAllocator(parent, flags...)
	bctx, cancelB := chromedp.NewContext(actx)
	stop := func() {
		cancelB()
		cancelA()
		os.RemoveAll(dir)
	}
	// Start the browser on a context without deadline: a timeout on the
	// first Run would bound the browser's life, not the run.
	if err := chromedp.Do(bctx); err != nil {
		stop()
		return nil, nil, fmt.Errorf("start %s: %w", bin, err)
	}
	return bctx, stop, nil
}

func runOnce(parent context.Context, bin, pageURL string, opts Options) (RunResult, error) {
	bctx, stop, err := startBrowser(parent, bin, opts)
	if err != nil {
		return RunResult{}, err
	}
	defer stop()
	ctx, cancel := context.WithTimeout(bctx, opts.Timeout)
	defer cancel()

	net := &netLog{urls: map[network.RequestID]string{}, finished: map[string]float64{}}
	if err := chromedp.Listen(ctx, net.event); err != nil {
		return RunResult{}, fmt.Errorf("listen: %w", err)
	}
	setup := chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, network.Enable, network.EnableParams{}); err != nil {
			return fmt.Errorf("enable network: %w", err)
		}
		if _, err := cdp.Call(ctx, t, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
			Width: viewportW, Height: viewportH, DeviceScaleFactor: deviceScale, Mobile: true,
		}); err != nil {
			return fmt.Errorf("emulate device: %w", err)
		}
		if opts.Throttle == ThrottleLighthouse {
			if err := throttleNetwork(ctx, t); err != nil {
				return err
			}
			if _, err := cdp.Call(ctx, t, emulation.SetCPUThrottlingRate, emulation.SetCPUThrottlingRateParams{Rate: LighthouseCPUSlowing}); err != nil {
				return fmt.Errorf("throttle CPU: %w", err)
			}
		}
		if _, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: observerJS}); err != nil {
			return fmt.Errorf("install observer: %w", err)
		}
		return nil
	})
	if err := chromedp.Do(ctx, setup, chromedp.Navigate(pageURL), chromedp.Sleep(opts.Settle)); err != nil {
		return RunResult{}, fmt.Errorf("load %s: %w", pageURL, err)
	}
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](collectJS))
	if err != nil {
		return RunResult{}, fmt.Errorf("read metrics: %w", err)
	}
	var got struct {
		LCP *struct {
			T    float64 `json:"t"`
			Sel  string  `json:"sel"`
			URL  string  `json:"url"`
			Lazy bool    `json:"lazy"`
		} `json:"lcp"`
		CLS             float64   `json:"cls"`
		FCP             *float64  `json:"fcp"`
		TBT             float64   `json:"tbt"`
		TTFB            *float64  `json:"ttfb"`
		Hero            string    `json:"hero"`
		HeroResponseEnd *float64  `json:"heroResponseEnd"`
		Findings        []Finding `json:"findings"`
	}
	if err := json.Unmarshal([]byte(raw), &got); err != nil {
		return RunResult{}, fmt.Errorf("decode metrics: %w", err)
	}
	net.mu.Lock()
	r := RunResult{Vitals: Vitals{CLS: got.CLS, FCP: got.FCP, TTFB: got.TTFB, TBT: got.TBT, HeroResponseEnd: got.HeroResponseEnd, Bytes: net.bytes}, Requests: net.requests, Hero: got.Hero}
	// The emulated latency and bandwidth sit between the network stack and
	// the page, and Navigation and Resource Timing report times from before
	// them; the protocol's timestamps are the ones the throttled page sees.
	if net.docStart > 0 && net.docResponse > 0 {
		ttfb := (net.docResponse - net.docStart) * 1000
		r.TTFB = &ttfb
	}
	if end, ok := net.finished[got.Hero]; ok && net.docStart > 0 {
		he := (end - net.docStart) * 1000
		r.HeroResponseEnd = &he
	}
	net.mu.Unlock()
	if got.LCP != nil {
		r.LCP, r.LCPElement, r.LCPURL = &got.LCP.T, got.LCP.Sel, got.LCP.URL
	}
	r.Findings = got.Findings
	return r, nil
}

// netLog gathers the protocol's view of the load: bytes, requests, the
// document's request and response times, and when each URL finished.
// Timestamps are the protocol's monotonic seconds.
type netLog struct {
	mu                    sync.Mutex
	bytes                 int64
	requests              int
	docID                 network.RequestID
	docStart, docResponse float64
	urls                  map[network.RequestID]string
	finished              map[string]float64
}

func (n *netLog) event(ev any) {
	n.mu.Lock()
	defer n.mu.Unlock()
	switch e := ev.(type) {
	case *network.EventRequestWillBeSent:
		if e.Request == nil {
			return
		}
		if n.docID == "" && e.Type == network.ResourceTypeDocument {
			n.docID, n.docStart = e.RequestID, e.Timestamp.Float64()
		}
		n.urls[e.RequestID] = e.Request.URL
	case *network.EventResponseReceived:
		if e.RequestID == n.docID && n.docResponse == 0 {
			n.docResponse = e.Timestamp.Float64()
		}
	case *network.EventLoadingFinished:
		n.bytes += int64(e.EncodedDataLength)
		n.requests++
		if u, ok := n.urls[e.RequestID]; ok {
			n.finished[u] = e.Timestamp.Float64()
		}
	}
}

// Summarize computes Median, LCPMissing and Findings from Runs. Run calls
// it; call it on a Report assembled from the runs of several audits (runs
// interleaved with other pages, say).
func (rep *Report) Summarize() {
	rep.LCPMissing = 0
	var lcp, fcp, ttfb, hero, cls, tbt, bytes []float64
	for _, r := range rep.Runs {
		if r.LCP != nil {
			lcp = append(lcp, *r.LCP)
		} else {
			rep.LCPMissing++
		}
		if r.FCP != nil {
			fcp = append(fcp, *r.FCP)
		}
		if r.TTFB != nil {
			ttfb = append(ttfb, *r.TTFB)
		}
		if r.HeroResponseEnd != nil {
			hero = append(hero, *r.HeroResponseEnd)
		}
		cls = append(cls, r.CLS)
		tbt = append(tbt, r.TBT)
		bytes = append(bytes, float64(r.Bytes))
	}
	rep.Median = Vitals{LCP: medianPtr(lcp), FCP: medianPtr(fcp), TTFB: medianPtr(ttfb), HeroResponseEnd: medianPtr(hero)}
	rep.Median.CLS, rep.Median.TBT = Median(cls), Median(tbt)
	rep.Median.Bytes = int64(Median(bytes))
	rep.Findings = mergeFindings(rep)
}

// Median of xs (the mean of the middle two for an even count); 0 for none.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

func medianPtr(xs []float64) *float64 {
	if len(xs) == 0 {
		return nil
	}
	m := Median(xs)
	return &m
}

var advice = map[string]string{
	"unsized_image":    "give the image width and height attributes (its intrinsic size) so the layout does not shift when it loads",
	"render_blocking":  "the resource blocks the first paint: inline the critical CSS, or load it with defer/async/media",
	"lazy_lcp":         "the LCP image is lazy-loaded: remove loading=\"lazy\" and give it fetchpriority=\"high\"",
	"font_display":     "add font-display: swap to the @font-face rule so text shows before the font arrives",
	"offscreen_image":  "the image is below the fold but fetched before any interaction: add loading=\"lazy\"",
	"no_lcp":           "no LCP entry arrived (no contentful paint was recorded); read the hero's responseEnd instead",
	"heavy_first_load": "the page fetched many bytes before any interaction: lazy-load what is below the fold and compress images",
}

// mergeFindings keeps each (kind, element, url) once, from the runs in
// order, with the largest bytes seen, and adds report-level ones.
func mergeFindings(rep *Report) []Finding {
	type key struct{ kind, el, url string }
	seen := map[key]int{}
	var out []Finding
	for _, r := range rep.Runs {
		for _, f := range r.Findings {
			k := key{f.Kind, f.Element, f.URL}
			if i, ok := seen[k]; ok {
				out[i].Bytes = max(out[i].Bytes, f.Bytes)
				out[i].Ms = max(out[i].Ms, f.Ms)
				continue
			}
			seen[k] = len(out)
			f.Advice = advice[f.Kind]
			out = append(out, f)
		}
	}
	if rep.LCPMissing > 0 {
		f := Finding{Kind: "no_lcp", Advice: advice["no_lcp"]}
		if rep.Median.HeroResponseEnd != nil {
			f.Ms = *rep.Median.HeroResponseEnd
		}
		if len(rep.Runs) > 0 {
			f.URL = rep.Runs[0].Hero
		}
		out = append(out, f)
	}
	// More than Lighthouse's "enormous payload" warning level, 1.6 MB.
	if rep.Median.Bytes > 1_600_000 {
		out = append(out, Finding{Kind: "heavy_first_load", Bytes: rep.Median.Bytes, Advice: advice["heavy_first_load"]})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Kind < out[j].Kind })
	return out
}
