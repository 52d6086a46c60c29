package perfengine

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) EnvLookup {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestDefaultConfigIsValidAndSeedShaped(t *testing.T) {
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatalf("DefaultConfig().Validate() = %v", err)
	}
	if !c.Enabled || !c.AutoOptimize || c.AggressiveMode {
		t.Errorf("enabled/autoOptimize/aggressiveMode = %v/%v/%v, want true/true/false", c.Enabled, c.AutoOptimize, c.AggressiveMode)
	}
	if c.MonitoringInterval.D() != 30*time.Second {
		t.Errorf("interval = %s, want 30s", c.MonitoringInterval)
	}
	th := c.Thresholds
	got := []float64{th.CPU.Warning, th.CPU.Critical, th.Memory.Warning, th.Memory.Critical,
		th.ResponseTime.Warning, th.ResponseTime.Critical, th.Throughput.Warning, th.Throughput.Critical,
		th.ErrorRate.Warning, th.ErrorRate.Critical}
	want := []float64{70, 90, 0.8, 0.95, 1000, 2000, 100, 50, 0.01, 0.05}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("threshold %d = %g, want %g", i, got[i], want[i])
		}
	}
}

func TestApplyEnv(t *testing.T) {
	c := DefaultConfig()
	err := c.ApplyEnv(env(map[string]string{
		"PERFORMANCE_MONITORING_ENABLED":  "false",
		"PERFORMANCE_MONITORING_INTERVAL": "5000",
		"AUTO_OPTIMIZATION_ENABLED":       "false",
		"AGGRESSIVE_OPTIMIZATION":         "true",
		"CPU_WARNING_THRESHOLD":           "60",
		"CPU_CRITICAL_THRESHOLD":          "85",
		"MEMORY_WARNING_THRESHOLD":        "0.7",
		"MEMORY_CRITICAL_THRESHOLD":       "0.9",
		"REGRESSION_DETECTION_ENABLED":    "false",
		"AUTO_ROLLBACK_ENABLED":           "true",
		"REGRESSION_SENSITIVITY":          "aggressive",
		"ALERT_WEBHOOK_URL":               "http://127.0.0.1:9/hook",
		"ALERT_EMAIL_ENDPOINT":            "smtp://127.0.0.1:25/?to=ops@example.com",
	}))
	if err != nil {
		t.Fatalf("ApplyEnv: %v", err)
	}
	if c.Enabled || c.AutoOptimize || !c.AggressiveMode {
		t.Errorf("toggles not applied: %+v", c)
	}
	if c.MonitoringInterval.D() != 5*time.Second {
		t.Errorf("interval = %s, want 5s (a bare number is milliseconds)", c.MonitoringInterval)
	}
	if c.Thresholds.CPU != (Threshold{60, 85}) || c.Thresholds.Memory != (Threshold{0.7, 0.9}) {
		t.Errorf("thresholds = %+v %+v", c.Thresholds.CPU, c.Thresholds.Memory)
	}
	if c.Modules.Regression || !c.Regression.AutoRollbackEnabled || c.Regression.Sensitivity != "aggressive" {
		t.Errorf("regression = %+v %+v", c.Modules.Regression, c.Regression)
	}
	if c.Alerts.WebhookURL == "" || c.Alerts.EmailEndpoint == "" {
		t.Errorf("alerts = %+v", c.Alerts)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate() = %v", err)
	}
}

