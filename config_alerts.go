package perfengine

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/perfengine/perfengine/alert"
)

// AlertsConfig configures notifications: where they go (the seed's webhook
// and email settings, and any number of channels) and how the dispatcher
// groups them, with Alertmanager's route settings and defaults.
type AlertsConfig struct {
	// WebhookURL receives a JSON POST per notification (Alertmanager's
	// webhook payload with a Slack-compatible text). Env ALERT_WEBHOOK_URL.
	WebhookURL string `yaml:"webhookURL" json:"webhookURL" perfengine:"secret"`
	// EmailEndpoint is where alert emails go, in either of two forms: the
	// seed's bare address list (alerts@company.com, ops@company.com), sent
	// through the server of SMTP; or a whole
	// smtp[s]://[user[:pass]@]host[:port]/?to=a@b URL, which ignores SMTP.
	// Env ALERT_EMAIL_ENDPOINT.
	EmailEndpoint string `yaml:"emailEndpoint" json:"emailEndpoint" perfengine:"secret"`
	// SMTP is the mail server for a bare address list.
	SMTP SMTPConfig `yaml:"smtp" json:"smtp"`
	// Channels are further destinations, each with a name and a type.
	Channels []AlertChannel `yaml:"channels" json:"channels,omitempty"`
	// GroupBy are the labels whose values make one notification group;
	// default alertname and target; ["..."] makes every alert its own.
	GroupBy []string `yaml:"groupBy" json:"groupBy"`
	// GroupWait is how long a new group waits for more alerts; 30s.
	GroupWait Duration `yaml:"groupWait" json:"groupWait"`
	// GroupInterval is how often a group may notify again with news; 5m.
	GroupInterval Duration `yaml:"groupInterval" json:"groupInterval"`
	// RepeatInterval is how long an unchanged firing group stays quiet; 4h.
	RepeatInterval Duration `yaml:"repeatInterval" json:"repeatInterval"`
	// ResolveTimeout resolves an alert the engine stopped reporting
	// without resolving it (after a restart, say); 5m, and never less than
	// three monitoring intervals.
	ResolveTimeout Duration `yaml:"resolveTimeout" json:"resolveTimeout"`
	// InhibitRules mute target alerts while a source alert fires; default
	// one rule: a critical status mutes its target's warnings.
	InhibitRules []InhibitRuleConfig `yaml:"inhibitRules" json:"inhibitRules"`
	// ExternalURL is where people reach the daemon, for the links in
	// alerts (approve an action, the dashboard); default none.
	ExternalURL string `yaml:"externalURL" json:"externalURL,omitempty"`
}

// AlertChannel is one named destination of alerts.
type AlertChannel struct {
	Name string `yaml:"name" json:"name"`
	// Type is webhook, slack, email or alertmanager.
	Type string `yaml:"type" json:"type"`
	// Enabled defaults to true.
	Enabled *bool `yaml:"enabled" json:"enabled,omitempty"`
	// URL: the webhook's or Slack's URL, the Alertmanager's base URL, or
	// for email an smtp[s]:// endpoint.
	URL string `yaml:"url" json:"-" perfengine:"secret"`
	// To lists email recipients sent through alerts.smtp, when URL is
	// not an smtp[s]:// endpoint.
	To string `yaml:"to" json:"to,omitempty"`
	// SendResolved sends a notice when a group's alerts resolve; default
	// true. Alertmanager channels always send resolutions.
	SendResolved *bool `yaml:"sendResolved" json:"sendResolved,omitempty"`
	// Headers are added to each request of a webhook, Slack or
	// Alertmanager channel, for example Authorization.
	Headers map[string]string `yaml:"headers" json:"-" perfengine:"secret"`
}

// Alert channel types.
const (
	ChannelWebhook      = "webhook"
	ChannelSlack        = "slack"
	ChannelEmail        = "email"
	ChannelAlertmanager = "alertmanager"
)

func (c AlertChannel) enabled() bool { return c.Enabled == nil || *c.Enabled }

// InhibitRuleConfig is an inhibition rule in Alertmanager's matcher
// syntax: Source and Target are lists such as
// `alertname="status",severity="critical"`.
type InhibitRuleConfig struct {
	Source string   `yaml:"source" json:"source"`
	Target string   `yaml:"target" json:"target"`
	Equal  []string `yaml:"equal" json:"equal"`
}

