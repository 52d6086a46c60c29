package perfengine

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
)

// Defaults, as the seed configuration has them.
const (
	DefaultMonitoringInterval = 30 * time.Second
	DefaultModuleTimeout      = 10 * time.Second
	DefaultCPUWarning         = 70   // percent of the machine
	DefaultCPUCritical        = 90   //
	DefaultMemoryWarning      = 0.80 // fraction of the memory limit
	DefaultMemoryCritical     = 0.95 //
	DefaultLatencyWarning     = 1000 // p95 milliseconds
	DefaultLatencyCritical    = 2000 //
	DefaultThroughputWarning  = 100  // requests per second; lower is worse
	DefaultThroughputCritical = 50   //
	DefaultErrorRateWarning   = 0.01 // fraction of requests
	DefaultErrorRateCritical  = 0.05 //
	DefaultHysteresis         = 0.10 // fraction of a threshold to cross back
)

// Config is the whole configuration of an engine. The zero value of every
// field means its default; DefaultConfig returns them filled in. Load it
// with LoadConfig (YAML, then the environment) and check it with Validate.
type Config struct {
	// Enabled turns monitoring on. Env PERFORMANCE_MONITORING_ENABLED.
	Enabled bool `yaml:"enabled" json:"enabled"`
	// AutoOptimize lets the engine apply safe actions by itself.
	// Env AUTO_OPTIMIZATION_ENABLED.
	AutoOptimize bool `yaml:"autoOptimize" json:"autoOptimize"`
	// AggressiveMode also applies moderate actions. Env AGGRESSIVE_OPTIMIZATION.
	AggressiveMode bool `yaml:"aggressiveMode" json:"aggressiveMode"`
	// MonitoringInterval between collections; default 30s. A bare number is
	// milliseconds, as in the seed. Env PERFORMANCE_MONITORING_INTERVAL.
	MonitoringInterval Duration `yaml:"monitoringInterval" json:"monitoringInterval"`
	// ModuleTimeout bounds one module's Collect; default 10s.
	ModuleTimeout Duration `yaml:"moduleTimeout" json:"moduleTimeout"`
	// Version of the service being watched, used to tag baselines.
	// Env PERFENGINE_VERSION.
	Version string `yaml:"version" json:"version"`
	// Debug logs every cycle's decisions at debug level (what was collected,
	// which threshold was crossed, why an action was or was not applied),
	// whatever the logger's own level, as the seed's debug mode does.
	Debug bool `yaml:"debug" json:"debug"`

	Thresholds Thresholds    `yaml:"thresholds" json:"thresholds"`
	Modules    ModuleToggles `yaml:"modules" json:"modules"`

	Database   DatabaseConfig   `yaml:"database" json:"database"`
	API        APIConfig        `yaml:"api" json:"api"`
	Memory     MemoryConfig     `yaml:"memory" json:"memory"`
	Network    NetworkConfig    `yaml:"network" json:"network"`
	Browser    BrowserConfig    `yaml:"browser" json:"browser"`
	Regression RegressionConfig `yaml:"regression" json:"regression"`
	Alerts     AlertsConfig     `yaml:"alerts" json:"alerts"`
	// AutoScaling is the seed's autoscaler; a dry run until enabled.
	AutoScaling AutoScalingConfig `yaml:"autoScaling" json:"autoScaling"`
	Server      ServerConfig      `yaml:"server" json:"server"`
	Store       StoreConfig       `yaml:"store" json:"store"`
	Targets     TargetsConfig     `yaml:"targets" json:"targets,omitempty"`
	// Custom holds the sections of the modules added with RegisterModule.
	Custom CustomSections `yaml:"custom,omitempty" json:"custom,omitempty"`
}

