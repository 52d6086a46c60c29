// Command perfengine keeps a Go web service and its database fast: it runs
// the demo, the daemon with its dashboard, and the optimizers' tools.
//
//	perfengine demo                 # the demo shop with the engine and dashboard
//	perfengine serve --config FILE  # the daemon
//	perfengine version --json
//
// Every command takes --json, prints progress on stderr, and on failure
// exits 1 with one line on stderr: "perfengine: <reason>".
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the command line and returns the exit code. The first
// SIGINT or SIGTERM cancels the context for a graceful shutdown; after it
// the default handling is back, so a second signal aborts at once.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop()
	}()
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if cmd, err := root.ExecuteContextC(ctx); err != nil {
		// With --json a failure is a JSON object too, so a script reading
		// the output never has to parse prose.
		if f := cmd.Flags().Lookup("json"); f != nil && f.Value.String() == "true" {
			enc := json.NewEncoder(stderr)
			enc.SetEscapeHTML(false)
			_ = enc.Encode(map[string]string{"error": oneLine(err)})
		} else {
			fmt.Fprintln(stderr, "perfengine: "+oneLine(err))
		}
		// A command may ask for its own status, as load does for failed
		// thresholds (k6's 99), so CI can tell them from a broken run.
		var coded interface{ ExitCode() int }
		if errors.As(err, &coded) {
			return coded.ExitCode()
		}
		return 1
	}
	return 0
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "perfengine",
		Short: "Keep a Go web service and its database fast",
		Long: `perfengine watches a Go web service and its database, finds what makes them
slow, applies the safe fixes itself and proposes the others.`,
		Example: `  # The demo shop with the engine embedded; dashboard at http://127.0.0.1:7070
  perfengine demo

  # The daemon, configured by a YAML file and the environment
  perfengine serve --config perfengine.yaml

  # Shell completion
  source <(perfengine completion bash)`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       buildInfo().Version,
	}
	root.SetVersionTemplate("perfengine {{.Version}}\n")
	root.AddCommand(newDemoCmd(), newServeCmd(), newConfigCmd(), newVersionCmd(), newDBCmd(), newAlertCmd(), newRegressCmd(), newLoadCmd(), newStressCmd(), newNetCmd(), newWebCmd(), newRollbackCmd(), newSilenceCmd())
	return root
}

// oneLine joins a multi-line error (errors.Join, config problems) with "; "
// so that the reason fits the one line a failing command prints.
func oneLine(err error) string {
	lines := strings.FieldsFunc(err.Error(), func(r rune) bool { return r == '\n' || r == '\r' })
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return strings.Join(lines, "; ")
}
