package perfengine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/goccy/go-yaml"
)

// CustomModule declares an optimizer of the application's own that the
// configuration builds and configures like the built-in ones: its toggle is
// modules.<Name> and its section custom.<Name>, decoded strictly into C,
// validated, settable from the environment (PERFENGINE_CUSTOM_<NAME>_<KEY>)
// and applied to a running engine by UpdateConfig.
//
// C is a struct whose fields carry yaml tags, as the built-in sections do;
// a field tagged perfengine:"secret" is redacted wherever the configuration
// is shown. When C has a method Validate() error, every load and every
// UpdateConfig calls it: a *ConfigError it returns (alone or joined) names a
// field of the section, any other error the section as a whole.
type CustomModule[C any] struct {
	// Name is the module's name and key: a letter, then letters and digits
	// ("cacheWarmer"). Modules built from it must return it from Name.
	Name string
	// Defaults is the section's value when the configuration leaves it out.
	Defaults C
	// Off leaves the module off until modules.<Name> turns it on; by
	// default a registered module runs, as the built-in ones do.
	Off bool
	// New builds the module from its section. A module that has a method
	// Reconfigure(C) error is reconfigured in place when its section
	// changes, keeping its state; any other is stopped and built anew.
	New func(section C) (Module, error)
}

// customSpec is a registered CustomModule with its type parameter erased.
type customSpec struct {
	name        string
	typ         reflect.Type
	defaults    any
	on          bool
	validate    func(section any) error
	build       func(section any) (Module, error)
	reconfigure func(m Module, section any) (handled bool, err error)
}

var (
	customMu    sync.RWMutex
	customSpecs = map[string]*customSpec{}
)

var customName = regexp.MustCompile(`^[a-z][a-zA-Z0-9]*$`)

// RegisterModule makes a custom module known to every configuration loaded
// or built after it: call it from an init function, before LoadConfig and
// DefaultConfig. Like database/sql.Register it panics on a name that is
// malformed or already taken, a programming error.
func RegisterModule[C any](m CustomModule[C]) {
	typ := reflect.TypeFor[C]()
	switch {
	case !customName.MatchString(m.Name):
		panic(fmt.Sprintf("perfengine: RegisterModule: name %q must be a letter then letters and digits", m.Name))
	case isBuiltinModule(m.Name):
		panic(fmt.Sprintf("perfengine: RegisterModule: %q is a built-in module", m.Name))
	case typ.Kind() != reflect.Struct:
		panic(fmt.Sprintf("perfengine: RegisterModule %s: section type %s is not a struct", m.Name, typ))
	case m.New == nil:
		panic(fmt.Sprintf("perfengine: RegisterModule %s: New is nil", m.Name))
	}
	spec := &customSpec{
		name:     m.Name,
		typ:      typ,
		defaults: m.Defaults,
		on:       !m.Off,
		validate: func(section any) error {
			if v, ok := section.(interface{ Validate() error }); ok {
				return v.Validate()
			}
			return nil
		},
		build: func(section any) (Module, error) {
			mod, err := m.New(section.(C))
			if err != nil {
				return nil, err
			}
			if mod == nil || mod.Name() != m.Name {
				return nil, fmt.Errorf("New returned a module not named %q", m.Name)
			}
			return mod, nil
		},
		reconfigure: func(mod Module, section any) (bool, error) {
			r, ok := mod.(interface{ Reconfigure(C) error })
			if !ok {
				return false, nil
			}
			return true, r.Reconfigure(section.(C))
		},
	}
	customMu.Lock()
	defer customMu.Unlock()
	if _, dup := customSpecs[m.Name]; dup {
		panic(fmt.Sprintf("perfengine: RegisterModule called twice for %q", m.Name))
	}
	customSpecs[m.Name] = spec
}

// isBuiltinModule reports whether name is, but for case, a toggle of
// ModuleToggles.
func isBuiltinModule(name string) bool {
	_, ok := builtinToggle(name, strings.EqualFold)
	return ok
}

// builtinToggle returns the index of the ModuleToggles field whose YAML
// name matches name.
func builtinToggle(name string, match func(a, b string) bool) (int, bool) {
	t := reflect.TypeFor[ModuleToggles]()
	for i := range t.NumField() {
		if tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); tag != "-" && match(tag, name) {
			return i, true
		}
	}
	return 0, false
}