func TestApplyEnvRejectsMalformedValuesAndChangesNothing(t *testing.T) {
	c := DefaultConfig()
	err := c.ApplyEnv(env(map[string]string{
		"CPU_WARNING_THRESHOLD":          "abc",
		"PERFORMANCE_MONITORING_ENABLED": "maybe",
		"CPU_CRITICAL_THRESHOLD":         "95",
	}))
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("ApplyEnv = %v, want ErrInvalidConfig", err)
	}
	for _, want := range []string{"CPU_WARNING_THRESHOLD=abc", "PERFORMANCE_MONITORING_ENABLED=maybe"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if c.Thresholds.CPU.Critical != DefaultCPUCritical {
		t.Errorf("a valid variable was applied although another was malformed: cpu critical = %g", c.Thresholds.CPU.Critical)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		want   []string // substrings, each naming a field
	}{
		{"warning above critical", func(c *Config) { c.Thresholds.CPU.Warning = 95 }, []string{"thresholds.cpu.warning=95", "critical level 90"}},
		{"memory above 1", func(c *Config) { c.Thresholds.Memory.Critical = 1.5 }, []string{"thresholds.memory.critical=1.5", "(0, 1]"}},
		{"throughput inverted", func(c *Config) { c.Thresholds.Throughput.Critical = 200 }, []string{"thresholds.throughput.critical=200"}},
		{"interval too short", func(c *Config) { c.MonitoringInterval = Duration(time.Millisecond) }, []string{"monitoringInterval=1ms"}},
		{"bad sensitivity", func(c *Config) { c.Regression.Sensitivity = "paranoid" }, []string{"regression.sensitivity=paranoid"}},
		{"bad webhook", func(c *Config) { c.Alerts.WebhookURL = "ftp://x" }, []string{"alerts.webhookURL=ftp://x"}},
		{"bad addr", func(c *Config) { c.Server.Addr = "nowhere" }, []string{"server.addr=nowhere"}},
		{"dsn password redacted", func(c *Config) { c.Database.DSN = "mysql://u:secret@h/db" }, []string{"database.dsn", "xxxxx"}},
		{"several at once", func(c *Config) {
			c.Thresholds.ErrorRate.Warning = 2
			c.Thresholds.ResponseTime.Warning = -1
		}, []string{"thresholds.errorRate.warning=2", "thresholds.responseTime.warning=-1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.mutate(&c)
			err := c.Validate()
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("Validate() = %v, want ErrInvalidConfig", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("Validate() = %q leaks a password", err)
			}
		})
	}
}

func TestLoadConfigYAML(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "perfengine.yaml")
	yaml := `
enabled: true
autoOptimize: false
monitoringInterval: 1500   # milliseconds, as in the seed
thresholds:
  cpu: {warning: 50, critical: 80}
  responseTime: {warning: 300, critical: 800}
modules:
  browser: false
regression:
  sensitivity: conservative
store:
  dataDir: ` + dir + `
`
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CPU_CRITICAL_THRESHOLD", "85")
	c, err := LoadConfig(path)
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	if c.AutoOptimize || c.MonitoringInterval.D() != 1500*time.Millisecond {
		t.Errorf("autoOptimize=%v interval=%s", c.AutoOptimize, c.MonitoringInterval)
	}
	if c.Thresholds.CPU != (Threshold{50, 85}) {
		t.Errorf("cpu = %+v, want {50 85}: the environment overrides the file", c.Thresholds.CPU)
	}
	if c.Thresholds.Memory != (Threshold{0.8, 0.95}) {
		t.Errorf("memory = %+v, want the defaults for keys the file does not set", c.Thresholds.Memory)
	}
	if c.Modules.Browser || !c.Modules.Database {
		t.Errorf("modules = %+v", c.Modules)
	}
}

func TestLoadConfigErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown key", "thresholds:\n  cpuu: {warning: 1}\n", "cpuu"},
		{"bad duration", "monitoringInterval: soon\n", "duration"},
		{"wrong type", "enabled: [1]\n", "Config.Enabled"},
		{"invalid value", "thresholds:\n  cpu: {warning: 95, critical: 90}\n", "thresholds.cpu.warning=95"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadConfig(path)
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("LoadConfig(%q) = %v, want an invalid-config error naming %q", tc.yaml, err, tc.want)
			}
		})
	}
	if _, err := LoadConfig(filepath.Join(dir, "missing.yaml")); err == nil || errors.Is(err, ErrInvalidConfig) {
		t.Errorf("LoadConfig(missing) = %v, want a read error", err)
	}
}

