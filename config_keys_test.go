package perfengine

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestEnvNames(t *testing.T) {
	for path, want := range map[string]string{
		"enabled":                          "PERFENGINE_ENABLED",
		"monitoringInterval":               "PERFENGINE_MONITORING_INTERVAL",
		"thresholds.cpu.warning":           "PERFENGINE_THRESHOLDS_CPU_WARNING",
		"api.redisURL":                     "PERFENGINE_API_REDIS_URL",
		"api.adaptiveTTL":                  "PERFENGINE_API_ADAPTIVE_TTL",
		"memory.gogcMin":                   "PERFENGINE_MEMORY_GOGC_MIN",
		"browser.lazyLoading.rootMargin":   "PERFENGINE_BROWSER_LAZY_LOADING_ROOT_MARGIN",
		"regression.rollbackWebhookURL":    "PERFENGINE_REGRESSION_ROLLBACK_WEBHOOK_URL",
		"browser.rumMaxRoutes":             "PERFENGINE_BROWSER_RUM_MAX_ROUTES",
		"server.token":                     "PERFENGINE_SERVER_TOKEN",
		"store.aggregateRetention":         "PERFENGINE_STORE_AGGREGATE_RETENTION",
		"database.slowQueryThreshold":      "PERFENGINE_DATABASE_SLOW_QUERY_THRESHOLD",
		"thresholds.responseTime.critical": "PERFENGINE_THRESHOLDS_RESPONSE_TIME_CRITICAL",
	} {
		k, ok := lookupConfigKey(path)
		if !ok {
			t.Errorf("no key %s", path)
			continue
		}
		if k.Env != want {
			t.Errorf("env of %s = %s, want %s", path, k.Env, want)
		}
	}
}

// envSample is a value of the key's type that differs from the default.
func envSample(t *testing.T, k ConfigKey, def any) string {
	t.Helper()
	switch v := def.(type) {
	case bool:
		if v {
			return "false"
		}
		return "true"
	case *bool:
		if v == nil || *v {
			return "false"
		}
		return "true"
	case Duration:
		return "7s"
	case string:
		return "sample-" + k.Path
	case int, int64:
		return "7"
	case float64:
		return "0.5"
	case []string:
		return "[a, 'b c']"
	case []AlertChannel:
		return "[{name: ops, type: webhook, url: 'http://127.0.0.1:9/'}]"
	case []InhibitRuleConfig:
		return `[{source: 'severity="critical"', target: 'severity="info"', equal: [target]}]`
	case TargetsConfig:
		return "[{name: web, type: http, url: 'http://127.0.0.1:9/'}]"
	}
	t.Fatalf("no sample for %s of type %T", k.Path, def)
	return ""
}

// TestEveryKeyIsSettableFromTheEnvironment sets each key through its
// PERFENGINE_ name alone and checks that exactly that key changed.
func TestEveryKeyIsSettableFromTheEnvironment(t *testing.T) {
	keys := ConfigKeys()
	if len(keys) < 90 {
		t.Fatalf("ConfigKeys() = %d keys, want the whole configuration", len(keys))
	}
	for _, k := range keys {
		t.Run(k.Path, func(t *testing.T) {
			def := DefaultConfig()
			c := def
			v := envSample(t, k, k.Value(def))
			if err := c.ApplyEnv(env(map[string]string{k.Env: v})); err != nil {
				t.Fatalf("ApplyEnv(%s=%s): %v", k.Env, v, err)
			}
			if reflect.DeepEqual(k.Value(c), k.Value(def)) {
				t.Fatalf("%s=%s left %s at %v", k.Env, v, k.Path, k.Value(c))
			}
			for _, other := range keys {
				if other.Path != k.Path && !reflect.DeepEqual(other.Value(c), other.Value(def)) {
					t.Errorf("%s=%s also changed %s", k.Env, v, other.Path)
				}
			}
		})
	}
}