// Thresholds are the warning and critical levels of the key metrics.
type Thresholds struct {
	// CPU in percent of the machine, 0..100. Default 70/90.
	CPU Threshold `yaml:"cpu" json:"cpu"`
	// Memory as a fraction of the memory limit, 0..1. Default 0.8/0.95.
	Memory Threshold `yaml:"memory" json:"memory"`
	// ResponseTime is p95 latency in milliseconds. Default 1000/2000.
	ResponseTime Threshold `yaml:"responseTime" json:"responseTime"`
	// Throughput in requests per second; lower is worse. It is judged only
	// after the service has been seen above the warning level, so an idle
	// service is not critical. Default 100/50.
	Throughput Threshold `yaml:"throughput" json:"throughput"`
	// ErrorRate as a fraction of requests, 0..1. Default 0.01/0.05.
	ErrorRate Threshold `yaml:"errorRate" json:"errorRate"`
	// Hysteresis is the fraction of a threshold a value must cross back
	// before the status improves, so a value hovering at a threshold does
	// not flap. Default 0.1.
	Hysteresis float64 `yaml:"hysteresis" json:"hysteresis"`
}

// Threshold is a pair of levels.
type Threshold struct {
	Warning  float64 `yaml:"warning" json:"warning"`
	Critical float64 `yaml:"critical" json:"critical"`
}

// ModuleToggles turns each optimizer on or off.
type ModuleToggles struct {
	Database   bool `yaml:"database" json:"database"`
	API        bool `yaml:"api" json:"api"`
	Memory     bool `yaml:"memory" json:"memory"`
	Network    bool `yaml:"network" json:"network"`
	Browser    bool `yaml:"browser" json:"browser"`
	Regression bool `yaml:"regression" json:"regression"`
	// Scaling is the autoscaler (a dry run until autoScaling.enabled).
	Scaling bool `yaml:"scaling" json:"scaling"`
	// Custom are the toggles of the modules added with RegisterModule,
	// written modules.<name> like the others. Set them with SetModule.
	Custom map[string]bool `yaml:"-" json:"-"`
}

// DefaultConfig returns the seed's configuration: monitoring on, automatic
// safe optimizations on, aggressive mode off, a 30 s interval, every module
// on.
func DefaultConfig() Config {
	custom, toggles := defaultCustom()
	c := Config{
		Enabled:            true,
		AutoOptimize:       true,
		AggressiveMode:     false,
		MonitoringInterval: Duration(DefaultMonitoringInterval),
		ModuleTimeout:      Duration(DefaultModuleTimeout),
		Thresholds: Thresholds{
			CPU:          Threshold{DefaultCPUWarning, DefaultCPUCritical},
			Memory:       Threshold{DefaultMemoryWarning, DefaultMemoryCritical},
			ResponseTime: Threshold{DefaultLatencyWarning, DefaultLatencyCritical},
			Throughput:   Threshold{DefaultThroughputWarning, DefaultThroughputCritical},
			ErrorRate:    Threshold{DefaultErrorRateWarning, DefaultErrorRateCritical},
			Hysteresis:   DefaultHysteresis,
		},
		Modules:     ModuleToggles{Database: true, API: true, Memory: true, Network: true, Browser: true, Regression: true, Scaling: true},
		Database:    defaultDatabaseConfig(),
		API:         defaultAPIConfig(),
		Memory:      defaultMemoryConfig(),
		Network:     defaultNetworkConfig(),
		Browser:     defaultBrowserConfig(),
		Regression:  defaultRegressionConfig(),
		Alerts:      defaultAlertsConfig(),
		AutoScaling: defaultAutoScalingConfig(),
		Server:      defaultServerConfig(),
		Store:       defaultStoreConfig(),
		Custom:      custom,
	}
	c.Modules.Custom = toggles
	return c
}

// ConfigError is one problem with one field.
type ConfigError struct {
	Field string // YAML path, e.g. "thresholds.cpu.warning", or an env var
	Value string // the offending value as written
	Err   error  // what is wrong, naming the allowed range
}

func (e *ConfigError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("%s: %v", e.Field, e.Err)
	}
	return fmt.Sprintf("%s=%s: %v", e.Field, e.Value, e.Err)
}

func (e *ConfigError) Unwrap() error { return e.Err }

