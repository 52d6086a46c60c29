package alert

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseEmailEndpoint(t *testing.T) {
	tests := []struct {
		in      string
		want    EmailConfig
		wantErr string
	}{
		{"smtp://mail.example.com/?to=ops@example.com", EmailConfig{Host: "mail.example.com", Port: 25, From: "perfengine@localhost", To: []string{"ops@example.com"}}, ""},
		{"smtp://u:p%40ss@127.0.0.1:2525/?from=pe@example.com&to=a@example.com,b@example.com&to=c@example.com",
			EmailConfig{Host: "127.0.0.1", Port: 2525, Username: "u", Password: "p@ss", From: "pe@example.com", To: []string{"a@example.com", "b@example.com", "c@example.com"}}, ""},
		{"smtps://mail.example.com/?to=Ops+Team+<ops@example.com>", EmailConfig{Host: "mail.example.com", Port: 465, From: "perfengine@localhost", To: []string{"ops@example.com"}, ImplicitTLS: true}, ""},
		{"smtp://[::1]:25/?to=a@b", EmailConfig{Host: "::1", Port: 25, From: "perfengine@localhost", To: []string{"a@b"}}, ""},
		{"http://mail.example.com/?to=a@b", EmailConfig{}, "scheme"},
		{"smtp:///?to=a@b", EmailConfig{}, "no host"},
		{"smtp://h:99999/?to=a@b", EmailConfig{}, "port"},
		{"smtp://h:0/?to=a@b", EmailConfig{}, "port"},
		{"smtp://h/", EmailConfig{}, "no recipient"},
		{"smtp://h/?to=,", EmailConfig{}, "no recipient"},
		{"smtp://h/?to=not-an-address", EmailConfig{}, "to"},
		{"smtp://h/?to=a@b&from=nope", EmailConfig{}, "from"},
		{"smtp://h/?to=a@b%0d%0aBcc:evil@x", EmailConfig{}, "to"},
		{"::", EmailConfig{}, "not a URL"},
	}
	for _, tc := range tests {
		got, err := ParseEmailEndpoint(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseEmailEndpoint(%q) = %v, want an error containing %q", tc.in, err, tc.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "p@ss") {
				t.Errorf("error shows the password: %v", err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseEmailEndpoint(%q) = %+v, %v, want %+v", tc.in, got, err, tc.want)
		}
	}
}

var fixedNow = func() time.Time { return time.Date(2026, 11, 27, 5, 1, 0, 0, time.UTC) }

func TestEmailNotify(t *testing.T) {
	srv := newSMTPD(t, func(s *smtpd) { s.auth = true })
	e, err := NewEmail("smtp://alerts:s3cret@"+srv.addr()+"/?from=perfengine@example.com&to=ops@example.com,dba@example.com",
		EmailOptions{Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	a := testAlert()
	a.Detail += "\n.\nthe line above is a lone dot, which SMTP must not take as the end"
	if err := e.Notify(context.Background(), NotificationOf(a)); err != nil {
		t.Fatalf("Notify = %v", err)
	}
	msgs := srv.messages()
	if len(msgs) != 1 {
		t.Fatalf("server got %d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if m.user != "alerts" || m.pass != "s3cret" {
		t.Errorf("auth = %q/%q, want alerts/s3cret", m.user, m.pass)
	}
	if m.from != "perfengine@example.com" || !reflect.DeepEqual(m.to, []string{"ops@example.com", "dba@example.com"}) {
		t.Errorf("envelope = %s -> %v", m.from, m.to)
	}
	golden(t, "email.txt", []byte(m.data+"\n"))
}

func TestEmailSubjectEncoding(t *testing.T) {
	srv := newSMTPD(t, nil)
	e, err := NewEmail("smtp://"+srv.addr()+"/?to=ops@example.com", EmailOptions{Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	a := Alert{Severity: SeverityWarning, Source: "api", Title: "Latenz über 1 s\r\nBcc: evil@example.com"}
	if err := e.Notify(context.Background(), NotificationOf(a)); err != nil {
		t.Fatal(err)
	}
	data := srv.messages()[0].data
	header, _, _ := strings.Cut(data, "\n\n")
	if strings.Contains(header, "\nBcc:") {
		t.Errorf("title injected a header:\n%s", header)
	}
	if !strings.Contains(header, "Subject: =?utf-8?q?") {
		t.Errorf("non-ASCII subject not Q-encoded:\n%s", header)
	}
}

func TestEmailFailures(t *testing.T) {
	tests := []struct {
		name      string
		configure func(*smtpd)
		endpoint  string // %s is the server address
		timeout   time.Duration
		wantErr   string
		wantIs    error
	}{
		{"recipient rejected", func(s *smtpd) { s.rejectRcpt = "nobody@example.com" },
			"smtp://%s/?to=ops@example.com,nobody@example.com", 0, "rcpt to nobody@example.com", nil},
		{"credentials without AUTH", nil, "smtp://u:p@%s/?to=ops@example.com", 0, "no AUTH", nil},
		{"silent server", func(s *smtpd) { s.silent = true }, "smtp://%s/?to=ops@example.com", 50 * time.Millisecond, "", context.DeadlineExceeded},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newSMTPD(t, tc.configure)
			e, err := NewEmail(strings.Replace(tc.endpoint, "%s", srv.addr(), 1), EmailOptions{Timeout: tc.timeout, Now: fixedNow})
			if err != nil {
				t.Fatal(err)
			}
			err = e.Notify(context.Background(), NotificationOf(testAlert()))
			if err == nil {
				t.Fatal("Notify = nil, want an error")
			}
			if tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Notify = %v, want it to mention %q", err, tc.wantErr)
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) && !strings.Contains(err.Error(), "timeout") {
				t.Errorf("Notify = %v, want %v or a timeout", err, tc.wantIs)
			}
			if len(srv.messages()) != 0 {
				t.Errorf("a failed delivery still delivered a message")
			}
		})
	}
}

func TestEmailNoServer(t *testing.T) {
	srv := newSMTPD(t, nil)
	addr := srv.addr()
	srv.close()
	e, err := NewEmail("smtp://"+addr+"/?to=ops@example.com", EmailOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Notify(context.Background(), NotificationOf(testAlert())); err == nil || !strings.Contains(err.Error(), addr) {
		t.Errorf("Notify to a closed port = %v, want an error naming %s", err, addr)
	}
}

func FuzzParseEmailEndpoint(f *testing.F) {
	for _, s := range []string{
		"smtp://u:p@127.0.0.1:2525/?from=a@b&to=c@d", "smtps://h/?to=a@b,c@d&to=e@f", "smtp://h",
		"smtp://[::1]:x/?to=a@b", "smtp://h/?to=%zz", "", "smtp:opaque", "smtp://h/?to=<a@b>",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, endpoint string) {
		c, err := ParseEmailEndpoint(endpoint)
		if err != nil {
			return
		}
		if c.Host == "" || c.Port < 1 || c.Port > 65535 || len(c.To) == 0 || c.From == "" {
			t.Errorf("ParseEmailEndpoint(%q) accepted an incomplete config %+v", endpoint, c)
		}
		for _, to := range append([]string{c.From}, c.To...) {
			if strings.ContainsAny(to, "\r\n") {
				t.Errorf("ParseEmailEndpoint(%q) accepted address %q with a line break", endpoint, to)
			}
		}
	})
}

// selfSigned returns a server config with a fresh certificate for
// 127.0.0.1 and a client config that trusts only it.
func selfSigned(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "smtp test"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}
	client = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	return server, client
}

// TestEmailTLS sends with credentials over STARTTLS and over implicit TLS
// (smtps), and refuses a server whose certificate is not trusted.
func TestEmailTLS(t *testing.T) {
	serverTLS, clientTLS := selfSigned(t)
	tests := []struct {
		name     string
		scheme   string
		implicit bool
		client   *tls.Config
		wantErr  string
	}{
		{"starttls", "smtp", false, clientTLS, ""},
		{"implicit", "smtps", true, clientTLS, ""},
		{"untrusted certificate", "smtp", false, &tls.Config{ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}, "starttls"},
		{"untrusted certificate, implicit", "smtps", true, &tls.Config{ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}, "certificate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newSMTPD(t, func(s *smtpd) { s.auth, s.tls, s.implicit = true, serverTLS, tc.implicit })
			e, err := NewEmail(tc.scheme+"://alerts:s3cret@"+srv.addr()+"/?to=ops@example.com", EmailOptions{TLS: tc.client, Now: fixedNow})
			if err != nil {
				t.Fatal(err)
			}
			err = e.Notify(context.Background(), NotificationOf(testAlert()))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Notify = %v, want an error mentioning %q", err, tc.wantErr)
				}
				if len(srv.messages()) != 0 {
					t.Error("a message was delivered over an untrusted connection")
				}
				return
			}
			if err != nil {
				t.Fatalf("Notify = %v", err)
			}
			msgs := srv.messages()
			if len(msgs) != 1 || !msgs[0].tls || msgs[0].user != "alerts" || msgs[0].pass != "s3cret" {
				t.Fatalf("server got %+v, want one message over TLS with the credentials", msgs)
			}
		})
	}
}

