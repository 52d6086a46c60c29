package perfengine

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"github.com/goccy/go-yaml"
)

// ConfigKey describes one key of the configuration: its YAML path, the
// environment variables that set it, and what reads it.
type ConfigKey struct {
	// Path is the dotted YAML path, e.g. "thresholds.cpu.warning".
	Path string `json:"key"`
	// Env is the canonical variable, PERFENGINE_<SECTION>_<KEY>.
	Env string `json:"env"`
	// Aliases are the seed's names for the same key, when it has one.
	Aliases []string `json:"aliases,omitempty"`
	// Secret keys may come from a file (Env+"_FILE") and are redacted
	// wherever the configuration is shown.
	Secret bool `json:"secret,omitempty"`
	// ReadBy names the part of perfengine that consumes the key.
	ReadBy string `json:"readBy"`

	index []int
	typ   reflect.Type
	// custom is the custom module the key belongs to: its toggle when
	// index is nil, else the field of its section at index.
	custom string
}

// Value returns the key's value in c.
func (k ConfigKey) Value(c Config) any {
	v, _ := k.field(&c)
	return v.Interface()
}

// field returns the key's value in c, settable, and a commit that stores
// what was set. A custom module's key lives in a map of c, copied on
// write, so it is set on a copy that commit puts back.
func (k ConfigKey) field(c *Config) (v reflect.Value, commit func()) {
	if k.custom == "" {
		return reflect.ValueOf(c).Elem().FieldByIndex(k.index), func() {}
	}
	if k.index == nil {
		on := reflect.New(k.typ).Elem()
		on.SetBool(c.enabled(k.custom))
		return on, func() { _ = c.Modules.SetModule(k.custom, on.Bool()) }
	}
	spec := lookupCustom(k.custom)
	section := reflect.New(spec.typ).Elem()
	if cur, ok := c.Custom[k.custom]; ok && reflect.TypeOf(cur) == spec.typ {
		section.Set(reflect.ValueOf(cur))
	} else {
		section.Set(reflect.ValueOf(spec.defaults))
	}
	return section.FieldByIndex(k.index), func() { _ = c.SetCustom(k.custom, section.Interface()) }
}

// seedEnvAliases are the seed's environment variable names. They keep
// working; when a canonical PERFENGINE_ variable is also set, it wins.
var seedEnvAliases = map[string]string{
	"PERFORMANCE_MONITORING_ENABLED":  "enabled",
	"PERFORMANCE_MONITORING_INTERVAL": "monitoringInterval",
	"AUTO_OPTIMIZATION_ENABLED":       "autoOptimize",
	"AGGRESSIVE_OPTIMIZATION":         "aggressiveMode",
	"CPU_WARNING_THRESHOLD":           "thresholds.cpu.warning",
	"CPU_CRITICAL_THRESHOLD":          "thresholds.cpu.critical",
	"MEMORY_WARNING_THRESHOLD":        "thresholds.memory.warning",
	"MEMORY_CRITICAL_THRESHOLD":       "thresholds.memory.critical",
	"REGRESSION_DETECTION_ENABLED":    "modules.regression",
	"AUTO_ROLLBACK_ENABLED":           "regression.autoRollbackEnabled",
	"REGRESSION_SENSITIVITY":          "regression.sensitivity",
	"ALERT_WEBHOOK_URL":               "alerts.webhookURL",
	"ALERT_EMAIL_ENDPOINT":            "alerts.emailEndpoint",
	"PERFENGINE_TOKEN":                "server.token",
}

// keyReaders says what consumes each part of the configuration, by the
// longest matching path prefix. config defaults prints it, and
// TestEveryKeyIsRead holds it to the code.
var keyReaders = []struct{ prefix, reader string }{
	{"enabled", "engine: starts and stops the monitoring loop"},
	{"autoOptimize", "engine: applies safe actions without approval"},
	{"aggressiveMode", "engine: also applies moderate actions"},
	{"monitoringInterval", "engine: time between cycles"},
	{"moduleTimeout", "engine: bound on one module's collection"},
	{"version", "regression module: tags baselines and rollbacks"},
	{"debug", "engine: logs every cycle's decisions at debug level"},
	{"thresholds", "engine: status evaluation (healthy, warning, critical)"},
	{"thresholds.memory", "engine status; memory module: GC tuning pressure"},
	{"modules", "engine: which optimizer modules run"},
	{"modules.api", "daemon: wraps its own HTTP API in the API optimizer; library: NewAPIModuleFromConfig"},
	{"modules.network", "daemon: its outbound requests (alert and rollback webhooks) go through the network optimizer; library: NewNetworkModuleFromConfig"},
	{"modules.browser", "library: NewBrowserModuleFromConfig, in the service's own middleware"},
	{"database", "database module"},
	{"api", "API module (apiopt middleware)"},
	{"memory", "memory module (memopt)"},
	{"network", "network module (netopt client)"},
	{"browser", "browser module (webopt middleware)"},
	{"regression", "regression module (detection, rollback)"},
	{"alerts", "alert dispatcher"},
	{"autoScaling", "scaling module (HPA algorithm, actuators)"},
	{"server", "daemon: HTTP server and its token"},
	{"store", "engine: the store opened at Start"},
	{"targets", "daemon: the services and databases it watches"},
}