func (r InhibitRuleConfig) rule() (alert.InhibitRule, error) {
	src, err := alert.ParseMatchers(r.Source)
	if err != nil {
		return alert.InhibitRule{}, fmt.Errorf("source: %w", err)
	}
	dst, err := alert.ParseMatchers(r.Target)
	if err != nil {
		return alert.InhibitRule{}, fmt.Errorf("target: %w", err)
	}
	return alert.InhibitRule{SourceMatchers: src, TargetMatchers: dst, Equal: r.Equal}, nil
}

// SMTPConfig is the mail server alerts go through when
// alerts.emailEndpoint is an address list.
type SMTPConfig struct {
	// Host is the server; default localhost, the machine's own MTA.
	Host string `yaml:"host" json:"host"`
	// Port defaults to 25 (587 is submission with STARTTLS, 465 implicit TLS).
	Port int `yaml:"port" json:"port"`
	// Username and Password authenticate (PLAIN, only over TLS or to a
	// loopback server); empty sends without authentication.
	Username string `yaml:"username" json:"username"`
	Password string `yaml:"password" json:"password" perfengine:"secret"`
	// From is the sender; default perfengine@localhost.
	From string `yaml:"from" json:"from"`
	// ImplicitTLS speaks TLS from the first byte (port 465); otherwise
	// STARTTLS is used when the server offers it.
	ImplicitTLS bool `yaml:"implicitTLS" json:"implicitTLS"`
}

// Default SMTP server of a bare alerts.emailEndpoint.
const (
	DefaultSMTPHost = "localhost"
	DefaultSMTPPort = 25
)

func defaultAlertsConfig() AlertsConfig {
	return AlertsConfig{
		SMTP:           SMTPConfig{Host: DefaultSMTPHost, Port: DefaultSMTPPort},
		GroupBy:        slices.Clone(alert.DefaultGroupBy),
		GroupWait:      Duration(alert.DefaultGroupWait),
		GroupInterval:  Duration(alert.DefaultGroupInterval),
		RepeatInterval: Duration(alert.DefaultRepeatInterval),
		ResolveTimeout: Duration(alert.DefaultResolveTimeout),
		InhibitRules: []InhibitRuleConfig{{
			Source: `alertname="status",severity="critical"`,
			Target: `severity="warning",event!="true",alertname!~"action_.*"`,
			Equal:  []string{"target"},
		}},
	}
}

// isEmailURL tells the URL form of alerts.emailEndpoint from the address
// list.
func isEmailURL(endpoint string) bool { return strings.Contains(endpoint, "://") }

// email is the server and recipients of the section's emailEndpoint; ok
// is false when none is configured.
func (c AlertsConfig) email() (cfg alert.EmailConfig, ok bool, err error) {
	if c.EmailEndpoint == "" {
		return cfg, false, nil
	}
	cfg, err = c.emailTo(c.EmailEndpoint)
	return cfg, true, err
}

// emailTo reads an smtp[s]:// endpoint, or an address list sent through
// the section's SMTP server.
func (c AlertsConfig) emailTo(endpoint string) (alert.EmailConfig, error) {
	if isEmailURL(endpoint) {
		return alert.ParseEmailEndpoint(endpoint)
	}
	to, err := alert.ParseRecipients(endpoint)
	if err != nil {
		return alert.EmailConfig{}, err
	}
	if len(to) == 0 {
		return alert.EmailConfig{}, fmt.Errorf("no recipient in %q", endpoint)
	}
	cfg := alert.EmailConfig{
		Host: c.SMTP.Host, Port: c.SMTP.Port, Username: c.SMTP.Username, Password: c.SMTP.Password,
		From: c.SMTP.From, To: to, ImplicitTLS: c.SMTP.ImplicitTLS,
	}
	if cfg.From == "" {
		cfg.From = "perfengine@localhost"
	}
	return cfg, nil
}

