package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Alertmanager forwards alerts to an Alertmanager's /api/v2/alerts, which
// then groups, silences and routes them as its own configuration says. It
// is a Forwarder: the dispatcher re-sends what fires every resend
// interval, with an endsAt a few intervals ahead, so Alertmanager resolves
// the alerts by itself if this process dies; a resolution is sent with its
// endsAt. For an HA pair, configure one channel per Alertmanager.
type Alertmanager struct {
	endpoint    string
	client      *http.Client
	header      http.Header
	generator   string
	resend      time.Duration
	timeout     time.Duration
	redactedURL string
}

// AlertmanagerOptions configures an Alertmanager forwarder.
type AlertmanagerOptions struct {
	// Client sends the requests; default a plain client.
	Client *http.Client
	// Header is added to every request, for example Authorization.
	Header http.Header
	// GeneratorURL links each alert back to its source, the dashboard.
	GeneratorURL string
	// ResendInterval is how often the dispatcher re-sends (its
	// ResendInterval); endsAt of a firing alert is four of them ahead, as
	// Prometheus sets it. Default 1m.
	ResendInterval time.Duration
	// Timeout bounds one post; default 10s.
	Timeout time.Duration
}

// NewAlertmanager returns a forwarder to the Alertmanager at baseURL
// (http://alertmanager:9093, with or without a path prefix).
func NewAlertmanager(baseURL string, opts AlertmanagerOptions) (*Alertmanager, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("alert: Alertmanager URL must be an absolute http or https URL, got %q", redactURL(baseURL))
	}
	if opts.Client == nil {
		opts.Client = &http.Client{}
	}
	if opts.ResendInterval <= 0 {
		opts.ResendInterval = DefaultResendInterval
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultWebhookTimeout
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/api/v2/alerts"
	return &Alertmanager{
		endpoint: u.String(), client: opts.Client, header: opts.Header, generator: opts.GeneratorURL,
		resend: opts.ResendInterval, timeout: opts.Timeout, redactedURL: u.Scheme + "://" + u.Host,
	}, nil
}

// Name is "alertmanager".
func (am *Alertmanager) Name() string { return "alertmanager" }

// postableAlert is Alertmanager's API v2 PostableAlert.
type postableAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt,omitzero"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// Forward posts the alerts in one request.
func (am *Alertmanager) Forward(ctx context.Context, alerts []Forwarded) error {
	body := make([]postableAlert, 0, len(alerts))
	now := time.Now()
	for _, f := range alerts {
		ends := f.EndsAt
		if !f.Alert.Resolved {
			ends = now.Add(4 * am.resend)
		}
		body = append(body, postableAlert{
			Labels: f.Labels, Annotations: annotations(f.Alert), StartsAt: f.StartsAt, EndsAt: ends,
			GeneratorURL: am.generator,
		})
	}
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("alertmanager: encode: %w", err)
	}
	return am.post(ctx, b)
}

// Notify sends a notification's alerts once, as a test of the channel.
func (am *Alertmanager) Notify(ctx context.Context, n *Notification) error {
	var fs []Forwarded
	for _, a := range n.Alerts() {
		start := n.Starts[a.ID]
		if start.IsZero() {
			start = a.Time
		}
		f := Forwarded{Alert: a, Labels: LabelSet(a), StartsAt: start}
		if a.Resolved {
			f.EndsAt = time.Now()
		}
		fs = append(fs, f)
	}
	return am.Forward(ctx, fs)
}

func (am *Alertmanager) post(ctx context.Context, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, am.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, am.endpoint, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("alertmanager %s: %w", am.redactedURL, err)
	}
	for k, vs := range am.header {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "perfengine-alert")
	resp, err := am.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			ue.URL = am.redactedURL
		}
		return fmt.Errorf("alertmanager: %w", err)
	}
	defer resp.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 300 {
		return fmt.Errorf("alertmanager %s: status %d: %s", am.redactedURL, resp.StatusCode, oneLine(string(head)))
	}
	return nil
}
