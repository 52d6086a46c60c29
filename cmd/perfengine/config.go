package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/goccy/go-yaml"
	"github.com/spf13/cobra"

	"github.com/perfengine/perfengine"
)

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "List, show and check the configuration",
		Long: `Every key can be set in the YAML file, or from the environment as
PERFENGINE_<SECTION>_<KEY> (the seed's names, such as CPU_WARNING_THRESHOLD,
are aliases). A secret key also reads <NAME>_FILE, so no secret needs to sit
in YAML.`,
	}
	cmd.AddCommand(newConfigDefaultsCmd(), newConfigShowCmd(), newConfigValidateCmd())
	return cmd
}

// keyLine is one key in `config defaults --json` and `config show --json`.
type keyLine struct {
	perfengine.ConfigKey
	Value  string            `json:"value"`
	Origin perfengine.Origin `json:"from,omitempty"`
}

func newConfigDefaultsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "defaults",
		Short:   "Print every key with its default, its environment variable and what reads it",
		Example: "  perfengine config defaults\n  perfengine config defaults --json | jq '.[] | select(.secret)'\n  perfengine config defaults --markdown > CONFIG.md",
		Args:    cobra.NoArgs,
	}
	asJSON := addJSONFlag(cmd)
	markdown := cmd.Flags().Bool("markdown", false, "print a Markdown table, as in the README's configuration reference")
	cmd.MarkFlagsMutuallyExclusive("json", "markdown")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if *markdown {
			return printKeysMarkdown(cmd.OutOrStdout(), perfengine.DefaultConfig())
		}
		return printKeys(cmd.OutOrStdout(), perfengine.DefaultConfig(), nil, *asJSON)
	}
	return cmd
}

func newConfigShowCmd() *cobra.Command {
	var sf serveFlags
	cmd := &cobra.Command{
		Use:   "show [--config FILE]",
		Short: "Print the effective configuration and where each value came from",
		Long: `show loads the configuration as serve would (defaults, then --config, then
the environment, then the flags) and prints every key with its value and
origin: default, file, env or flag. Secrets are redacted.`,
		Example: "  PERFENGINE_THRESHOLDS_CPU_WARNING=60 perfengine config show --config perfengine.yaml",
		Args:    cobra.NoArgs,
	}
	sf.register(cmd)
	asJSON := addJSONFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		cfg, origins, err := sf.load(cmd)
		if err != nil {
			return err
		}
		return printKeys(cmd.OutOrStdout(), cfg.Redacted(), origins, *asJSON)
	}
	return cmd
}

func newConfigValidateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "validate FILE",
		Short: "Check a configuration file and the environment, reporting every problem at once",
		Long: `validate loads FILE over the defaults and applies the environment, as serve
does, and prints every problem it finds, one per line: unknown keys (with the
nearest known one), malformed values and values out of range. It exits 1
when there is any.`,
		Example: "  perfengine config validate perfengine.yaml",
		Args:    cobra.ExactArgs(1),
	}
	asJSON := addJSONFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		_, _, err := perfengine.LoadConfigFrom(args[0], os.LookupEnv)
		type result struct {
			File     string   `json:"file"`
			Valid    bool     `json:"valid"`
			Problems []string `json:"problems,omitempty"`
		}
		res := result{File: args[0], Valid: err == nil}
		if err != nil {
			res.Problems = problemLines(err)
		}
		if *asJSON {
			if werr := writeJSON(cmd.OutOrStdout(), res); werr != nil {
				return werr
			}
		} else if err == nil {
			fmt.Fprintf(cmd.OutOrStdout(), "%s: valid\n", args[0])
		} else {
			for _, p := range res.Problems {
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %s\n", args[0], p)
			}
		}
		if err != nil {
			return fmt.Errorf("%s: %d problem(s)", args[0], len(res.Problems))
		}
		return nil
	}
	return cmd
}

