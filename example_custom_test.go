package perfengine_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/perfengine/perfengine"
	"github.com/perfengine/perfengine/metrics"
)

// WarmerConfig is the section custom.cacheWarmer of the configuration.
type WarmerConfig struct {
	BaseURL string              `yaml:"baseURL" json:"baseURL"`
	Paths   []string            `yaml:"paths" json:"paths"`
	Timeout perfengine.Duration `yaml:"timeout" json:"timeout"`
}

// Validate is called on every load and every UpdateConfig.
func (c WarmerConfig) Validate() error {
	var errs []error
	if u, err := url.Parse(c.BaseURL); err != nil || u.Host == "" {
		errs = append(errs, &perfengine.ConfigError{Field: "baseURL", Value: c.BaseURL, Err: errors.New("must be an absolute URL")})
	}
	for _, p := range c.Paths {
		if !strings.HasPrefix(p, "/") {
			errs = append(errs, &perfengine.ConfigError{Field: "paths", Value: p, Err: errors.New(`must start with "/"`)})
		}
	}
	return errors.Join(errs...)
}

// Warmer requests the service's hottest pages every cycle, so that its
// caches are warm when users come, and reports how long each took.
type Warmer struct {
	cfg    atomic.Pointer[WarmerConfig]
	client http.Client
}

func newWarmer(c WarmerConfig) (perfengine.Module, error) {
	w := &Warmer{}
	return w, w.Reconfigure(c)
}

// Reconfigure applies a changed section in place.
func (w *Warmer) Reconfigure(c WarmerConfig) error {
	w.cfg.Store(&c)
	return nil
}

func (w *Warmer) Name() string { return "cacheWarmer" }

func (w *Warmer) Collect(ctx context.Context) ([]metrics.Sample, error) {
	c := w.cfg.Load()
	var out []metrics.Sample
	for _, p := range c.Paths {
		rctx, cancel := context.WithTimeout(ctx, c.Timeout.D())
		req, _ := http.NewRequestWithContext(rctx, http.MethodGet, c.BaseURL+p, nil)
		start := time.Now()
		resp, err := w.client.Do(req)
		cancel()
		if err != nil {
			return out, err
		}
		resp.Body.Close()
		out = append(out, metrics.Sample{Name: "warmer_latency_ms", Unit: metrics.UnitMilliseconds,
			Value: float64(time.Since(start).Microseconds()) / 1000, Labels: map[string]string{"path": p}})
	}
	return out, nil
}

func (w *Warmer) Recommend(context.Context, perfengine.Snapshot) ([]perfengine.Action, error) {
	return nil, nil
}

func (w *Warmer) Apply(context.Context, perfengine.Action) (perfengine.Result, error) {
	return perfengine.Result{}, errors.New("the cache warmer proposes no actions")
}

func init() {
	perfengine.RegisterModule(perfengine.CustomModule[WarmerConfig]{
		Name:     "cacheWarmer",
		Defaults: WarmerConfig{BaseURL: "http://127.0.0.1:8080", Paths: []string{"/"}, Timeout: perfengine.Duration(5 * time.Second)},
		Off:      true, // until modules.cacheWarmer turns it on
		New:      newWarmer,
	})
}

// A custom optimizer brings its own configuration: the toggle
// modules.cacheWarmer and the section custom.cacheWarmer, decoded strictly,
// validated, and applied to the running engine by UpdateConfig.
func ExampleRegisterModule() {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()

	cfg := perfengine.DefaultConfig()
	fmt.Println(cfg.UnmarshalYAMLBytes([]byte("custom:\n  cacheWarmer:\n    pathz: [/]\n")))
	err := cfg.UnmarshalYAMLBytes([]byte(`
modules:
  cacheWarmer: true
custom:
  cacheWarmer:
    baseURL: ` + srv.URL + `
    paths: [/, /products, /cart]
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	section, _ := perfengine.CustomSection[WarmerConfig](cfg, "cacheWarmer")
	fmt.Println("paths:", section.Paths, "timeout:", section.Timeout)

	dir, _ := os.MkdirTemp("", "perfengine-example")
	defer os.RemoveAll(dir)
	cfg.Store.DataDir = dir
	eng, err := perfengine.New(cfg, perfengine.WithRegisterer(prometheus.NewRegistry()))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	if err := eng.Start(ctx); err != nil { // runs the first cycle
		fmt.Println(err)
		return
	}
	defer eng.Stop(ctx)
	fmt.Println("requests in the first cycle:", hits.Load())

	bad := eng.Config()
	section.Paths = []string{"products"}
	bad.SetCustom("cacheWarmer", section)
	fmt.Println(eng.UpdateConfig(bad))
	// Output:
	// invalid configuration: custom.cacheWarmer.pathz: is not a configuration key; did you mean custom.cacheWarmer.paths?
	// paths: [/ /products /cart] timeout: 5s
	// requests in the first cycle: 3
	// invalid configuration: custom.cacheWarmer.paths=products: must start with "/"
}

// CustomSection reads a custom module's section, typed; SetCustom and
// SetModule change it on a copy of the configuration.
func ExampleCustomSection() {
	cfg := perfengine.DefaultConfig()
	w, _ := perfengine.CustomSection[WarmerConfig](cfg, "cacheWarmer")
	w.Paths = append(w.Paths, "/cart")
	next := cfg
	next.SetCustom("cacheWarmer", w)
	next.Modules.SetModule("cacheWarmer", true)

	before, _ := perfengine.CustomSection[WarmerConfig](cfg, "cacheWarmer")
	after, _ := perfengine.CustomSection[WarmerConfig](next, "cacheWarmer")
	fmt.Println(before.Paths, "→", after.Paths, "| on:", next.Modules.Custom["cacheWarmer"])
	// Output:
	// [/] → [/ /cart] | on: true
}
