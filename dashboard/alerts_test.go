package dashboard_test

import (
	"strings"
	"testing"
	"time"

	"github.com/perfengine/perfengine/alert"
	"github.com/perfengine/perfengine/dashboard"
)

func TestSilenceEndpoints(t *testing.T) {
	f := newFixture(t, dashboard.Options{Token: token})
	jsonBearer := map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/json"}
	for _, s := range []struct {
		name   string
		header map[string]string
		body   string
		status int
		code   string
	}{
		{"no token", map[string]string{"Content-Type": "application/json"}, `{"matchers":"target=db","duration":"1h","createdBy":"ops"}`, 401, "unauthorized"},
		{"bad matcher", jsonBearer, `{"matchers":"target","duration":"1h","createdBy":"ops"}`, 400, "invalid"},
		{"matches everything", jsonBearer, `{"matchers":"target=~\".*\"","duration":"1h","createdBy":"ops"}`, 400, "invalid"},
		{"no duration", jsonBearer, `{"matchers":"target=db","createdBy":"ops"}`, 400, "invalid"},
		{"negative duration", jsonBearer, `{"matchers":"target=db","duration":"-1h","createdBy":"ops"}`, 400, "invalid"},
		{"anonymous", jsonBearer, `{"matchers":"target=db","duration":"1h"}`, 400, "invalid"},
		{"unknown id", jsonBearer, `{"id":"nope","matchers":"target=db","duration":"1h","createdBy":"ops"}`, 404, "not_found"},
		{"ok", jsonBearer, `{"matchers":"alertname=\"status\",target=db","duration":"2h","createdBy":"ops","comment":"migration"}`, 201, ""},
	} {
		r := f.do(t, "POST", "/api/v1/silences", s.header, s.body)
		if r.status != s.status || (s.code != "" && !strings.Contains(r.body, `"code":"`+s.code+`"`)) {
			t.Fatalf("%s: %d %s, want %d %s", s.name, r.status, r.body, s.status, s.code)
		}
	}
	list := decode[struct {
		Silences []struct {
			alert.Silence
			State string `json:"state"`
		} `json:"silences"`
	}](t, f.do(t, "GET", "/api/v1/silences", nil, "").body)
	if len(list.Silences) != 1 || list.Silences[0].State != "active" || list.Silences[0].Comment != "migration" ||
		time.Until(list.Silences[0].EndsAt) < 119*time.Minute {
		t.Fatalf("silences = %+v", list.Silences)
	}
	id := list.Silences[0].ID
	if r := f.do(t, "DELETE", "/api/v1/silences/"+id, nil, ""); r.status != 401 {
		t.Errorf("expire without a token: %d", r.status)
	}
	if r := f.do(t, "DELETE", "/api/v1/silences/"+id, map[string]string{"Authorization": "Bearer " + token}, ""); r.status != 204 {
		t.Errorf("expire: %d %s", r.status, r.body)
	}
	if r := f.do(t, "DELETE", "/api/v1/silences/nope", map[string]string{"Authorization": "Bearer " + token}, ""); r.status != 404 {
		t.Errorf("expire unknown: %d %s", r.status, r.body)
	}
	if got := f.eng.Silences(); len(got) != 1 || got[0].State(time.Now()) != alert.SilenceExpired {
		t.Errorf("after expiry: %+v", got)
	}
	if r := f.do(t, "GET", "/api/v1/alerts", nil, ""); r.status != 200 || !strings.Contains(r.body, `"alerts":[`) {
		t.Errorf("alerts: %d %s", r.status, r.body)
	}
}

func FuzzParseSilenceRequest(f *testing.F) {
	for _, s := range []string{
		`{"matchers":"target=db","duration":"1h","createdBy":"ops"}`,
		`{"matchers":"a=~\"(\"","duration":"1h","createdBy":"ops"}`,
		`{"matchers":"a=\"x,y\",b!~\"z\"","endsAt":"2030-01-01T00:00:00Z","createdBy":"ops"}`,
		`{}`, `[]`, `{"matchers":"x=1"}{}`,
	} {
		f.Add("application/json", []byte(s))
	}
	now := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		s, err := dashboard.ParseSilenceRequest(ct, body, now)
		if err != nil {
			return
		}
		if len(s.Matchers) == 0 || !s.EndsAt.After(now) || s.EndsAt.Sub(now) > 367*24*time.Hour {
			t.Fatalf("accepted %+v", s)
		}
	})
}
