package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// runUnder runs one command under a bare root, the way run does, so a test
// does not depend on the rest of the command tree.
func runUnder(cmd *cobra.Command, args []string, stdout, stderr io.Writer) int {
	root := &cobra.Command{Use: "perfengine", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(cmd)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.ExecuteContext(context.Background()); err != nil {
		fmt.Fprintln(stderr, "perfengine: "+oneLine(err))
		return 1
	}
	return 0
}