// TestEmailFromConfig sends through a server given field by field, as the
// engine's alerts.smtp section does for the seed's bare address.
func TestEmailFromConfig(t *testing.T) {
	srv := newSMTPD(t, func(s *smtpd) { s.auth = true })
	host, port, _ := net.SplitHostPort(srv.addr())
	p, _ := strconv.Atoi(port)
	to, err := ParseRecipients("alerts@company.com, Ops <ops@company.com>")
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEmailFromConfig(EmailConfig{Host: host, Port: p, Username: "perf", Password: "s3cret", To: to}, EmailOptions{Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Notify(context.Background(), NotificationOf(testAlert())); err != nil {
		t.Fatalf("Notify = %v", err)
	}
	msgs := srv.messages()
	if len(msgs) != 1 || msgs[0].user != "perf" || msgs[0].from != "perfengine@localhost" ||
		!reflect.DeepEqual(msgs[0].to, []string{"alerts@company.com", "ops@company.com"}) {
		t.Fatalf("server got %+v, want one message from perfengine@localhost to both, authenticated as perf", msgs)
	}
	for _, bad := range []EmailConfig{{Port: 25, To: to}, {Host: "h", Port: 0, To: to}, {Host: "h", Port: 25}} {
		if _, err := NewEmailFromConfig(bad, EmailOptions{}); err == nil {
			t.Errorf("NewEmailFromConfig(%+v) = nil error", bad)
		}
	}
}
