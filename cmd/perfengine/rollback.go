package main

import (
	"fmt"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/perfengine/perfengine"
	"github.com/perfengine/perfengine/dashboard"
)

func newRollbackCmd() *cobra.Command {
	var req dashboard.RollbackRequest
	var c daemonClient
	cmd := &cobra.Command{
		Use:   "rollback --reason TEXT [--from V] [--to V]",
		Short: "Roll the watched service back through the running daemon, recorded with a reason",
		Long: `rollback asks the running daemon (perfengine serve) to roll back from one
release to another, the seed's triggerManualRollback. The daemon's regression
module performs it with its rollback command or webhook (or records a dry run
when neither is configured); the cooldown applies. The rollback is recorded as
an action, with the reason, in the daemon's history.

--from defaults to the daemon's version key and --to to regression.rollbackTo.
The daemon's token comes from --token or PERFENGINE_TOKEN.`,
		Example: `  PERFENGINE_TOKEN=... perfengine rollback --reason "checkout errors after deploy" --from v2.1.0 --to v2.0.3
  perfengine rollback --server http://10.0.0.5:7070 --reason "p95 doubled" --json`,
		Args: cobra.NoArgs,
	}
	cmd.Flags().StringVar(&req.Reason, "reason", "", "why, recorded with the rollback (required)")
	cmd.Flags().StringVar(&req.From, "from", "", "the `version` to leave (default: the daemon's version)")
	cmd.Flags().StringVar(&req.To, "to", "", "the `version` to return to (default: regression.rollbackTo)")
	c.flags(cmd)
	_ = cmd.MarkFlagRequired("reason")
	asJSON := addJSONFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		var a perfengine.Action
		// A rollback that was attempted and failed comes back as a failed
		// action under 502.
		if err := c.do(cmd, http.MethodPost, "/api/v1/rollback", req, &a, http.StatusBadGateway); err != nil {
			return fmt.Errorf("rollback: %w", err)
		}
		if *asJSON {
			if err := writeJSON(cmd.OutOrStdout(), a); err != nil {
				return err
			}
		} else {
			fmt.Fprintf(cmd.OutOrStdout(), "rollback %s: %s -> %s, %s: %s\n", a.ID, a.Params["from"], a.Params["to"], a.State, a.Result)
		}
		if a.State != perfengine.ActionApplied {
			return fmt.Errorf("rollback failed: %s", a.Error)
		}
		return nil
	}
	return cmd
}