// ErrInvalidConfig is wrapped by every error LoadConfig and Validate return
// for a configuration that is wrong, as opposed to one that cannot be read.
var ErrInvalidConfig = errors.New("invalid configuration")

// problems collects ConfigErrors so that validation reports all at once.
type problems []error

func (p *problems) add(field string, value any, format string, args ...any) {
	v := ""
	if value != nil {
		v = fmt.Sprint(value)
	}
	*p = append(*p, &ConfigError{Field: field, Value: v, Err: fmt.Errorf(format, args...)})
}

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(p...))
}

// Validate reports every problem in c at once, each naming the field, the
// value and the allowed range.
func (c Config) Validate() error {
	var p problems
	if d := c.MonitoringInterval.D(); d < 100*time.Millisecond || d > 24*time.Hour {
		p.add("monitoringInterval", d, "must be between 100ms and 24h")
	}
	if d := c.ModuleTimeout.D(); d < 10*time.Millisecond || d > time.Hour {
		p.add("moduleTimeout", d, "must be between 10ms and 1h")
	}
	t := c.Thresholds
	checkHigher(&p, "thresholds.cpu", t.CPU, 0, 100)
	checkHigher(&p, "thresholds.memory", t.Memory, 0, 1)
	checkHigher(&p, "thresholds.responseTime", t.ResponseTime, 0, 3_600_000)
	checkHigher(&p, "thresholds.errorRate", t.ErrorRate, 0, 1)
	// Throughput: lower is worse, so critical sits below warning.
	if !(t.Throughput.Warning >= 0 && t.Throughput.Critical >= 0) {
		p.add("thresholds.throughput", fmt.Sprintf("%g/%g", t.Throughput.Warning, t.Throughput.Critical), "must not be negative")
	} else if t.Throughput.Critical > t.Throughput.Warning {
		p.add("thresholds.throughput.critical", t.Throughput.Critical, "must not be above the warning level %g (lower throughput is worse)", t.Throughput.Warning)
	}
	if !(t.Hysteresis >= 0 && t.Hysteresis < 1) {
		p.add("thresholds.hysteresis", t.Hysteresis, "must be in [0, 1)")
	}
	c.Database.validate(&p)
	c.API.validate(&p)
	c.Memory.validate(&p)
	c.Network.validate(&p)
	c.Browser.validate(&p)
	c.Regression.validate(&p)
	c.Alerts.validate(&p)
	c.AutoScaling.validate(&p)
	c.Server.validate(&p)
	c.Store.validate(&p)
	c.Targets.validate(&p)
	c.validateCustom(&p)
	return p.err()
}

// checkHigher validates a threshold where higher is worse.
func checkHigher(p *problems, field string, t Threshold, lo, hi float64) {
	// Written as negations so that NaN, which fails every comparison, fails.
	if !(t.Warning > lo && t.Warning <= hi) {
		p.add(field+".warning", t.Warning, "must be in (%g, %g]", lo, hi)
	}
	if !(t.Critical > lo && t.Critical <= hi) {
		p.add(field+".critical", t.Critical, "must be in (%g, %g]", lo, hi)
	}
	if t.Warning > t.Critical {
		p.add(field+".warning", t.Warning, "must not be above the critical level %g", t.Critical)
	}
}

func checkURL(p *problems, field, raw string, schemes ...string) {
	if raw == "" {
		return
	}
	// Values are redacted: a webhook or SMTP URL may carry a password, and
	// url.Parse's error repeats the whole value.
	u, err := url.Parse(raw)
	if err != nil {
		p.add(field, redactDSN(raw), "is not a URL")
		return
	}
	for _, s := range schemes {
		if u.Scheme == s && u.Host != "" {
			return
		}
	}
	p.add(field, redactDSN(raw), "must be an absolute %s URL", strings.Join(schemes, " or "))
}

// LoadConfig reads a YAML file over DefaultConfig (path "" reads none),
// applies the environment, and validates the result. Unknown keys are
// errors, so a typo does not silently keep a default.
func LoadConfig(path string) (Config, error) {
	cfg, _, err := LoadConfigFrom(path, os.LookupEnv)
	return cfg, err
}