// configKeys lists the built-in keys, then those of the registered custom
// modules: each one's toggle and the leaves of its section.
func configKeys() []ConfigKey {
	specs := registeredCustom()
	if len(specs) == 0 {
		return builtinConfigKeys()
	}
	keys := slices.Clone(builtinConfigKeys())
	for _, spec := range specs {
		reader := "custom module " + spec.name
		keys = append(keys, ConfigKey{Path: "modules." + spec.name, Env: envName("modules." + spec.name),
			ReadBy: "engine: whether " + reader + " runs", typ: reflect.TypeFor[bool](), custom: spec.name})
		var section []ConfigKey
		walkConfigKeys(spec.typ, nil, "custom."+spec.name, &section)
		for _, k := range section {
			k.custom, k.ReadBy = spec.name, reader
			keys = append(keys, k)
		}
	}
	return keys
}

var builtinConfigKeys = sync.OnceValue(func() []ConfigKey {
	var keys []ConfigKey
	walkConfigKeys(reflect.TypeOf(Config{}), nil, "", &keys)
	aliases := map[string][]string{}
	for name, path := range seedEnvAliases {
		aliases[path] = append(aliases[path], name)
	}
	for i := range keys {
		k := &keys[i]
		k.Aliases = slices.Sorted(slices.Values(aliases[k.Path]))
		best := ""
		for _, r := range keyReaders {
			if (k.Path == r.prefix || strings.HasPrefix(k.Path, r.prefix+".")) && len(r.prefix) > len(best) {
				best, k.ReadBy = r.prefix, r.reader
			}
		}
	}
	return keys
})

// ConfigKeys lists every key of the configuration, in the order of the
// Config struct.
func ConfigKeys() []ConfigKey { return slices.Clone(configKeys()) }

func lookupConfigKey(path string) (ConfigKey, bool) {
	for _, k := range configKeys() {
		if k.Path == path {
			return k, true
		}
	}
	return ConfigKey{}, false
}

// walkConfigKeys collects the leaves of a config struct: every field with a
// YAML name whose type is not itself a section. Lists and maps are leaves;
// from the environment they are written in YAML flow syntax.
func walkConfigKeys(t reflect.Type, index []int, prefix string, keys *[]ConfigKey) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" || !f.IsExported() || f.Type == customSectionsType {
			continue // custom sections are walked for each registered module
		}
		path := name
		if prefix != "" {
			path = prefix + "." + name
		}
		idx := append(slices.Clip(index), i)
		if f.Type.Kind() == reflect.Struct {
			walkConfigKeys(f.Type, idx, path, keys)
			continue
		}
		*keys = append(*keys, ConfigKey{
			Path:   path,
			Env:    envName(path),
			Secret: slices.Contains(strings.Split(f.Tag.Get("perfengine"), ","), "secret"),
			index:  idx,
			typ:    f.Type,
		})
	}
}

// envName turns "browser.lazyLoading.rootMargin" into
// PERFENGINE_BROWSER_LAZY_LOADING_ROOT_MARGIN and "api.redisURL" into
// PERFENGINE_API_REDIS_URL.
func envName(path string) string {
	var b strings.Builder
	b.WriteString("PERFENGINE")
	for _, part := range strings.Split(path, ".") {
		r := []rune(part)
		for i, c := range r {
			// A word starts at an upper-case letter that follows a lower-case
			// one or a digit, or that ends an acronym ("URLPath": URL_PATH).
			if i == 0 || unicode.IsUpper(c) && (!unicode.IsUpper(r[i-1]) || i+1 < len(r) && unicode.IsLower(r[i+1])) {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToUpper(c))
		}
	}
	return b.String()
}

// setFromString parses v as the key's type and stores it in c. Strings are
// taken as written, lists and maps as YAML flow syntax ("[a, b]").
func (k ConfigKey) setFromString(c *Config, v string) error {
	dst, commit := k.field(c)
	if err := k.parse(dst, v); err != nil {
		return err
	}
	commit()
	return nil
}