// Channels builds the section's channels: the seed's webhook and email
// (named webhook and email), then the enabled entries of channels. HTTP
// goes through client, nil for a plain one. None is an empty list.
func (c AlertsConfig) BuildChannels(client *http.Client, resend time.Duration) ([]alert.Channel, error) {
	var cs []alert.Channel
	if c.WebhookURL != "" {
		w, err := alert.NewWebhook(c.WebhookURL, alert.WebhookOptions{Client: client})
		if err != nil {
			return nil, err
		}
		cs = append(cs, alert.Channel{Name: "webhook", Notifier: w, SendResolved: true})
	}
	ec, ok, err := c.email()
	if err != nil {
		return nil, fmt.Errorf("alert: email: %w", err)
	}
	if ok {
		e, err := alert.NewEmailFromConfig(ec, alert.EmailOptions{})
		if err != nil {
			return nil, err
		}
		cs = append(cs, alert.Channel{Name: "email", Notifier: e, SendResolved: true})
	}
	for _, ch := range c.Channels {
		if !ch.enabled() {
			continue
		}
		built, err := c.channel(ch, client, resend)
		if err != nil {
			return nil, fmt.Errorf("alert: channel %s: %w", ch.Name, err)
		}
		cs = append(cs, built)
	}
	return cs, nil
}

func (c AlertsConfig) channel(ch AlertChannel, client *http.Client, resend time.Duration) (alert.Channel, error) {
	out := alert.Channel{Name: ch.Name, SendResolved: ch.SendResolved == nil || *ch.SendResolved}
	header := http.Header{}
	for k, v := range ch.Headers {
		header.Set(k, v)
	}
	switch ch.Type {
	case ChannelWebhook, ChannelSlack:
		format := alert.FormatJSON
		if ch.Type == ChannelSlack {
			format = alert.FormatSlack
		}
		w, err := alert.NewWebhook(ch.URL, alert.WebhookOptions{Client: client, Header: header, Format: format})
		if err != nil {
			return out, err
		}
		out.Notifier = w
	case ChannelEmail:
		endpoint := ch.URL
		if endpoint == "" {
			endpoint = ch.To
		}
		ec, err := c.emailTo(endpoint)
		if err != nil {
			return out, err
		}
		e, err := alert.NewEmailFromConfig(ec, alert.EmailOptions{})
		if err != nil {
			return out, err
		}
		out.Notifier = e
	case ChannelAlertmanager:
		generator := ""
		if c.ExternalURL != "" {
			generator = strings.TrimRight(c.ExternalURL, "/") + "/"
		}
		am, err := alert.NewAlertmanager(ch.URL, alert.AlertmanagerOptions{Client: client, Header: header,
			GeneratorURL: generator, ResendInterval: resend})
		if err != nil {
			return out, err
		}
		out.Forwarder = am
	default:
		return out, fmt.Errorf("type %q: want webhook, slack, email or alertmanager", ch.Type)
	}
	return out, nil
}

// Notifiers builds a notifier for every channel of the section, enabled
// or not, for `perfengine alert test`: each by its name.
func (c AlertsConfig) Notifiers(client *http.Client) (map[string]alert.Notifier, []string, error) {
	all := c
	all.Channels = nil
	for _, ch := range c.Channels {
		on := true
		ch.Enabled = &on
		all.Channels = append(all.Channels, ch)
	}
	cs, err := all.BuildChannels(client, 0)
	if err != nil {
		return nil, nil, err
	}
	out := map[string]alert.Notifier{}
	var names []string
	for _, ch := range cs {
		n := ch.Notifier
		if n == nil {
			n = ch.Forwarder.(alert.Notifier) // Alertmanager posts a test alert as one
		}
		out[ch.Name] = n
		names = append(names, ch.Name)
	}
	return out, names, nil
}

// dispatcherOptions are the section's routing settings; the resolve
// timeout is at least three monitoring intervals, since the engine puts
// its alerts once a cycle.
func (c AlertsConfig) dispatcherOptions(interval time.Duration) (alert.DispatcherOptions, error) {
	opts := alert.DispatcherOptions{
		GroupBy:        c.GroupBy,
		GroupWait:      max(c.GroupWait.D(), time.Nanosecond), // 0 means at once, not the default
		GroupInterval:  c.GroupInterval.D(),
		RepeatInterval: c.RepeatInterval.D(),
		ResolveTimeout: max(c.ResolveTimeout.D(), 3*interval),
		ResendInterval: max(interval, time.Second),
		Inhibit:        []alert.InhibitRule{},
	}
	if opts.GroupBy == nil {
		opts.GroupBy = []string{}
	}
	for i, r := range c.InhibitRules {
		rule, err := r.rule()
		if err != nil {
			return opts, fmt.Errorf("alerts.inhibitRules[%d]: %w", i, err)
		}
		opts.Inhibit = append(opts.Inhibit, rule)
	}
	return opts, nil
}