// problemLines splits a configuration error into one problem per line,
// without the "invalid configuration:" prefix each one carries.
func problemLines(err error) []string {
	var out []string
	for _, line := range strings.Split(err.Error(), "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), perfengine.ErrInvalidConfig.Error()+":"))
		if line != "" {
			out = append(out, line)
		}
	}
	return out
}

func printKeys(w io.Writer, cfg perfengine.Config, origins perfengine.Origins, asJSON bool) error {
	keys := perfengine.ConfigKeys()
	lines := make([]keyLine, len(keys))
	for i, k := range keys {
		lines[i] = keyLine{ConfigKey: k, Value: formatValue(k.Value(cfg))}
		if origins != nil {
			lines[i].Origin = origins.Of(k.Path)
		}
	}
	if asJSON {
		return writeJSON(w, lines)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if origins != nil {
		fmt.Fprintln(tw, "KEY\tVALUE\tFROM\tENV")
		for _, l := range lines {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", l.Path, shorten(l.Value), l.Origin, l.Env)
		}
	} else {
		fmt.Fprintln(tw, "KEY\tDEFAULT\tENV\tREAD BY")
		for _, l := range lines {
			env := l.Env
			if len(l.Aliases) > 0 {
				env += " (" + strings.Join(l.Aliases, ", ") + ")"
			}
			if l.Secret {
				env += " or " + l.Env + "_FILE"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", l.Path, shorten(l.Value), env, l.ReadBy)
		}
	}
	return tw.Flush()
}

// printKeysMarkdown writes the key reference as a Markdown table.
func printKeysMarkdown(w io.Writer, cfg perfengine.Config) error {
	var b strings.Builder
	b.WriteString("| key | default | environment | read by |\n|---|---|---|---|\n")
	for _, k := range perfengine.ConfigKeys() {
		env := "`" + k.Env + "`"
		for _, a := range k.Aliases {
			env += ", `" + a + "`"
		}
		if k.Secret {
			env += ", `" + k.Env + "_FILE`"
		}
		def := formatValue(k.Value(cfg))
		if def == `""` {
			def = ""
		} else {
			def = "`" + strings.ReplaceAll(def, "|", "\\|") + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", k.Path, def, env, k.ReadBy)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// maxShownValue bounds a value in the table, so one long list (the targets)
// does not push every other column off the screen; --json has it whole.
const maxShownValue = 60

func shorten(v string) string {
	if r := []rune(v); len(r) > maxShownValue {
		return string(r[:maxShownValue-1]) + "…"
	}
	return v
}

// formatValue writes a value as it would be written in the YAML file.
func formatValue(v any) string {
	switch v := v.(type) {
	case string:
		if v != "" {
			return v
		}
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	out, err := yaml.MarshalWithOptions(v, yaml.Flow(true))
	if err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSpace(string(out))
}

// serveFlags are the configuration flags of serve and config show.
type serveFlags struct {
	configFile, addr, dataDir string
}

func (f *serveFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.configFile, "config", "", "YAML configuration `file` (default: none, the built-in defaults)")
	cmd.Flags().StringVar(&f.addr, "addr", perfengine.DefaultServerAddr, "`host:port` to serve on (overrides server.addr)")
	cmd.Flags().StringVar(&f.dataDir, "data-dir", perfengine.DefaultDataDir, "`directory` of the embedded store (overrides store.dataDir)")
}

// load reads the configuration: defaults, file, environment, then flags.
func (f *serveFlags) load(cmd *cobra.Command) (perfengine.Config, perfengine.Origins, error) {
	cfg, origins, err := perfengine.LoadConfigFrom(f.configFile, os.LookupEnv)
	if err != nil {
		return cfg, nil, err
	}
	if cmd.Flags().Changed("addr") {
		cfg.Server.Addr = f.addr
		origins["server.addr"] = perfengine.OriginFlag
	}
	if cmd.Flags().Changed("data-dir") {
		cfg.Store.DataDir = f.dataDir
		origins["store.dataDir"] = perfengine.OriginFlag
	}
	return cfg, origins, cfg.Validate()
}