func (k ConfigKey) parse(dst reflect.Value, v string) error {
	switch {
	case k.typ == durationType:
		var d Duration
		if err := d.parse(strings.TrimSpace(v)); err != nil {
			return err
		}
		dst.Set(reflect.ValueOf(d))
		return nil
	case k.typ.Kind() == reflect.String:
		dst.SetString(strings.TrimSpace(v))
		return nil
	case k.typ.Kind() == reflect.Bool:
		var b bool
		if err := parseBool(v, &b); err != nil {
			return err
		}
		dst.SetBool(b)
		return nil
	case k.typ.Kind() == reflect.Float64:
		var f float64
		if err := parseFloat(v, &f); err != nil {
			return err
		}
		dst.SetFloat(f)
		return nil
	case dst.CanInt():
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, k.typ.Bits())
		if err != nil {
			return errors.New("must be a whole number")
		}
		dst.SetInt(n)
		return nil
	}
	p := reflect.New(k.typ)
	if err := decodeYAML([]byte(v), p.Interface(), yaml.Strict()); err != nil {
		return fmt.Errorf("must be YAML for %s: %s", k.typ, yaml.FormatError(err, false, false))
	}
	dst.Set(p.Elem())
	return nil
}

// Origin says where a key's value came from.
type Origin string

// Origins of configuration values.
const (
	OriginDefault Origin = "default"
	OriginFile    Origin = "file"
	OriginEnv     Origin = "env"
	OriginFlag    Origin = "flag"
)

// Origins maps a key's path to where its value came from; keys that are
// absent kept their default.
type Origins map[string]Origin

// Of returns the origin of a key.
func (o Origins) Of(path string) Origin {
	if v, ok := o[path]; ok {
		return v
	}
	return OriginDefault
}

// readEnvValue returns the value of name, or the contents of the file named
// by name_FILE for a secret. Setting both is an error: one of them would be
// silently ignored.
func readEnvValue(lookup EnvLookup, name string, secret bool) (string, bool, error) {
	v, ok := lookup(name)
	if !secret {
		return v, ok, nil
	}
	file, fok := lookup(name + "_FILE")
	if !fok {
		return v, ok, nil
	}
	if ok {
		return "", false, errors.New("is set together with " + name + "_FILE: set one")
	}
	data, err := os.ReadFile(strings.TrimSpace(file))
	if err != nil {
		return "", false, fmt.Errorf("read %s_FILE: %w", name, err)
	}
	// Secret files usually end in a newline that is not part of the secret.
	return strings.TrimRight(string(data), "\r\n"), true, nil
}

// applyEnv sets c from the environment: first the seed's names, then the
// canonical PERFENGINE_ names, so a canonical name wins. It records the
// keys it set in origins (when not nil).
func (c *Config) applyEnv(lookup EnvLookup, origins Origins) error {
	next := *c
	var p problems
	set := map[string]bool{}
	apply := func(k ConfigKey, name string) {
		v, ok, err := readEnvValue(lookup, name, k.Secret)
		if err != nil {
			p = append(p, &ConfigError{Field: name, Err: err})
			return
		}
		if !ok {
			return
		}
		if err := k.setFromString(&next, v); err != nil {
			shown := v
			if k.Secret {
				shown = redactValue(v)
			}
			p = append(p, &ConfigError{Field: name, Value: shown, Err: err})
			return
		}
		set[k.Path] = true
	}
	keys := configKeys()
	for _, k := range keys {
		for _, a := range k.Aliases {
			apply(k, a)
		}
	}
	for _, k := range keys {
		apply(k, k.Env)
	}
	if err := p.err(); err != nil {
		return err
	}
	*c = next
	if origins != nil {
		for path := range set {
			origins[path] = OriginEnv
		}
	}
	return nil
}

// redactValue shows a secret without its content: a URL or DSN keeps its
// scheme, user and host (what an operator needs to tell two apart) and
// loses its password, path and query, where webhooks keep their tokens;
// anything else is only said to be set.
func redactValue(v string) string {
	if v == "" {
		return ""
	}
	scheme, rest, ok := strings.Cut(v, "://")
	if !ok || scheme == "" || strings.ContainsAny(scheme, " /=") {
		return "[redacted]"
	}
	authority, tail, _ := strings.Cut(rest, "/")
	if q := strings.IndexAny(authority, "?#"); q >= 0 {
		authority, tail = authority[:q], authority[q:]
	}
	out := scheme + "://"
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		user, _, hasPass := strings.Cut(authority[:at], ":")
		out += user
		if hasPass {
			out += ":xxxxx"
		}
		out += "@"
		authority = authority[at+1:]
	}
	out += authority
	if tail != "" {
		out += "/..."
	}
	return out
}

// redactSecrets blanks every secret key of c for display.
func redactSecrets(c Config) Config {
	for _, k := range configKeys() {
		if !k.Secret {
			continue
		}
		f, commit := k.field(&c)
		switch f.Kind() {
		case reflect.String:
			f.SetString(redactValue(f.String()))
		case reflect.Slice:
			if f.Type().Elem().Kind() == reflect.String {
				out := reflect.MakeSlice(f.Type(), f.Len(), f.Len())
				for i := range f.Len() {
					out.Index(i).SetString(redactValue(f.Index(i).String()))
				}
				f.Set(out)
			}
		}
		commit()
	}
	return c
}
