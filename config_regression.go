package perfengine

import "time"

// Regression sensitivities.
const (
	SensitivityConservative = "conservative"
	SensitivityModerate     = "moderate"
	SensitivityAggressive   = "aggressive"
)

// Regression defaults.
const (
	DefaultRegressionConsecutive = 3
	DefaultRegressionCooldown    = 30 * time.Minute
	DefaultRegressionWarmup      = 20
	DefaultRollbackTarget        = "previous"
	DefaultBaselineAfter         = 15 * time.Minute
	DefaultReleaseWarmup         = 2
	DefaultReleaseMinRequests    = 100
)

// RegressionConfig configures the regression detector.
type RegressionConfig struct {
	// AutoRollbackEnabled lets a confirmed regression trigger a rollback.
	// Off by default. Env AUTO_ROLLBACK_ENABLED.
	AutoRollbackEnabled bool `yaml:"autoRollbackEnabled" json:"autoRollbackEnabled"`
	// Sensitivity is conservative, moderate (default) or aggressive.
	// Env REGRESSION_SENSITIVITY.
	Sensitivity string `yaml:"sensitivity" json:"sensitivity"`
	// ConsecutiveFailures is how many monitoring intervals in a row a
	// regression must persist before a rollback is pre-approved; default 3.
	ConsecutiveFailures int `yaml:"consecutiveFailures" json:"consecutiveFailures"`
	// RollbackCooldown is the least time between two rollbacks; default
	// 30m.
	RollbackCooldown Duration `yaml:"rollbackCooldown" json:"rollbackCooldown"`
	// RollbackCommand is run (no shell: program then arguments) to roll
	// back, with PERFENGINE_ROLLBACK_FROM, _TO, _REASON and _AUTOMATIC in
	// its environment. Empty: no command.
	RollbackCommand []string `yaml:"rollbackCommand" json:"rollbackCommand"`
	// RollbackWebhookURL receives a JSON POST {from, to, reason,
	// automatic} to roll back. Empty: no webhook.
	RollbackWebhookURL string `yaml:"rollbackWebhookURL" json:"rollbackWebhookURL" perfengine:"secret"`
	// RollbackTo is the version a rollback returns to; default "previous"
	// (for actuators that know it themselves).
	RollbackTo string `yaml:"rollbackTo" json:"rollbackTo"`
	// DryRun records rollbacks without performing them even when an
	// actuator is configured. Without an actuator every rollback is a dry
	// run.
	DryRun bool `yaml:"dryRun" json:"dryRun"`
	// Warmup is how many intervals the live detector learns a series'
	// level and spread before judging it, and again after each change;
	// default 20, enough to see how often a slow request lands in an
	// interval.
	Warmup int `yaml:"warmup" json:"warmup"`
	// AutoBaseline saves each release's baseline by itself, once it has
	// served BaselineAfter of traffic without a regression; on by default.
	// A new release is judged against the previous release's baseline, and
	// a rollback returns to it.
	AutoBaseline bool `yaml:"autoBaseline" json:"autoBaseline"`
	// BaselineAfter is how long a release serves traffic, without a
	// regression, before its baseline is saved; default 15m.
	BaselineAfter Duration `yaml:"baselineAfter" json:"baselineAfter"`
	// ReleaseWarmup is how many monitoring intervals a new release runs
	// before it is judged or rolled back; default 2.
	ReleaseWarmup int `yaml:"releaseWarmup" json:"releaseWarmup"`
	// ReleaseMinRequests is how many requests a new release serves before
	// it is judged or rolled back, when the service reports its
	// throughput; default 100.
	ReleaseMinRequests int `yaml:"releaseMinRequests" json:"releaseMinRequests"`
}

func (c RegressionConfig) baselineAfter() time.Duration {
	if c.BaselineAfter <= 0 {
		return DefaultBaselineAfter
	}
	return c.BaselineAfter.D()
}

func (c RegressionConfig) releaseWarmup() int {
	if c.ReleaseWarmup <= 0 {
		return DefaultReleaseWarmup
	}
	return c.ReleaseWarmup
}

func (c RegressionConfig) releaseMinRequests() int {
	if c.ReleaseMinRequests <= 0 {
		return DefaultReleaseMinRequests
	}
	return c.ReleaseMinRequests
}

func defaultRegressionConfig() RegressionConfig {
	return RegressionConfig{
		Sensitivity:         SensitivityModerate,
		ConsecutiveFailures: DefaultRegressionConsecutive,
		RollbackCooldown:    Duration(DefaultRegressionCooldown),
		RollbackTo:          DefaultRollbackTarget,
		Warmup:              DefaultRegressionWarmup,
		AutoBaseline:        true,
		BaselineAfter:       Duration(DefaultBaselineAfter),
		ReleaseWarmup:       DefaultReleaseWarmup,
		ReleaseMinRequests:  DefaultReleaseMinRequests,
	}
}

func (c RegressionConfig) validate(p *problems) {
	switch c.Sensitivity {
	case SensitivityConservative, SensitivityModerate, SensitivityAggressive:
	default:
		p.add("regression.sensitivity", c.Sensitivity, "must be conservative, moderate or aggressive")
	}
	if c.ConsecutiveFailures < 0 || c.ConsecutiveFailures > 1000 {
		p.add("regression.consecutiveFailures", c.ConsecutiveFailures, "must be between 0 (default 3) and 1000")
	}
	if c.RollbackCooldown < 0 {
		p.add("regression.rollbackCooldown", c.RollbackCooldown, "must not be negative")
	}
	if c.Warmup != 0 && (c.Warmup < 3 || c.Warmup > 10000) {
		p.add("regression.warmup", c.Warmup, "must be between 3 and 10000 (0: default 20)")
	}
	if c.BaselineAfter < 0 || c.BaselineAfter.D() > 30*24*time.Hour {
		p.add("regression.baselineAfter", c.BaselineAfter, "must be between 0 (default 15m) and 720h")
	}
	if c.ReleaseWarmup < 0 || c.ReleaseWarmup > 10000 {
		p.add("regression.releaseWarmup", c.ReleaseWarmup, "must be between 0 (default 2) and 10000")
	}
	if c.ReleaseMinRequests < 0 {
		p.add("regression.releaseMinRequests", c.ReleaseMinRequests, "must not be negative (0: default 100)")
	}
	if len(c.RollbackCommand) > 0 && c.RollbackCommand[0] == "" {
		p.add("regression.rollbackCommand", c.RollbackCommand, "must name a program first")
	}
	checkURL(p, "regression.rollbackWebhookURL", c.RollbackWebhookURL, "http", "https")
}
