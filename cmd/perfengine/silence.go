package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/perfengine/perfengine"
	"github.com/perfengine/perfengine/alert"
	"github.com/perfengine/perfengine/dashboard"
)

// daemonClient talks to a running daemon's API.
type daemonClient struct {
	server, token string
}

func (c *daemonClient) flags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&c.server, "server", "http://"+perfengine.DefaultServerAddr, "the daemon's `URL`")
	cmd.Flags().StringVar(&c.token, "token", "", "the daemon's token (default: PERFENGINE_TOKEN)")
}

// do sends a request and decodes a 2xx answer, or one of the statuses
// also accepted, into out (when not nil); any other answer becomes the
// daemon's message.
func (c *daemonClient) do(cmd *cobra.Command, method, path string, body, out any, alsoAccepted ...int) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(cmd.Context(), method, strings.TrimRight(c.server, "/")+path, rd)
	if err != nil {
		return fmt.Errorf("--server %q: %w", c.server, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	token := c.token
	if token == "" {
		token = os.Getenv("PERFENGINE_TOKEN")
	}
	if method != http.MethodGet {
		if token == "" {
			return errors.New("this needs the daemon's token: --token or PERFENGINE_TOKEN")
		}
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Timeout: 2 * time.Minute}).Do(req)
	if err != nil {
		return fmt.Errorf("reach the daemon: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("read the daemon's answer: %w", err)
	}
	if resp.StatusCode/100 != 2 && !slices.Contains(alsoAccepted, resp.StatusCode) {
		var e struct {
			Error dashboard.Error `json:"error"`
		}
		if json.Unmarshal(raw, &e) == nil && e.Error.Message != "" {
			return fmt.Errorf("daemon refused (%s): %s", e.Error.Code, e.Error.Message)
		}
		return fmt.Errorf("daemon answered %s", resp.Status)
	}
	if out == nil || len(raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("daemon's answer: %w", err)
	}
	return nil
}

func newSilenceCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "silence",
		Short: "Mute alerts for a while through the running daemon",
		Long: `silence adds, lists and expires the daemon's silences: alerts whose labels
match every matcher of a silence are still tracked and shown, but not
notified until it ends. Matchers are Alertmanager's: name=value, name!=value,
name=~regexp, name!~regexp. The labels of the engine's alerts are alertname
(status, action_failed, slow_query, heap_leak, ...), severity, source,
target, module and subject. Silences are kept in the daemon's store.`,
	}
	cmd.AddCommand(newSilenceAddCmd(), newSilenceListCmd(), newSilenceExpireCmd())
	return cmd
}

func newSilenceAddCmd() *cobra.Command {
	var c daemonClient
	var matchers []string
	var duration time.Duration
	var comment, author string
	cmd := &cobra.Command{
		Use:   "add --matcher M [--matcher M...] --duration D --comment TEXT",
		Short: "Silence the alerts the matchers select",
		Example: `  PERFENGINE_TOKEN=... perfengine silence add --matcher 'target=orders-db' --duration 2h --comment "index rebuild"
  perfengine silence add --matcher 'alertname=~"slow_query|missing_index"' --matcher severity=warning --duration 30m --comment "load test" --json`,
		Args: cobra.NoArgs,
	}
	c.flags(cmd)
	cmd.Flags().StringArrayVar(&matchers, "matcher", nil, "a `matcher` such as target=db or alertname=~\"slow.*\"; repeatable, all must match")
	cmd.Flags().DurationVar(&duration, "duration", time.Hour, "how long the silence lasts")
	cmd.Flags().StringVar(&comment, "comment", "", "why (required)")
	cmd.Flags().StringVar(&author, "author", "", "who (default: $USER)")
	_ = cmd.MarkFlagRequired("matcher")
	_ = cmd.MarkFlagRequired("comment")
	asJSON := addJSONFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if _, err := alert.ParseMatchers(strings.Join(matchers, ",")); err != nil {
			return fmt.Errorf("--matcher: %w", err)
		}
		if author == "" {
			author = os.Getenv("USER")
		}
		if author == "" {
			author = "perfengine-cli"
		}
		req := dashboard.SilenceRequest{Matchers: strings.Join(matchers, ","), Duration: duration.String(), CreatedBy: author, Comment: comment}
		var s alert.Silence
		if err := c.do(cmd, http.MethodPost, "/api/v1/silences", req, &s); err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(cmd.OutOrStdout(), s)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "silence %s until %s\n", s.ID, s.EndsAt.Local().Format("2006-01-02 15:04:05"))
		return nil
	}
	return cmd
}

type silenceRow struct {
	alert.Silence
	State string `json:"state"`
}

func newSilenceListCmd() *cobra.Command {
	var c daemonClient
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the daemon's silences, active first",
		Args:  cobra.NoArgs,
	}
	c.flags(cmd)
	asJSON := addJSONFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		var body struct {
			Silences []silenceRow `json:"silences"`
		}
		if err := c.do(cmd, http.MethodGet, "/api/v1/silences", nil, &body); err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(cmd.OutOrStdout(), body.Silences)
		}
		if len(body.Silences) == 0 {
			fmt.Fprintln(cmd.OutOrStdout(), "no silences")
			return nil
		}
		for _, s := range body.Silences {
			var ms []string
			for _, m := range s.Matchers {
				ms = append(ms, m.String())
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s  %-8s until %s  %s  by %s: %s\n", s.ID, s.State,
				s.EndsAt.Local().Format("2006-01-02 15:04"), strings.Join(ms, ","), s.CreatedBy, s.Comment)
		}
		return nil
	}
	return cmd
}

func newSilenceExpireCmd() *cobra.Command {
	var c daemonClient
	cmd := &cobra.Command{
		Use:   "expire ID",
		Short: "End a silence now",
		Args:  cobra.ExactArgs(1),
	}
	c.flags(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := c.do(cmd, http.MethodDelete, "/api/v1/silences/"+url.PathEscape(args[0]), nil, nil); err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "silence %s expired\n", args[0])
		return nil
	}
	return cmd
}
