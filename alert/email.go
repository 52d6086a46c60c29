package alert

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/mail"
	"net/smtp"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultEmailTimeout bounds one delivery: connect, the SMTP dialogue and
// the message.
const DefaultEmailTimeout = 30 * time.Second

// EmailConfig is a parsed email endpoint.
type EmailConfig struct {
	Host     string
	Port     int
	Username string
	Password string
	From     string   // envelope and header sender
	To       []string // at least one
	// ImplicitTLS is set by the smtps scheme: TLS from the first byte
	// (port 465). Otherwise STARTTLS is used when the server offers it.
	ImplicitTLS bool
}

// ParseEmailEndpoint parses smtp://[user[:pass]@]host[:port]/?to=a@b[,c@d]
// [&from=e@f] (also smtps:// for implicit TLS). The port defaults to 25
// for smtp and 465 for smtps; from defaults to perfengine@localhost; to may
// repeat or hold a comma-separated list.
func ParseEmailEndpoint(endpoint string) (EmailConfig, error) {
	var c EmailConfig
	u, err := url.Parse(endpoint)
	if err != nil {
		return c, errors.New("alert: email endpoint is not a URL")
	}
	switch u.Scheme {
	case "smtp":
		c.Port = 25
	case "smtps":
		c.Port, c.ImplicitTLS = 465, true
	default:
		return c, fmt.Errorf("alert: email endpoint scheme %q: want smtp or smtps", truncate(u.Scheme, 20))
	}
	c.Host = u.Hostname()
	if c.Host == "" {
		return c, errors.New("alert: email endpoint has no host")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return c, fmt.Errorf("alert: email endpoint port %q: want 1-65535", truncate(p, 20))
		}
		c.Port = n
	}
	if u.User != nil {
		c.Username = u.User.Username()
		c.Password, _ = u.User.Password()
	}
	q := u.Query()
	c.From = "perfengine@localhost"
	if f := q.Get("from"); f != "" {
		addr, err := mail.ParseAddress(f)
		if err != nil {
			return c, fmt.Errorf("alert: email endpoint from %q: %w", truncate(f, 60), err)
		}
		c.From = addr.Address
	}
	for _, v := range q["to"] {
		to, err := ParseRecipients(v)
		if err != nil {
			return c, fmt.Errorf("alert: email endpoint %w", err)
		}
		c.To = append(c.To, to...)
	}
	if len(c.To) == 0 {
		return c, errors.New("alert: email endpoint has no recipient (add ?to=someone@example.com)")
	}
	return c, nil
}

