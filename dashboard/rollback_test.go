package dashboard_test

import (
	"strings"
	"testing"

	"github.com/perfengine/perfengine"
	"github.com/perfengine/perfengine/dashboard"
)

func TestRollbackEndpoint(t *testing.T) {
	f := newFixture(t, dashboard.Options{Token: token})
	jsonBearer := map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/json"}
	steps := []struct {
		name   string
		header map[string]string
		body   string
		status int
		code   string
	}{
		{"no token", map[string]string{"Content-Type": "application/json"}, `{"reason":"x","from":"v2","to":"v1"}`, 401, "unauthorized"},
		{"no reason", jsonBearer, `{"from":"v2","to":"v1"}`, 400, "invalid"},
		{"unknown field", jsonBearer, `{"reason":"x","version":"v2"}`, 400, "invalid"},
		{"no from and no version", jsonBearer, `{"reason":"x","to":"v1"}`, 400, "invalid"},
		{"rollback", jsonBearer, `{"reason":"checkout errors","from":"v2","to":"v1"}`, 200, ""},
		{"inside the cooldown", jsonBearer, `{"reason":"again","from":"v1","to":"v0"}`, 409, "conflict"},
	}
	for _, s := range steps {
		r := f.do(t, "POST", "/api/v1/rollback", s.header, s.body)
		if r.status != s.status || (s.code != "" && !strings.Contains(r.body, `"code":"`+s.code+`"`)) {
			t.Fatalf("%s: %d %s, want %d %s", s.name, r.status, r.body, s.status, s.code)
		}
		if s.status == 200 {
			a := decode[perfengine.Action](t, r.body)
			if a.State != perfengine.ActionApplied || a.Params["reason"] != "checkout errors" || !strings.Contains(a.Result, "dry run") {
				t.Errorf("rollback answered %+v, want an applied dry-run rollback with the reason", a)
			}
		}
	}
	hist := decode[dashboard.ActionsBody](t, f.do(t, "GET", "/api/v1/actions?state=applied", nil, "").body)
	if len(hist.Actions) != 1 || hist.Actions[0].Kind != "rollback" {
		t.Errorf("applied actions %+v, want the manual rollback", hist.Actions)
	}
}

func TestRollbackNeedsAConfiguredToken(t *testing.T) {
	f := newFixture(t, dashboard.Options{})
	r := f.do(t, "POST", "/api/v1/rollback", map[string]string{"Content-Type": "application/json"}, `{"reason":"x","from":"v2","to":"v1"}`)
	if r.status != 403 {
		t.Errorf("without a server token: %d %s, want 403", r.status, r.body)
	}
}

func FuzzParseRollbackRequest(f *testing.F) {
	for _, s := range []string{`{"reason":"x","from":"v2","to":"v1"}`, `{}`, `{"reason":"\u0000"}`, `[]`, `{"reason":"a"}{}`} {
		f.Add("application/json", []byte(s))
	}
	f.Add("text/plain", []byte("reason"))
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		req, err := dashboard.ParseRollbackRequest(ct, body)
		if err != nil {
			return
		}
		for _, v := range []string{req.Reason, req.From, req.To} {
			if strings.ContainsAny(v, "\n\r\x00") {
				t.Fatalf("accepted a control character in %q", v)
			}
		}
	})
}