func TestCanonicalEnvWinsOverSeedName(t *testing.T) {
	c := DefaultConfig()
	err := c.ApplyEnv(env(map[string]string{
		"CPU_WARNING_THRESHOLD":             "60",
		"PERFENGINE_THRESHOLDS_CPU_WARNING": "65",
		"MEMORY_WARNING_THRESHOLD":          "0.7",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Thresholds.CPU.Warning != 65 || c.Thresholds.Memory.Warning != 0.7 {
		t.Errorf("cpu.warning, memory.warning = %g, %g; want 65 (canonical wins), 0.7 (seed name)", c.Thresholds.CPU.Warning, c.Thresholds.Memory.Warning)
	}
}

func TestSecretsFromFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	c := DefaultConfig()
	err := c.ApplyEnv(env(map[string]string{
		"PERFENGINE_DATABASE_DSN_FILE": write("dsn", "postgres://app:s3cret@127.0.0.1/shop\n"),
		"PERFENGINE_TOKEN_FILE":        write("token", "tok-123\r\n"),
		"ALERT_WEBHOOK_URL_FILE":       write("hook", "https://hooks.example.com/T0/B0/xyz"),
		// Not a secret: _FILE is not read, so this is no override at all.
		"PERFENGINE_VERSION_FILE": write("version", "v9"),
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Database.DSN != "postgres://app:s3cret@127.0.0.1/shop" || c.Server.Token != "tok-123" ||
		c.Alerts.WebhookURL != "https://hooks.example.com/T0/B0/xyz" || c.Version != "" {
		t.Errorf("dsn, token, webhook, version = %q, %q, %q, %q", c.Database.DSN, c.Server.Token, c.Alerts.WebhookURL, c.Version)
	}

	both := DefaultConfig()
	err = both.ApplyEnv(env(map[string]string{
		"PERFENGINE_STORE_DSN":      "postgres://a:b@h/db",
		"PERFENGINE_STORE_DSN_FILE": write("store", "postgres://c:d@h/db"),
	}))
	if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "PERFENGINE_STORE_DSN") {
		t.Errorf("both a value and a file: %v, want an error naming the variable", err)
	}
	missing := DefaultConfig()
	err = missing.ApplyEnv(env(map[string]string{"PERFENGINE_SERVER_TOKEN_FILE": filepath.Join(dir, "absent")}))
	if err == nil || !strings.Contains(err.Error(), "PERFENGINE_SERVER_TOKEN_FILE") {
		t.Errorf("missing secret file: %v, want an error naming the variable", err)
	}
}

func TestRedactedHidesEverySecret(t *testing.T) {
	c := DefaultConfig()
	for _, k := range ConfigKeys() {
		if !k.Secret {
			continue
		}
		if err := k.setFromString(&c, "https://user:hunter2@example.com/path/hunter2?k=hunter2"); err != nil {
			t.Fatal(err)
		}
	}
	c.Server.Token = "hunter2"
	shown := c.Redacted()
	data, err := json.Marshal(shown)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "hunter2") {
		t.Errorf("Redacted() shows a secret: %s", data)
	}
	for in, want := range map[string]string{
		"https://user:hunter2@example.com/path/hunter2?k=hunter2": "https://user:xxxxx@example.com/...",
		"https://hooks.slack.com/services/T0/B0/hunter2":          "https://hooks.slack.com/...",
		"postgres://app@127.0.0.1:5432/shop?sslmode=disable":      "postgres://app@127.0.0.1:5432/...",
		"redis://127.0.0.1:6379":                                  "redis://127.0.0.1:6379",
		"host=db password=hunter2":                                "[redacted]",
		"hunter2":                                                 "[redacted]",
	} {
		if got := redactValue(in); got != want {
			t.Errorf("redactValue(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestUnknownKeysAreAllReported(t *testing.T) {
	c := DefaultConfig()
	err := c.UnmarshalYAMLBytes([]byte("monitoringIntervall: 5s\nthresholds:\n  cpu: {warnin: 50}\ndatabase:\n  indexbudget: 10\n  bogus: 1\n"))
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{
		"monitoringIntervall: is not a configuration key; did you mean monitoringInterval?",
		"thresholds.cpu.warnin: is not a configuration key; did you mean thresholds.cpu.warning?",
		"database.indexbudget: is not a configuration key; did you mean database.indexBudget?",
		"database.bogus: is not a configuration key",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestLoadConfigFromSaysWhereValuesCameFrom(t *testing.T) {
	path := filepath.Join(t.TempDir(), "perfengine.yaml")
	if err := os.WriteFile(path, []byte("monitoringInterval: 10s\nthresholds:\n  cpu: {warning: 60}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, origins, err := LoadConfigFrom(path, env(map[string]string{"PERFENGINE_THRESHOLDS_CPU_WARNING": "65", "AUTO_OPTIMIZATION_ENABLED": "false"}))
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]Origin{
		"monitoringInterval":      OriginFile,
		"thresholds.cpu.warning":  OriginEnv,
		"autoOptimize":            OriginEnv,
		"thresholds.cpu.critical": OriginDefault,
	} {
		if got := origins.Of(key); got != want {
			t.Errorf("origin of %s = %s, want %s", key, got, want)
		}
	}
	if cfg.Thresholds.CPU.Warning != 65 || cfg.MonitoringInterval.D().Seconds() != 10 || cfg.AutoOptimize {
		t.Errorf("cfg = %+v", cfg)
	}
}

func TestLoadConfigFromReportsFileAndEnvProblemsTogether(t *testing.T) {
	path := filepath.Join(t.TempDir(), "perfengine.yaml")
	if err := os.WriteFile(path, []byte("monitoringInterval: soon\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := LoadConfigFrom(path, env(map[string]string{"PERFENGINE_THRESHOLDS_CPU_WARNING": "lots"}))
	if err == nil || !strings.Contains(err.Error(), "monitoringInterval") || !strings.Contains(err.Error(), "PERFENGINE_THRESHOLDS_CPU_WARNING") {
		t.Errorf("err = %v, want both problems", err)
	}
}

func TestEveryKeyNamesItsReader(t *testing.T) {
	for _, k := range ConfigKeys() {
		if k.ReadBy == "" {
			t.Errorf("%s has no reader in keyReaders", k.Path)
		}
	}
}