// LoadConfigFrom is LoadConfig with the environment given, and it also
// says where each value came from. Every problem of the file, the
// environment and the result is reported at once.
func LoadConfigFrom(path string, lookup EnvLookup) (Config, Origins, error) {
	cfg := DefaultConfig()
	origins := Origins{}
	var errs []error
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return Config{}, nil, fmt.Errorf("read config: %w", err)
		}
		if err := cfg.UnmarshalYAMLBytes(data); err != nil {
			errs = append(errs, err)
			// Go on with what the file says, unknown keys aside, so the
			// problems of the environment and of the values are reported
			// in the same run.
			lenient := DefaultConfig()
			if decodeYAML(data, &lenient) == nil {
				cfg = lenient
			}
		} else {
			for _, k := range fileKeys(data) {
				origins[k] = OriginFile
			}
		}
	}
	if err := cfg.applyEnv(lookup, origins); err != nil {
		errs = append(errs, err)
	}
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return Config{}, nil, errors.Join(errs...)
	}
	return cfg, origins, nil
}

// decodeYAML is yaml.UnmarshalWithOptions that turns the decoder's panics
// (a tag on a list, "targets: !0 00", dereferences nil inside it) into
// errors: no input may take the daemon down.
func decodeYAML(data []byte, v any, opts ...yaml.DecodeOption) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed YAML (%v)", r)
		}
	}()
	return yaml.UnmarshalWithOptions(data, v, opts...)
}

// fileKeys lists the configuration keys a YAML document sets.
func fileKeys(data []byte) []string {
	var generic any
	if err := decodeYAML(data, &generic); err != nil {
		return nil
	}
	var keys []string
	for _, k := range configKeys() {
		v := generic
		found := true
		for _, part := range strings.Split(k.Path, ".") {
			m, ok := v.(map[string]any)
			if !ok {
				found = false
				break
			}
			if v, ok = m[part]; !ok {
				found = false
				break
			}
		}
		if found {
			keys = append(keys, k.Path)
		}
	}
	return keys
}

// UnmarshalYAMLBytes decodes YAML over c, leaving keys the document does not
// mention as they were. Every unknown key and malformed duration is
// reported at once. On error c is unchanged.
func (c *Config) UnmarshalYAMLBytes(data []byte) error {
	// A Duration's own error cannot know its key, and the strict decoder
	// stops at the first unknown key, so both are checked first on a
	// generic decoding, where the path is known.
	var generic any
	if err := decodeYAML(data, &generic); err == nil {
		var p problems
		checkDocument(&p, reflect.TypeOf(*c), generic, "")
		if err := p.err(); err != nil {
			return err
		}
	}
	next := *c
	if err := decodeYAML(data, &next, yaml.Strict()); err != nil {
		// One line: "[line:column] what is wrong".
		return fmt.Errorf("%w: %s", ErrInvalidConfig, yaml.FormatError(err, false, false))
	}
	*c = next
	return nil
}

var (
	durationType       = reflect.TypeFor[Duration]()
	customSectionsType = reflect.TypeFor[CustomSections]()
	moduleTogglesType  = reflect.TypeFor[ModuleToggles]()
)