// registeredCustom returns the registered custom modules by name.
func registeredCustom() []*customSpec {
	customMu.RLock()
	defer customMu.RUnlock()
	return slices.SortedFunc(maps.Values(customSpecs), func(a, b *customSpec) int { return strings.Compare(a.name, b.name) })
}

func lookupCustom(name string) *customSpec {
	customMu.RLock()
	defer customMu.RUnlock()
	return customSpecs[name]
}

// CustomSections holds the sections of the custom modules, by name, each a
// value of its module's section type. Read one with CustomSection and
// change it with Config.SetCustom: a Config is a value, and SetCustom
// copies the map so that the Config it came from keeps its own.
type CustomSections map[string]any

// CustomSection returns the section of the custom module name in c, and
// whether c has one of type C.
func CustomSection[C any](c Config, name string) (C, bool) {
	v, ok := c.Custom[name].(C)
	return v, ok
}

// SetCustom sets the section of the registered custom module name.
func (c *Config) SetCustom(name string, section any) error {
	spec := lookupCustom(name)
	if spec == nil {
		return fmt.Errorf("perfengine: no custom module %q is registered", name)
	}
	if reflect.TypeOf(section) != spec.typ {
		return fmt.Errorf("perfengine: section of %s is a %s, not a %T", name, spec.typ, section)
	}
	next := maps.Clone(c.Custom)
	if next == nil {
		next = CustomSections{}
	}
	next[name] = section
	c.Custom = next
	return nil
}

// SetModule turns a module on or off by name, built-in or custom.
func (t *ModuleToggles) SetModule(name string, on bool) error {
	if i, ok := builtinToggle(name, func(a, b string) bool { return a == b }); ok {
		reflect.ValueOf(t).Elem().Field(i).SetBool(on)
		return nil
	}
	if lookupCustom(name) == nil {
		return fmt.Errorf("perfengine: no module %q: not built in and not registered", name)
	}
	next := maps.Clone(t.Custom)
	if next == nil {
		next = map[string]bool{}
	}
	next[name] = on
	t.Custom = next
	return nil
}

// defaultCustom fills in the registered modules' defaults.
func defaultCustom() (CustomSections, map[string]bool) {
	specs := registeredCustom()
	if len(specs) == 0 {
		return nil, nil
	}
	sections, toggles := CustomSections{}, map[string]bool{}
	for _, s := range specs {
		sections[s.name] = s.defaults
		toggles[s.name] = s.on
	}
	return sections, toggles
}

// UnmarshalYAML decodes custom.<name> sections over the ones s holds (their
// defaults, after DefaultConfig), each strictly into its registered type.
func (s *CustomSections) UnmarshalYAML(data []byte) error {
	var raw map[string]any
	if err := decodeYAML(data, &raw); err != nil {
		return err
	}
	next := maps.Clone(*s)
	if next == nil {
		next = CustomSections{}
	}
	for _, name := range slices.Sorted(maps.Keys(raw)) {
		spec := lookupCustom(name)
		if spec == nil {
			return fmt.Errorf("custom.%s: no custom module of that name is registered", name)
		}
		doc, err := yaml.Marshal(raw[name])
		if err != nil {
			return fmt.Errorf("custom.%s: %w", name, err)
		}
		p := reflect.New(spec.typ)
		if cur, ok := next[name]; ok && reflect.TypeOf(cur) == spec.typ {
			p.Elem().Set(reflect.ValueOf(cur))
		} else {
			p.Elem().Set(reflect.ValueOf(spec.defaults))
		}
		if err := decodeYAML(doc, p.Interface(), yaml.Strict()); err != nil {
			return fmt.Errorf("custom.%s: %s", name, yaml.FormatError(err, false, false))
		}
		next[name] = p.Elem().Interface()
	}
	*s = next
	return nil
}