// ParseRecipients reads a comma-separated list of addresses, such as the
// seed's ALERT_EMAIL_ENDPOINT=alerts@company.com; "Ops <ops@example.com>"
// is accepted and keeps the address.
func ParseRecipients(list string) ([]string, error) {
	var out []string
	for _, t := range strings.Split(list, ",") {
		if t = strings.TrimSpace(t); t == "" {
			continue
		}
		addr, err := mail.ParseAddress(t)
		if err != nil {
			return nil, fmt.Errorf("to %q: %w", truncate(t, 60), err)
		}
		out = append(out, addr.Address)
	}
	return out, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// EmailOptions configures an Email notifier. Zero values mean the defaults.
type EmailOptions struct {
	// Timeout bounds one delivery; default 30s.
	Timeout time.Duration
	// TLS configures STARTTLS and implicit TLS; default verifies the
	// server's certificate for the endpoint's host.
	TLS *tls.Config
	// Hostname is sent in EHLO; default "localhost".
	Hostname string
	// Now stamps the Date header; default time.Now.
	Now func() time.Time
}

// Email sends each notification as a plain-text message over SMTP. Credentials
// are only sent over TLS or to a loopback server (net/smtp's PLAIN rule).
// Safe for concurrent use: each notification is its own SMTP session.
type Email struct {
	cfg  EmailConfig
	opts EmailOptions
}

// NewEmail returns a notifier for an smtp:// or smtps:// endpoint (see
// ParseEmailEndpoint).
func NewEmail(endpoint string, opts EmailOptions) (*Email, error) {
	cfg, err := ParseEmailEndpoint(endpoint)
	if err != nil {
		return nil, err
	}
	return newEmail(cfg, opts), nil
}

func newEmail(cfg EmailConfig, opts EmailOptions) *Email {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultEmailTimeout
	}
	if opts.Hostname == "" {
		opts.Hostname = "localhost"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Email{cfg: cfg, opts: opts}
}

// NewEmailFromConfig returns a notifier for a server and recipients given
// field by field, as perfengine's alerts.smtp section does.
func NewEmailFromConfig(cfg EmailConfig, opts EmailOptions) (*Email, error) {
	switch {
	case cfg.Host == "":
		return nil, errors.New("alert: email: no SMTP host")
	case cfg.Port < 1 || cfg.Port > 65535:
		return nil, fmt.Errorf("alert: email: port %d: want 1-65535", cfg.Port)
	case len(cfg.To) == 0:
		return nil, errors.New("alert: email: no recipient")
	}
	if cfg.From == "" {
		cfg.From = "perfengine@localhost"
	}
	return newEmail(cfg, opts), nil
}

// Name is "email", the notifier's label in metrics.
func (e *Email) Name() string { return "email" }

func (e *Email) tlsConfig() *tls.Config {
	if e.opts.TLS != nil {
		return e.opts.TLS
	}
	return &tls.Config{ServerName: e.cfg.Host, MinVersion: tls.VersionTLS12}
}

// Notify delivers the notification to every recipient in one SMTP
// transaction.
func (e *Email) Notify(ctx context.Context, n *Notification) error {
	if err := e.send(ctx, n); err != nil {
		return fmt.Errorf("email via %s: %w", net.JoinHostPort(e.cfg.Host, strconv.Itoa(e.cfg.Port)), err)
	}
	return nil
}

func (e *Email) send(ctx context.Context, n *Notification) error {
	ctx, cancel := context.WithTimeout(ctx, e.opts.Timeout)
	defer cancel()
	err := e.session(ctx, n)
	if err != nil && ctx.Err() != nil {
		// The connection's deadline or its closing surfaced first; the
		// context says why.
		return fmt.Errorf("%w: %v", ctx.Err(), err)
	}
	return err
}

func (e *Email) session(ctx context.Context, n *Notification) error {
	addr := net.JoinHostPort(e.cfg.Host, strconv.Itoa(e.cfg.Port))
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	// net/smtp has no context: the deadline bounds the whole dialogue,
	// and closing the connection on cancel unblocks it early.
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	if e.cfg.ImplicitTLS {
		conn = tls.Client(conn, e.tlsConfig())
	}
	c, err := smtp.NewClient(conn, e.cfg.Host)
	if err != nil {
		conn.Close()
		return err
	}
	defer c.Close()
	if err := c.Hello(e.opts.Hostname); err != nil {
		return err
	}
	if !e.cfg.ImplicitTLS {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(e.tlsConfig()); err != nil {
				return fmt.Errorf("starttls: %w", err)
			}
		}
	}
	if e.cfg.Username != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return errors.New("server offers no AUTH, but the endpoint has credentials")
		}
		if err := c.Auth(smtp.PlainAuth("", e.cfg.Username, e.cfg.Password, e.cfg.Host)); err != nil {
			return fmt.Errorf("auth: %w", err)
		}
	}
	if err := c.Mail(e.cfg.From); err != nil {
		return fmt.Errorf("mail from: %w", err)
	}
	for _, to := range e.cfg.To {
		if err := c.Rcpt(to); err != nil {
			return fmt.Errorf("rcpt to %s: %w", to, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if _, err := w.Write(e.message(n)); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	return c.Quit()
}

// message renders RFC 5322 headers and a plain-text body. The subject is
// one line and Q-encoded when not ASCII, so a title cannot inject headers.
func (e *Email) message(n *Notification) []byte {
	var b strings.Builder
	header := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	header("From", e.cfg.From)
	header("To", strings.Join(e.cfg.To, ", "))
	header("Subject", mime.QEncoding.Encode("utf-8", "[perfengine] "+n.Summary()))
	header("Date", e.opts.Now().Format(time.RFC1123Z))
	if n.GroupKey != "" {
		header("X-Perfengine-Group", mime.QEncoding.Encode("utf-8", oneLine(n.GroupKey)))
	}
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "8bit")
	b.WriteString("\r\n")
	for _, line := range strings.Split(n.Text(), "\n") {
		b.WriteString(strings.TrimRight(line, "\r") + "\r\n")
	}
	return []byte(b.String())
}
