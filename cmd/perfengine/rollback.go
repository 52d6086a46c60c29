package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/perfengine/perfengine"
	"github.com/perfengine/perfengine/dashboard"
)

func newRollbackCmd() *cobra.Command {
	var req dashboard.RollbackRequest
	var server, token string
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
	cmd.Flags().StringVar(&server, "server", "http://"+perfengine.DefaultServerAddr, "the daemon's `URL`")
	cmd.Flags().StringVar(&token, "token", "", "the daemon's token (default: PERFENGINE_TOKEN)")
	_ = cmd.MarkFlagRequired("reason")
	asJSON := addJSONFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if token == "" {
			token = os.Getenv("PERFENGINE_TOKEN")
		}
		if token == "" {
			return errors.New("rollback needs the daemon's token: --token or PERFENGINE_TOKEN")
		}
		body, err := json.Marshal(req)
		if err != nil {
			return err
		}
		hreq, err := http.NewRequestWithContext(cmd.Context(), http.MethodPost, strings.TrimRight(server, "/")+"/api/v1/rollback", bytes.NewReader(body))
		if err != nil {
			return fmt.Errorf("--server %q: %w", server, err)
		}
		hreq.Header.Set("Content-Type", "application/json")
		hreq.Header.Set("Authorization", "Bearer "+token)
		resp, err := (&http.Client{Timeout: 2 * time.Minute}).Do(hreq)
		if err != nil {
			return fmt.Errorf("reach the daemon: %w", err)
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil {
			return fmt.Errorf("read the daemon's answer: %w", err)
		}
		var a perfengine.Action
		if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusBadGateway {
			var e struct {
				Error dashboard.Error `json:"error"`
			}
			if json.Unmarshal(raw, &e) == nil && e.Error.Message != "" {
				return fmt.Errorf("daemon refused the rollback (%s): %s", e.Error.Code, e.Error.Message)
			}
			return fmt.Errorf("daemon answered %s", resp.Status)
		}
		if err := json.Unmarshal(raw, &a); err != nil {
			return fmt.Errorf("daemon's answer: %w", err)
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