// checkDocument walks a generic YAML value alongside the struct type it
// will decode into and reports, by dotted YAML path, each key the struct
// does not have and each Duration that does not parse.
func checkDocument(p *problems, t reflect.Type, v any, path string) {
	if t == durationType {
		if v == nil {
			return
		}
		var d Duration
		if err := d.parse(fmt.Sprint(v)); err != nil {
			p.add(path, v, "%v", err)
		}
		return
	}
	m, ok := v.(map[string]any)
	if !ok || t.Kind() != reflect.Struct && t != customSectionsType {
		return
	}
	join := func(name string) string {
		if path == "" {
			return name
		}
		return path + "." + name
	}
	known := map[string]bool{}
	if t == customSectionsType || t == moduleTogglesType {
		for _, spec := range registeredCustom() {
			known[spec.name] = true
			if sub, ok := m[spec.name]; ok && t == customSectionsType {
				checkDocument(p, spec.typ, sub, join(spec.name))
			}
		}
	}
	if t.Kind() == reflect.Struct {
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "" || name == "-" {
				continue
			}
			known[name] = true
			if sub, ok := m[name]; ok {
				checkDocument(p, f.Type, sub, join(name))
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(m)) {
		if known[name] {
			continue
		}
		if near := nearestKey(name, known); near != "" {
			p.add(join(name), nil, "is not a configuration key; did you mean %s?", join(near))
		} else {
			p.add(join(name), nil, "is not a configuration key")
		}
	}
}

// nearestKey returns the known name closest to a misspelt one (same
// letters ignoring case, or at most two edits away), or "".
func nearestKey(name string, known map[string]bool) string {
	best, bestDist := "", 3
	for k := range known {
		if strings.EqualFold(k, name) {
			return k
		}
		if d := editDistance(strings.ToLower(k), strings.ToLower(name)); d < bestDist || d == bestDist && k < best {
			best, bestDist = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of two short strings.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// EnvLookup is os.LookupEnv's shape, so tests can pass a map.
type EnvLookup func(key string) (string, bool)

// EnvVarNames lists the environment variables ApplyEnv reads: the seed's
// names, then PERFENGINE_<SECTION>_<KEY> for every key. Secret keys also
// read <NAME>_FILE.
func EnvVarNames() []string {
	names := slices.Sorted(maps.Keys(seedEnvAliases))
	for _, k := range configKeys() {
		names = append(names, k.Env)
	}
	return names
}

// ApplyEnv overrides c with the environment variables that are set: the
// seed's names (PERFORMANCE_MONITORING_INTERVAL, ...) and
// PERFENGINE_<SECTION>_<KEY> for every key, which wins over a seed name.
// A secret key may instead name a file in <NAME>_FILE. Every malformed
// value is reported, and c is changed only if all are well formed.
func (c *Config) ApplyEnv(lookup EnvLookup) error { return c.applyEnv(lookup, nil) }

func parseBool(v string, dst *bool) error {
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		return errors.New("must be true or false")
	}
	*dst = b
	return nil
}

func parseFloat(v string, dst *float64) error {
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return errors.New("must be a number")
	}
	*dst = f
	return nil
}

// Duration is a time.Duration that reads "30s" or a bare number of
// milliseconds (the seed's form) from YAML, JSON and the environment, and
// writes "30s".
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return time.Duration(d).String() }

func (d *Duration) parse(s string) error {
	s = strings.TrimSpace(s)
	if ms, err := strconv.ParseFloat(s, 64); err == nil {
		if ms < 0 || ms > float64(1<<62)/float64(time.Millisecond) {
			return errors.New("must be a non-negative duration")
		}
		*d = Duration(ms * float64(time.Millisecond))
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return errors.New(`must be a duration such as "30s" or a number of milliseconds`)
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes the duration as "30s".
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads "30s" or a number of milliseconds.
func (d *Duration) UnmarshalText(b []byte) error { return d.parse(string(b)) }

// UnmarshalJSON reads "30s" or a number of milliseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch v := v.(type) {
	case string:
		return d.parse(v)
	case float64:
		return d.parse(strconv.FormatFloat(v, 'f', -1, 64))
	}
	return errors.New(`must be a duration such as "30s" or a number of milliseconds`)
}

// UnmarshalYAML reads "30s" or a number of milliseconds.
func (d *Duration) UnmarshalYAML(b []byte) error {
	return d.parse(strings.Trim(strings.TrimSpace(string(b)), `"'`))
}

// Redacted returns c without secrets, for showing to people: the token,
// passwords in DSNs and URLs, and webhook paths (Slack keeps its token
// there). Every key tagged secret is covered.
func (c Config) Redacted() Config { return redactSecrets(c) }
