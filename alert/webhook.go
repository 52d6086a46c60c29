package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Webhook defaults.
const (
	DefaultWebhookTimeout = 10 * time.Second
	DefaultWebhookRetries = 3
	DefaultWebhookBackoff = 500 * time.Millisecond
	maxWebhookBackoff     = 30 * time.Second
)

// WebhookOptions configures a Webhook. Zero values mean the defaults.
type WebhookOptions struct {
	// Timeout bounds each attempt; default 10s.
	Timeout time.Duration
	// Retries after a failed attempt (a network error, 429 or 5xx); default
	// 3; negative disables retries.
	Retries int
	// Backoff is the base of the exponential, fully jittered wait between
	// attempts; default 500ms, capped at 30s. A Retry-After header wins.
	Backoff time.Duration
	// Client sends the requests; default a client without its own timeout
	// (Timeout applies per attempt).
	Client *http.Client
	// Header is added to every request, for example Authorization.
	Header http.Header
	// Format of the body: FormatJSON (default) or FormatSlack.
	Format string
}

// Webhook body formats.
const (
	// FormatJSON is Alertmanager's webhook payload (version 4), plus a
	// "text" field that makes it a valid Slack and Mattermost message.
	FormatJSON = "json"
	// FormatSlack is a Slack incoming-webhook message: text and blocks.
	FormatSlack = "slack"
)

// Webhook POSTs each notification as JSON, in the Format of its options.
// Safe for concurrent use.
type Webhook struct {
	url  string
	opts WebhookOptions
	// sleep waits between attempts; tests replace it to observe the
	// backoff without waiting.
	sleep func(ctx context.Context, d time.Duration) error
}

// NewWebhook returns a notifier posting to rawURL, which must be an
// absolute http or https URL.
func NewWebhook(rawURL string, opts WebhookOptions) (*Webhook, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("alert: webhook URL must be an absolute http or https URL, got %q", redactURL(rawURL))
	}
	switch opts.Format {
	case "":
		opts.Format = FormatJSON
	case FormatJSON, FormatSlack:
	default:
		return nil, fmt.Errorf("alert: webhook format %q: want json or slack", truncate(opts.Format, 20))
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultWebhookTimeout
	}
	if opts.Retries == 0 {
		opts.Retries = DefaultWebhookRetries
	}
	if opts.Retries < 0 {
		opts.Retries = 0
	}
	if opts.Backoff <= 0 {
		opts.Backoff = DefaultWebhookBackoff
	}
	if opts.Client == nil {
		opts.Client = &http.Client{}
	}
	return &Webhook{url: rawURL, opts: opts, sleep: sleepCtx}, nil
}

// Name is "webhook", or "slack" for the Slack format.
func (w *Webhook) Name() string {
	if w.opts.Format == FormatSlack {
		return "slack"
	}
	return "webhook"
}

// Notify posts the notification, retrying on network errors, 429 and 5xx.
func (w *Webhook) Notify(ctx context.Context, n *Notification) error {
	var body []byte
	var err error
	if w.opts.Format == FormatSlack {
		body, err = json.Marshal(slackMessage(n))
	} else {
		body, err = json.Marshal(webhookMessage(n))
	}
	if err != nil {
		return fmt.Errorf("webhook: encode notification: %w", err)
	}
	var last error
	for attempt := 0; ; attempt++ {
		retryAfter, err := w.post(ctx, body)
		if err == nil {
			return nil
		}
		if last != nil && ctx.Err() != nil {
			// The caller's deadline cut this attempt short: the answer
			// to the one before says why the channel fails.
			last = fmt.Errorf("%w; then gave up: %v", last, ctx.Err())
			break
		}
		last = err
		var perm *permanentError
		if errors.As(err, &perm) || attempt >= w.opts.Retries || ctx.Err() != nil {
			break
		}
		wait := retryAfter
		if wait <= 0 {
			wait = backoff(w.opts.Backoff, attempt)
		}
		if err := w.sleep(ctx, wait); err != nil {
			break
		}
	}
	return fmt.Errorf("webhook %s: %w", redactURL(w.url), last)
}

// permanentError is a response that a retry would not change (4xx).
type permanentError struct{ status int }

func (e *permanentError) Error() string { return fmt.Sprintf("status %d", e.status) }

func (w *Webhook) post(ctx context.Context, body []byte) (retryAfter time.Duration, err error) {
	ctx, cancel := context.WithTimeout(ctx, w.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return 0, &permanentError{}
	}
	for k, vs := range w.opts.Header {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "perfengine-alert")
	resp, err := w.opts.Client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			ue.URL = redactURL(ue.URL) // it would print the secret path
		}
		return 0, err
	}
	defer resp.Body.Close()
	// Reading what is left lets the connection be reused; the first
	// bytes also explain a failure.
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode < 300:
		return 0, nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return parseRetryAfter(resp.Header.Get("Retry-After")), fmt.Errorf("status %d: %s", resp.StatusCode, oneLine(string(head)))
	default:
		return 0, fmt.Errorf("%w: %s", &permanentError{resp.StatusCode}, oneLine(string(head)))
	}
}

// backoff is "full jitter": uniform in [0, min(cap, base·2^attempt)], which
// spreads retries of many senders instead of synchronising them.
func backoff(base time.Duration, attempt int) time.Duration {
	d := base << min(attempt, 20)
	if d <= 0 || d > maxWebhookBackoff {
		d = maxWebhookBackoff
	}
	return time.Duration(rand.Int64N(int64(d) + 1))
}

func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return min(time.Duration(s)*time.Second, maxWebhookBackoff)
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(time.Until(t), 0), maxWebhookBackoff)
	}
	return 0
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// redactURL hides what may be secret before a URL is printed in an error
// or log: credentials, the query, and the path (Slack's webhook URLs are
// bearer tokens in the path).
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	if u.User != nil {
		u.User = url.User("xxxxx")
	}
	if u.RawQuery != "" {
		u.RawQuery = "xxxxx"
	}
	if u.Path != "" && u.Path != "/" {
		u.Path = "/..."
	}
	return u.String()
}
