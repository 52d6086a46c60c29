package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func runAlertCmd(args []string, stdout, stderr io.Writer) int {
	return runUnder(newAlertCmd(), args, stdout, stderr)
}

func TestAlertTest(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var msg struct{ Text string }
		body, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(body, &msg)
		got = append(got, msg.Text)
		if strings.HasSuffix(r.URL.Path, "/gone") {
			http.Error(w, "no such hook", http.StatusNotFound)
		}
	}))
	defer srv.Close()
	t.Setenv("ALERT_WEBHOOK_URL", "")
	t.Setenv("ALERT_EMAIL_ENDPOINT", "")

	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   string // substring
		stderr   string // substring of the last line
		received int
	}{
		{"webhook ok", []string{"alert", "test", "--webhook", srv.URL + "/hook"}, 0, "webhook", "sending a test alert via webhook", 1},
		{"json", []string{"alert", "test", "--webhook", srv.URL + "/hook", "--json"}, 0, `"ok": true`, "", 1},
		{"webhook refused", []string{"alert", "test", "--webhook", srv.URL + "/gone"}, 1, "FAILED", "perfengine: 1 of 1 notifiers failed", 1},
		{"nothing configured", []string{"alert", "test"}, 1, "", "perfengine: no notifier configured", 0},
		{"bad endpoint", []string{"alert", "test", "--email", "smtp://h/"}, 1, "", "no recipient", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got = nil
			var stdout, stderr bytes.Buffer
			code := runAlertCmd(tc.args, &stdout, &stderr)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr %s", code, tc.code, stderr.String())
			}
			if !strings.Contains(stdout.String(), tc.stdout) {
				t.Errorf("stdout %q, want it to contain %q", stdout.String(), tc.stdout)
			}
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			if !strings.Contains(lines[len(lines)-1], tc.stderr) {
				t.Errorf("stderr %q, want its last line to contain %q", stderr.String(), tc.stderr)
			}
			if len(got) != tc.received {
				t.Errorf("receiver got %d alerts, want %d", len(got), tc.received)
			}
			if tc.received > 0 && !strings.HasPrefix(got[0], "[INFO] perfengine: test alert") {
				t.Errorf("received %q", got[0])
			}
		})
	}
}

// smtpSink is the smallest SMTP server the email channel can deliver to:
// it accepts every message and keeps its data.
type smtpSink struct {
	ln   net.Listener
	mu   sync.Mutex
	msgs []string
}

func newSMTPSink(t *testing.T) *smtpSink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpSink{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return s
}

func (s *smtpSink) serve(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(c)
	fmt.Fprint(c, "220 sink ESMTP\r\n")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			fmt.Fprint(c, "250 sink\r\n")
		case strings.HasPrefix(cmd, "DATA"):
			fmt.Fprint(c, "354 go on\r\n")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(l)
			}
			s.mu.Lock()
			s.msgs = append(s.msgs, b.String())
			s.mu.Unlock()
			fmt.Fprint(c, "250 queued\r\n")
		case strings.HasPrefix(cmd, "QUIT"):
			fmt.Fprint(c, "221 bye\r\n")
			return
		default:
			fmt.Fprint(c, "250 ok\r\n")
		}
	}
}

func (s *smtpSink) messages() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.msgs...)
}

// TestAlertTestChannel sends the test alert through named channels of a
// configuration: email to a local SMTP server, Alertmanager's API, and
// not through the channels left out.
func TestAlertTestChannel(t *testing.T) {
	t.Setenv("ALERT_WEBHOOK_URL", "")
	t.Setenv("ALERT_EMAIL_ENDPOINT", "")
	sink := newSMTPSink(t)
	var slackHits, amHits int
	var amBody []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/slack":
			slackHits++
		case "/am/api/v2/alerts":
			amHits++
			_ = json.NewDecoder(r.Body).Decode(&amBody)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	cfg := filepath.Join(t.TempDir(), "perfengine.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`alerts:
  channels:
    - {name: ops-mail, type: email, url: 'smtp://%s/?to=ops@example.com&from=perf@example.com'}
    - {name: team-slack, type: slack, url: '%s/slack', enabled: false}
    - {name: am, type: alertmanager, url: '%s/am'}
`, sink.ln.Addr(), srv.URL, srv.URL)), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := runAlertCmd([]string{"alert", "test", "--config", cfg, "--channel", "ops-mail", "--channel", "am"}, &stdout, &stderr); code != 0 {
		t.Fatalf("alert test exited %d: %s", code, stderr.String())
	}
	msgs := sink.messages()
	if len(msgs) != 1 || !strings.Contains(msgs[0], "Subject: [perfengine] [INFO] perfengine: test alert") {
		t.Fatalf("SMTP server got %q, want the test alert", msgs)
	}
	if amHits != 1 || len(amBody) != 1 || amBody[0]["labels"].(map[string]any)["alertname"] != "test alert" {
		t.Errorf("Alertmanager got %d posts: %v", amHits, amBody)
	}
	if slackHits != 0 {
		t.Errorf("the channel not asked for was sent to")
	}
	stderr.Reset()
	if code := runAlertCmd([]string{"alert", "test", "--config", cfg, "--channel", "pager"}, &stdout, &stderr); code != 1 ||
		!strings.Contains(stderr.String(), "no such channel (configured: ops-mail, team-slack, am)") {
		t.Errorf("an unknown channel: %d %q", code, stderr.String())
	}
}