// validateCustom checks every custom section against its registration and
// its own Validate.
func (c Config) validateCustom(p *problems) {
	for _, name := range slices.Sorted(maps.Keys(c.Custom)) {
		spec := lookupCustom(name)
		section := c.Custom[name]
		field := "custom." + name
		switch {
		case spec == nil:
			p.add(field, nil, "no custom module of that name is registered")
			continue
		case reflect.TypeOf(section) != spec.typ:
			p.add(field, nil, "is a %T, not the module's %s", section, spec.typ)
			continue
		}
		for _, err := range flattenErrors(spec.validate(section)) {
			if ce, ok := errors.AsType[*ConfigError](err); ok {
				*p = append(*p, &ConfigError{Field: field + "." + ce.Field, Value: ce.Value, Err: ce.Err})
			} else {
				*p = append(*p, &ConfigError{Field: field, Err: err})
			}
		}
	}
	for name := range c.Modules.Custom {
		if lookupCustom(name) == nil {
			p.add("modules."+name, nil, "no module of that name is built in or registered")
		}
	}
}

// flattenErrors lists the leaves of a tree of joined errors.
func flattenErrors(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flattenErrors(e)...)
		}
		return out
	}
	return []error{err}
}

// customBuilders are the builders of the registered custom modules.
func customBuilders() []moduleBuilder {
	var out []moduleBuilder
	for _, spec := range registeredCustom() {
		section := func(c Config) any {
			if v, ok := c.Custom[spec.name]; ok {
				return v
			}
			return spec.defaults
		}
		out = append(out, moduleBuilder{
			name:    spec.name,
			can:     func(Config) bool { return true },
			section: section,
			build:   func(_ *Engine, c Config) (Module, error) { return spec.build(section(c)) },
			reconfigure: func(m Module, c Config) (bool, error) {
				return spec.reconfigure(m, section(c))
			},
		})
	}
	return out
}

// plainToggles is ModuleToggles without its methods, for the built-in
// toggles alone.
type plainToggles ModuleToggles

// UnmarshalYAML decodes modules.<name> for the built-in modules and the
// registered custom ones over the toggles t holds.
func (t *ModuleToggles) UnmarshalYAML(data []byte) error {
	var raw map[string]any
	if err := decodeYAML(data, &raw); err != nil {
		return err
	}
	builtin := map[string]any{}
	next := *t
	for _, name := range slices.Sorted(maps.Keys(raw)) {
		if isBuiltinModule(name) || lookupCustom(name) == nil {
			builtin[name] = raw[name]
			continue
		}
		on, ok := raw[name].(bool)
		if !ok {
			return fmt.Errorf("modules.%s: must be true or false", name)
		}
		if err := next.SetModule(name, on); err != nil {
			return err
		}
	}
	doc, err := yaml.Marshal(builtin)
	if err != nil {
		return err
	}
	plain := plainToggles(next)
	if err := decodeYAML(doc, &plain, yaml.Strict()); err != nil {
		return fmt.Errorf("modules: %s", yaml.FormatError(err, false, false))
	}
	*t = ModuleToggles(plain)
	return nil
}

// togglePairs lists the toggles in the order of the configuration: the
// built-in modules, then the custom ones by name.
func (t ModuleToggles) togglePairs() yaml.MapSlice {
	var out yaml.MapSlice
	v := reflect.ValueOf(t)
	for i := range v.NumField() {
		if name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ","); name != "-" {
			out = append(out, yaml.MapItem{Key: name, Value: v.Field(i).Bool()})
		}
	}
	for _, name := range slices.Sorted(maps.Keys(t.Custom)) {
		out = append(out, yaml.MapItem{Key: name, Value: t.Custom[name]})
	}
	return out
}

// MarshalYAML writes the custom toggles beside the built-in ones.
func (t ModuleToggles) MarshalYAML() (any, error) {
	if len(t.Custom) == 0 {
		return plainToggles(t), nil
	}
	return t.togglePairs(), nil
}

// MarshalJSON writes the custom toggles beside the built-in ones.
func (t ModuleToggles) MarshalJSON() ([]byte, error) {
	if len(t.Custom) == 0 {
		return json.Marshal(plainToggles(t))
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for i, kv := range t.togglePairs() {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%q:%t", kv.Key, kv.Value)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// ownMaps gives c maps of its own, so that a Config handed out or taken in
// shares nothing a caller could change behind the engine's back.
func (c Config) ownMaps() Config {
	c.Custom = maps.Clone(c.Custom)
	c.Modules.Custom = maps.Clone(c.Modules.Custom)
	return c
}
