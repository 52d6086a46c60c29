package scale

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Actuator changes the number of instances. Scale returns once the change
// was accepted, or with the reason it was not.
type Actuator interface {
	Scale(ctx context.Context, c Change) error
	Name() string
}

// Reader is an Actuator that can tell the current count, as the
// Kubernetes scale subresource can.
type Reader interface {
	Current(ctx context.Context) (int, error)
}

// Change is one scaling order.
type Change struct {
	Target string   `json:"target"`
	From   int      `json:"from"`
	To     int      `json:"to"`
	Reason string   `json:"reason"`
	DryRun bool     `json:"dryRun,omitempty"`
	Undo   bool     `json:"undo,omitempty"` // a return to the previous count
	Detail Decision `json:"decision"`
}

// InstancesPlaceholder in a command's arguments is replaced by the desired
// count.
const InstancesPlaceholder = "{instances}"

// Command runs a program with the desired count: each argument equal to
// {instances} is replaced by it, or it is appended when no argument holds
// the placeholder. It is an argument list run without a shell, so nothing
// in a reason or a count is interpreted. The environment also carries
// PERFENGINE_INSTANCES, PERFENGINE_PREVIOUS_INSTANCES and
// PERFENGINE_SCALE_REASON.
type Command struct {
	Argv []string
	// Timeout bounds a run; default 1m. A command still running is killed.
	Timeout time.Duration
}

// Name is "command".
func (c *Command) Name() string { return "command" }

// maxOutput bounds what of a failed command's output goes in its error.
const maxOutput = 4 << 10

// Scale runs the command.
func (c *Command) Scale(ctx context.Context, ch Change) error {
	if len(c.Argv) == 0 {
		return errors.New("scale: command: no program configured")
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	n := strconv.Itoa(ch.To)
	args := make([]string, 0, len(c.Argv)+1)
	placed := false
	for _, a := range c.Argv[1:] {
		if strings.Contains(a, InstancesPlaceholder) {
			a = strings.ReplaceAll(a, InstancesPlaceholder, n)
			placed = true
		}
		args = append(args, a)
	}
	if !placed {
		args = append(args, n)
	}
	cmd := exec.CommandContext(ctx, c.Argv[0], args...)
	cmd.Env = append(cmd.Environ(),
		"PERFENGINE_INSTANCES="+n,
		"PERFENGINE_PREVIOUS_INSTANCES="+strconv.Itoa(ch.From),
		"PERFENGINE_SCALE_REASON="+oneLine(ch.Reason),
	)
	// A child that keeps the pipes open must not hold Wait past the kill.
	cmd.WaitDelay = time.Second
	var out limitedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		return fmt.Errorf("scale: command %s: %w after %v (killed)", c.Argv[0], ctx.Err(), timeout)
	}
	if err != nil {
		return fmt.Errorf("scale: command %s: %w: %s", c.Argv[0], err, strings.TrimSpace(out.String()))
	}
	return nil
}

// limitedBuffer keeps the first maxOutput bytes written to it.
type limitedBuffer struct{ bytes.Buffer }

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := maxOutput - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// Webhook POSTs each Change as JSON and takes any 2xx as done.
type Webhook struct {
	URL    string
	Client *http.Client
	Header http.Header
	// Timeout bounds one post; default 10s.
	Timeout time.Duration
}

// Name is "webhook".
func (w *Webhook) Name() string { return "webhook" }

// Scale posts the change.
func (w *Webhook) Scale(ctx context.Context, ch Change) error {
	body, err := json.Marshal(ch)
	if err != nil {
		return fmt.Errorf("scale: webhook: %w", err)
	}
	timeout := w.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("scale: webhook: %w", err)
	}
	for k, vs := range w.Header {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", "application/json")
	client := w.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			ue.URL = redact(ue.URL)
		}
		return fmt.Errorf("scale: webhook: %w", err)
	}
	defer resp.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("scale: webhook %s: status %d: %s", redact(w.URL), resp.StatusCode, oneLine(string(head)))
	}
	return nil
}

// redact keeps a URL's scheme and host: its path and query may be secret.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Scheme + "://" + u.Host
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