func (c AlertsConfig) validate(p *problems) {
	checkURL(p, "alerts.webhookURL", c.WebhookURL, "http", "https")
	// The endpoint is parsed as the notifier will parse it, so a missing
	// recipient or a bad address fails at load, and the password stays
	// out of the message.
	if c.EmailEndpoint != "" {
		if _, _, err := c.email(); err != nil {
			msg := strings.TrimPrefix(err.Error(), "alert: ")
			if isEmailURL(c.EmailEndpoint) {
				p.add("alerts.emailEndpoint", redactDSN(c.EmailEndpoint), "must be smtp[s]://[user:pass@]host[:port]/?to=name@example.com: %s", msg)
			} else {
				p.add("alerts.emailEndpoint", c.EmailEndpoint, "must be addresses such as alerts@company.com, or an smtp[s]:// URL: %s", msg)
			}
		}
		if !isEmailURL(c.EmailEndpoint) {
			if c.SMTP.Host == "" {
				p.add("alerts.smtp.host", c.SMTP.Host, "must name the mail server for alerts.emailEndpoint's addresses")
			}
			if c.SMTP.Port < 1 || c.SMTP.Port > 65535 {
				p.add("alerts.smtp.port", c.SMTP.Port, "must be 1-65535")
			}
			if c.SMTP.From != "" {
				if _, err := alert.ParseRecipients(c.SMTP.From); err != nil {
					p.add("alerts.smtp.from", c.SMTP.From, "must be an address such as perf@company.com")
				}
			}
		}
	}
	seen := map[string]bool{"webhook": c.WebhookURL != "", "email": c.EmailEndpoint != ""}
	for i, ch := range c.Channels {
		field := fmt.Sprintf("alerts.channels[%d]", i)
		switch {
		case ch.Name == "":
			p.add(field+".name", ch.Name, "must name the channel")
		case seen[ch.Name]:
			p.add(field+".name", ch.Name, "is used by another channel")
		}
		seen[ch.Name] = true
		switch ch.Type {
		case ChannelWebhook, ChannelSlack, ChannelAlertmanager:
			checkURL(p, field+".url", ch.URL, "http", "https")
			if ch.URL == "" {
				p.add(field+".url", ch.URL, "is required for a %s channel", ch.Type)
			}
		case ChannelEmail:
			endpoint := cmp.Or(ch.URL, ch.To)
			if endpoint == "" {
				p.add(field+".to", ch.To, "must list recipients, or url an smtp[s]:// endpoint")
			} else if _, err := c.emailTo(endpoint); err != nil {
				p.add(field+".url", redactDSN(endpoint), "must be addresses or an smtp[s]:// URL: %s", strings.TrimPrefix(err.Error(), "alert: "))
			}
		default:
			p.add(field+".type", ch.Type, "must be webhook, slack, email or alertmanager")
		}
	}
	if c.GroupWait < 0 {
		p.add("alerts.groupWait", c.GroupWait, "must not be negative")
	}
	if c.GroupInterval <= 0 {
		p.add("alerts.groupInterval", c.GroupInterval, "must be positive")
	}
	if c.RepeatInterval <= 0 {
		p.add("alerts.repeatInterval", c.RepeatInterval, "must be positive")
	}
	if c.ResolveTimeout <= 0 {
		p.add("alerts.resolveTimeout", c.ResolveTimeout, "must be positive")
	}
	for i, r := range c.InhibitRules {
		if _, err := r.rule(); err != nil {
			p.add(fmt.Sprintf("alerts.inhibitRules[%d]", i), r.Source+" / "+r.Target, "%s", err)
		}
	}
	if c.ExternalURL != "" {
		checkURL(p, "alerts.externalURL", c.ExternalURL, "http", "https")
	}
}
