package dashboard_test

import (
	"strings"
	"testing"

	"github.com/perfengine/perfengine"
	"github.com/perfengine/perfengine/dashboard"
)

func TestPatchConfig(t *testing.T) {
	f := newFixture(t, dashboard.Options{Token: token}, func(c *perfengine.Config) {
		c.Alerts.WebhookURL = "https://hooks.example.com/secret-path"
	})
	yamlBearer := map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/yaml"}
	jsonBearer := map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/json"}

	r := f.do(t, "PATCH", "/api/v1/config", yamlBearer, "debug: true\nthresholds:\n  cpu: {warning: 55}\nmodules: {memory: false}\n")
	if r.status != 200 {
		t.Fatalf("PATCH = %d %s", r.status, r.body)
	}
	got := f.eng.Config()
	if !got.Debug || got.Thresholds.CPU.Warning != 55 || got.Modules.Memory || got.Thresholds.CPU.Critical != 90 {
		t.Errorf("config after PATCH: debug %v, cpu %+v, memory module %v; want debug on, warning 55 with critical kept, memory off",
			got.Debug, got.Thresholds.CPU, got.Modules.Memory)
	}
	if got.Alerts.WebhookURL != "https://hooks.example.com/secret-path" {
		t.Errorf("a key the patch left out changed: webhook %q", got.Alerts.WebhookURL)
	}
	body := decode[dashboard.ConfigBody](t, r.body)
	if strings.Contains(r.body, "secret-path") || len(body.NotApplied) != 0 {
		t.Errorf("answer %s: want secrets redacted and everything applied", r.body)
	}

	r = f.do(t, "PATCH", "/api/v1/config", jsonBearer, `{"store": {"rawRetention": "48h"}, "debug": false}`)
	body = decode[dashboard.ConfigBody](t, r.body)
	if r.status != 200 || len(body.NotApplied) != 1 || !strings.Contains(body.NotApplied[0], "store") || f.eng.Config().Debug {
		t.Errorf("PATCH store = %d %+v, want debug off and the store named as not applied", r.status, body.NotApplied)
	}

	for _, bad := range []struct{ name, body, want string }{
		{"unknown key", "debgu: true", "did you mean debug"},
		{"out of range", `{"thresholds": {"cpu": {"warning": 95, "critical": 90}}}`, "thresholds.cpu.warning"},
		{"not YAML", "{{{", "invalid"},
	} {
		r := f.do(t, "PATCH", "/api/v1/config", yamlBearer, bad.body)
		if r.status != 400 || !strings.Contains(r.body, bad.want) {
			t.Errorf("%s: %d %s, want 400 mentioning %q", bad.name, r.status, r.body, bad.want)
		}
	}
	if c := f.eng.Config(); c.Thresholds.CPU.Warning != 55 {
		t.Errorf("a rejected PATCH changed the configuration: cpu %+v", c.Thresholds.CPU)
	}
	if r := f.do(t, "PATCH", "/api/v1/config", map[string]string{"Content-Type": "application/json"}, `{"debug": true}`); r.status != 401 {
		t.Errorf("without a token: %d, want 401", r.status)
	}
}
