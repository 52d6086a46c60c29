package perfengine

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/perfengine/perfengine/metrics"
)

// counterConfig is the section of the custom module "counter".
type counterConfig struct {
	Step   int      `yaml:"step" json:"step"`
	Labels []string `yaml:"labels" json:"labels"`
	Secret string   `yaml:"secret" json:"secret" perfengine:"secret"`
	Every  Duration `yaml:"every" json:"every"`
}

func (c counterConfig) Validate() error {
	if c.Step < 1 {
		return &ConfigError{Field: "step", Value: itoa(c.Step), Err: errors.New("must be at least 1")}
	}
	return nil
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// counterModule counts by its step each cycle; the count is the state a
// reconfiguration in place must keep.
type counterModule struct {
	name    string
	step    atomic.Int64
	count   atomic.Int64
	running atomic.Bool
}

func (m *counterModule) Name() string { return m.name }
func (m *counterModule) Collect(context.Context) ([]metrics.Sample, error) {
	return []metrics.Sample{{Name: m.name + "_count", Value: float64(m.count.Add(m.step.Load()))}}, nil
}
func (m *counterModule) Recommend(context.Context, Snapshot) ([]Action, error) { return nil, nil }
func (m *counterModule) Apply(context.Context, Action) (Result, error)         { return Result{}, nil }
func (m *counterModule) Start(context.Context) error                           { m.running.Store(true); return nil }
func (m *counterModule) Stop(context.Context) error                            { m.running.Store(false); return nil }

// reconfigurableCounter is a counterModule that takes a new section in place.
type reconfigurableCounter struct{ *counterModule }

func (m reconfigurableCounter) Reconfigure(c counterConfig) error {
	m.step.Store(int64(c.Step))
	return nil
}

func init() {
	RegisterModule(CustomModule[counterConfig]{
		Name:     "counter",
		Defaults: counterConfig{Step: 1},
		Off:      true,
		New: func(c counterConfig) (Module, error) {
			m := &counterModule{name: "counter"}
			m.step.Store(int64(c.Step))
			return reconfigurableCounter{m}, nil
		},
	})
	// rebuilt has no Reconfigure: a new section builds it anew.
	RegisterModule(CustomModule[counterConfig]{
		Name:     "rebuilt",
		Defaults: counterConfig{Step: 1},
		Off:      true,
		New: func(c counterConfig) (Module, error) {
			m := &counterModule{name: "rebuilt"}
			m.step.Store(int64(c.Step))
			return m, nil
		},
	})
}

func TestCustomSectionLoadsLikeABuiltInOne(t *testing.T) {
	path := filepath.Join(t.TempDir(), "perfengine.yaml")
	doc := "modules:\n  counter: true\n  memory: false\ncustom:\n  counter:\n    labels: [a, b]\n    every: 2s\n"
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, origins, err := LoadConfigFrom(path, env(map[string]string{"PERFENGINE_CUSTOM_COUNTER_STEP": "5"}))
	if err != nil {
		t.Fatal(err)
	}
	got, ok := CustomSection[counterConfig](cfg, "counter")
	want := counterConfig{Step: 5, Labels: []string{"a", "b"}, Every: Duration(2e9)}
	if !ok || got.Step != want.Step || strings.Join(got.Labels, ",") != "a,b" || got.Every != want.Every {
		t.Errorf("custom.counter = %+v, want %+v (file, then environment)", got, want)
	}
	if !cfg.enabled("counter") || cfg.enabled("rebuilt") || cfg.Modules.Memory {
		t.Errorf("toggles: counter %v rebuilt %v memory %v, want true false false",
			cfg.enabled("counter"), cfg.enabled("rebuilt"), cfg.Modules.Memory)
	}
	for key, want := range map[string]Origin{
		"modules.counter": OriginFile, "custom.counter.labels": OriginFile,
		"custom.counter.step": OriginEnv, "custom.counter.secret": OriginDefault,
	} {
		if o := origins.Of(key); o != want {
			t.Errorf("origin of %s = %s, want %s", key, o, want)
		}
	}
}

func TestCustomSectionErrorsNameTheField(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{"custom:\n  counter:\n    stepp: 2\n", "custom.counter.stepp: is not a configuration key; did you mean custom.counter.step?"},
		{"custom:\n  countr: {step: 2}\n", "custom.countr: is not a configuration key; did you mean custom.counter?"},
		{"modules:\n  countr: true\n", "modules.countr: is not a configuration key; did you mean modules.counter?"},
		{"custom:\n  counter:\n    every: soon\n", "custom.counter.every=soon: must be a duration"},
		{"custom:\n  counter:\n    step: 0\n", "custom.counter.step=0: must be at least 1"},
		{"modules:\n  counter: often\n", "modules.counter: must be true or false"},
		{"custom:\n  counter:\n    labels: {a: 1}\n", "custom.counter"},
	} {
		c := DefaultConfig()
		err := c.UnmarshalYAMLBytes([]byte(tc.doc))
		if err == nil {
			err = c.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%q: error %v, want one containing %q", tc.doc, err, tc.want)
		}
	}
	c := DefaultConfig()
	if err := c.SetCustom("counter", "step: 2"); err == nil {
		t.Error("SetCustom took a section of the wrong type")
	}
	if err := c.Modules.SetModule("nosuch", true); err == nil {
		t.Error("SetModule took a module that does not exist")
	}
}

