package keycheck_test

import (
	"go/ast"
	"go/types"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/tools/go/packages"

	"github.com/perfengine/perfengine"
)

// notConsumers are the functions that touch every key without acting on
// it: validation, defaults, the key walker and the redaction. A key read
// only by them is validated and never used.
func notConsumer(fn string) bool {
	return fn == "validate" || fn == "Validate" || fn == "DefaultConfig" ||
		strings.HasPrefix(fn, "default") || strings.HasPrefix(fn, "check") || fn == "Redacted"
}

// TestEveryKeyIsRead type-checks the engine and its daemon and CLI and
// finds, for each key of the configuration, a use of its field outside
// validation and defaults: a key that only validates (as database.indexBudget
// once did) fails here. Keys read through reflection by the whole-config
// machinery (config_keys.go) do not count.
func TestEveryKeyIsRead(t *testing.T) {
	if testing.Short() {
		t.Skip("type-checks the module")
	}
	cfgPkg := &packages.Config{Mode: packages.NeedName | packages.NeedFiles | packages.NeedCompiledGoFiles | packages.NeedSyntax | packages.NeedTypes | packages.NeedTypesInfo}
	// scale reads the Kubernetes section it defines (scale.NewKubernetes).
	pkgs, err := packages.Load(cfgPkg, "github.com/perfengine/perfengine", "github.com/perfengine/perfengine/cmd/perfengine",
		"github.com/perfengine/perfengine/scale")
	if err != nil {
		t.Fatal(err)
	}
	if packages.PrintErrors(pkgs) > 0 {
		t.Fatal("packages did not type-check")
	}
	used := map[string]bool{} // "pkgpath.Type.Field"
	for _, p := range pkgs {
		for i, f := range p.Syntax {
			if filepath.Base(p.CompiledGoFiles[i]) == "config_keys.go" {
				continue
			}
			for _, d := range f.Decls {
				fd, ok := d.(*ast.FuncDecl)
				if ok && notConsumer(fd.Name.Name) {
					continue
				}
				ast.Inspect(d, func(n ast.Node) bool {
					id, ok := n.(*ast.Ident)
					if !ok {
						return true
					}
					if v, ok := p.TypesInfo.Uses[id].(*types.Var); ok && v.IsField() {
						used[fieldKey(v)] = true
					}
					return true
				})
			}
		}
	}
	cfgType := reflect.TypeOf(perfengine.Config{})
	for _, k := range perfengine.ConfigKeys() {
		// Every field on the way counts: thresholds.cpu.warning needs
		// Thresholds, CPU and Warning read, each on its own type.
		typ := cfgType
		for _, name := range strings.Split(k.Path, ".") {
			f, ok := fieldByYAML(typ, name)
			if !ok {
				t.Fatalf("%s: no field with YAML name %q in %s", k.Path, name, typ)
			}
			key := typ.PkgPath() + "." + typ.Name() + "." + f.Name
			if !used[key] {
				t.Errorf("%s: field %s is never read outside validation and defaults (said to be read by %q)", k.Path, key, k.ReadBy)
				break
			}
			typ = f.Type
		}
	}
}

// fieldKey names a struct field by the named type that declares it.
func fieldKey(v *types.Var) string {
	if v.Pkg() == nil {
		return ""
	}
	// The declaring type is found by scanning the package's named types:
	// types.Var does not point back to its struct.
	scope := v.Pkg().Scope()
	for _, name := range scope.Names() {
		tn, ok := scope.Lookup(name).(*types.TypeName)
		if !ok {
			continue
		}
		st, ok := tn.Type().Underlying().(*types.Struct)
		if !ok {
			continue
		}
		for i := range st.NumFields() {
			if st.Field(i) == v {
				return v.Pkg().Path() + "." + name + "." + v.Name()
			}
		}
	}
	return ""
}

// fieldByYAML finds the field of struct type t whose YAML name is name.
func fieldByYAML(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if n, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); n == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}
