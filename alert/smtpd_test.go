package alert

import (
	"crypto/tls"
	"encoding/base64"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"testing"
)

// smtpd is a minimal SMTP server over loopback for the email tests: enough
// of RFC 5321 for net/smtp (EHLO, AUTH PLAIN, MAIL, RCPT, DATA, RSET,
// NOOP, QUIT), recording what it receives.
type smtpd struct {
	l          net.Listener
	auth       bool        // advertise AUTH PLAIN
	rejectRcpt string      // answer 550 to this recipient
	silent     bool        // accept connections and never answer
	tls        *tls.Config // offer STARTTLS with it
	implicit   bool        // with tls: TLS from the first byte (smtps)

	mu    sync.Mutex
	msgs  []smtpMessage
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

type smtpMessage struct {
	tls        bool // the message came over TLS
	user, pass string
	from       string
	to         []string
	data       string
}

func newSMTPD(t *testing.T, configure func(*smtpd)) *smtpd {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpd{l: l, conns: map[net.Conn]bool{}}
	if configure != nil {
		configure(s)
	}
	s.wg.Go(s.serve)
	t.Cleanup(s.close)
	return s
}

func (s *smtpd) addr() string { return s.l.Addr().String() }

func (s *smtpd) messages() []smtpMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]smtpMessage(nil), s.msgs...)
}

func (s *smtpd) close() {
	s.l.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *smtpd) serve() {
	for {
		c, err := s.l.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[c] = true
		s.mu.Unlock()
		s.wg.Go(func() {
			defer func() {
				c.Close()
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
			}()
			if s.implicit {
				c = tls.Server(c, s.tls)
			}
			s.session(c)
		})
	}
}

func (s *smtpd) session(c net.Conn) {
	tp := textproto.NewConn(c)
	_, isTLS := c.(*tls.Conn)
	if s.silent {
		_, _ = tp.ReadLine() // until the client gives up and closes
		return
	}
	var m smtpMessage
	reply := func(line string) bool { return tp.PrintfLine("%s", line) == nil }
	if !reply("220 test ESMTP") {
		return
	}
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO":
			reply("250-test")
			if s.auth {
				reply("250-AUTH PLAIN")
			}
			if s.tls != nil && !isTLS {
				reply("250-STARTTLS")
			}
			reply("250 8BITMIME")
		case "STARTTLS":
			if s.tls == nil || isTLS {
				reply("502 not implemented")
				continue
			}
			reply("220 ready to start TLS")
			tc := tls.Server(c, s.tls)
			if err := tc.Handshake(); err != nil {
				return
			}
			tp, isTLS = textproto.NewConn(tc), true
			m = smtpMessage{}
		case "HELO", "NOOP", "RSET":
			reply("250 ok")
		case "AUTH":
			mech, resp, _ := strings.Cut(arg, " ")
			raw, err := base64.StdEncoding.DecodeString(resp)
			parts := strings.Split(string(raw), "\x00")
			if !s.auth || mech != "PLAIN" || err != nil || len(parts) != 3 {
				reply("504 unsupported")
				continue
			}
			m.user, m.pass = parts[1], parts[2]
			reply("235 authenticated")
		case "MAIL":
			m.from = strings.Trim(strings.TrimPrefix(strings.SplitN(arg, " ", 2)[0], "FROM:"), "<>")
			reply("250 ok")
		case "RCPT":
			to := strings.Trim(strings.TrimPrefix(arg, "TO:"), "<>")
			if to == s.rejectRcpt {
				reply("550 no such user")
				continue
			}
			m.to = append(m.to, to)
			reply("250 ok")
		case "DATA":
			reply("354 go ahead")
			lines, err := tp.ReadDotLines()
			if err != nil {
				return
			}
			m.data = strings.Join(lines, "\n")
			m.tls = isTLS
			s.mu.Lock()
			s.msgs = append(s.msgs, m)
			s.mu.Unlock()
			m = smtpMessage{user: m.user, pass: m.pass}
			reply("250 queued")
		case "QUIT":
			reply("221 bye")
			return
		default:
			reply("502 not implemented")
		}
	}
}