func TestEnvVarNamesCoverSeed(t *testing.T) {
	names := strings.Join(EnvVarNames(), " ")
	for _, n := range []string{"PERFORMANCE_MONITORING_ENABLED", "PERFORMANCE_MONITORING_INTERVAL", "AUTO_OPTIMIZATION_ENABLED",
		"AGGRESSIVE_OPTIMIZATION", "CPU_WARNING_THRESHOLD", "CPU_CRITICAL_THRESHOLD", "MEMORY_WARNING_THRESHOLD",
		"MEMORY_CRITICAL_THRESHOLD", "REGRESSION_DETECTION_ENABLED", "AUTO_ROLLBACK_ENABLED", "REGRESSION_SENSITIVITY",
		"ALERT_WEBHOOK_URL", "ALERT_EMAIL_ENDPOINT"} {
		if !strings.Contains(names, n) {
			t.Errorf("EnvVarNames() lacks %s", n)
		}
	}
}

// FuzzConfigYAML checks that no YAML document makes the loader panic, and
// that whatever it accepts is valid.
func FuzzConfigYAML(f *testing.F) {
	f.Add([]byte("enabled: true\nmonitoringInterval: 30s\n"))
	f.Add([]byte("thresholds:\n  cpu: {warning: 70, critical: 90}\n"))
	f.Add([]byte("monitoringInterval: 1e300\n"))
	f.Add([]byte("modules: {database: false}\nalerts: {webhookURL: 'http://x'}\n"))
	f.Add([]byte("- [}\n"))
	f.Add([]byte("targets: !0 00\n"))
	f.Add([]byte("modules: {counter: yes, cacheWarmer: 1}\ncustom: {counter: {step: 3, secret: s}, cacheWarmer: {paths: [x], timeout: 3}, nosuch: {}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c := DefaultConfig()
		if err := c.UnmarshalYAMLBytes(data); err != nil {
			return
		}
		_ = c.Validate()
	})
}

// FuzzConfigEnv checks every environment variable against arbitrary values.
func FuzzConfigEnv(f *testing.F) {
	f.Add("PERFORMANCE_MONITORING_INTERVAL", "30s")
	f.Add("CPU_WARNING_THRESHOLD", "abc")
	f.Add("PERFORMANCE_MONITORING_INTERVAL", "-1")
	f.Add("PERFORMANCE_MONITORING_INTERVAL", "1e400")
	f.Add("MEMORY_CRITICAL_THRESHOLD", "NaN")
	f.Add("PERFENGINE_TARGETS", "[{name: web, type: http, url: x}]")
	f.Add("PERFENGINE_REGRESSION_ROLLBACK_COMMAND", "[a, {b: c}]")
	f.Add("PERFENGINE_DATABASE_DSN_FILE", "/nonexistent")
	f.Add("PERFENGINE_CUSTOM_COUNTER_STEP", "-3")
	f.Add("PERFENGINE_MODULES_COUNTER", "maybe")
	f.Fuzz(func(t *testing.T, key, value string) {
		c := DefaultConfig()
		before := c
		if err := c.ApplyEnv(env(map[string]string{key: value})); err != nil {
			if !reflect.DeepEqual(c, before) {
				t.Fatalf("ApplyEnv(%s=%q) failed but changed the config", key, value)
			}
			return
		}
		_ = c.Validate()
	})
}

func TestURLErrorsHidePasswords(t *testing.T) {
	c := DefaultConfig()
	c.Alerts.WebhookURL = "ftp://user:hunter2@example.com/hook"
	err := c.Validate()
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "alerts.webhookURL") {
		t.Errorf("Validate() = %v, want an error naming the field without the password", err)
	}
}