func TestRegisterModuleRefusesMistakes(t *testing.T) {
	for name, m := range map[string]CustomModule[counterConfig]{
		"duplicate":   {Name: "counter", New: func(counterConfig) (Module, error) { return nil, nil }},
		"built-in":    {Name: "database", New: func(counterConfig) (Module, error) { return nil, nil }},
		"malformed":   {Name: "cache-warmer", New: func(counterConfig) (Module, error) { return nil, nil }},
		"without New": {Name: "fresh"},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: RegisterModule did not panic", name)
				}
			}()
			RegisterModule(m)
		}()
	}
}

func TestUpdateConfigReachesCustomModules(t *testing.T) {
	e, clk := startTestEngine(t, DefaultConfig())
	if e.module("counter") != nil {
		t.Fatal("a custom module that is off by default was built")
	}

	on := e.Config()
	if err := on.Modules.SetModule("counter", true); err != nil {
		t.Fatal(err)
	}
	on.Modules.SetModule("rebuilt", true)
	if err := e.UpdateConfig(on); err != nil {
		t.Fatal(err)
	}
	ms := e.module("counter")
	if ms == nil || !ms.started {
		t.Fatalf("counter turned on while running: %+v, want built and started", ms)
	}
	e.step(clk)
	e.step(clk)
	if got := e.Summary().Metrics["counter_count"]; got != 2 {
		t.Errorf("counter_count after two cycles = %v, want 2", got)
	}

	// A new section reconfigures counter in place (its count goes on) and
	// builds rebuilt anew (its count starts over).
	next := e.Config()
	section, _ := CustomSection[counterConfig](next, "counter")
	section.Step = 10
	next.SetCustom("counter", section)
	next.SetCustom("rebuilt", section)
	before := e.module("rebuilt").m
	if err := e.UpdateConfig(next); err != nil {
		t.Fatal(err)
	}
	if e.module("counter").m != ms.m {
		t.Error("counter was rebuilt, want it reconfigured in place")
	}
	if e.module("rebuilt").m == before {
		t.Error("rebuilt, which cannot reconfigure, kept its old instance")
	}
	e.step(clk)
	if got := e.Summary().Metrics["counter_count"]; got != 12 {
		t.Errorf("counter_count = %v, want 12: the count kept, the new step applied", got)
	}
	if got := e.Summary().Metrics["rebuilt_count"]; got != 10 {
		t.Errorf("rebuilt_count = %v, want 10 from a fresh module", got)
	}
	if bad := next; bad.SetCustom("counter", counterConfig{Step: -1}) == nil {
		if err := e.UpdateConfig(bad); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("UpdateConfig(step -1) = %v, want it refused", err)
		}
	}

	off := e.Config()
	off.Modules.SetModule("counter", false)
	if err := e.UpdateConfig(off); err != nil {
		t.Fatal(err)
	}
	c := ms.m.(reconfigurableCounter)
	if c.running.Load() {
		t.Error("counter turned off but still running")
	}
	e.step(clk)
	if got := c.count.Load(); got != 12 {
		t.Errorf("counter counted to %d while off, want 12", got)
	}
}

func TestCustomSectionsAreShownAndRedacted(t *testing.T) {
	c := DefaultConfig()
	c.Modules.SetModule("counter", true)
	c.SetCustom("counter", counterConfig{Step: 2, Secret: "hunter2"})

	js, err := json.Marshal(c.Redacted())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"counter":true`, `"rebuilt":false`, `"custom":{`, `"step":2`} {
		if !strings.Contains(string(js), want) {
			t.Errorf("JSON lacks %s: %s", want, js)
		}
	}
	if strings.Contains(string(js), "hunter2") {
		t.Errorf("JSON shows the secret: %s", js)
	}
	if s, _ := CustomSection[counterConfig](c, "counter"); s.Secret != "hunter2" {
		t.Error("Redacted changed the configuration it was called on")
	}

	// What is written reads back the same.
	doc, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	back := DefaultConfig()
	if err := back.UnmarshalYAMLBytes(doc); err != nil {
		t.Fatalf("read back: %v\n%s", err, doc)
	}
	if s, _ := CustomSection[counterConfig](back, "counter"); s.Step != 2 || s.Secret != "hunter2" || !back.enabled("counter") {
		t.Errorf("read back %+v (counter on: %v), want step 2 and on", s, back.enabled("counter"))
	}
}
