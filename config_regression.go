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
}

func defaultRegressionConfig() RegressionConfig {
	return RegressionConfig{
		Sensitivity:         SensitivityModerate,
		ConsecutiveFailures: DefaultRegressionConsecutive,
		RollbackCooldown:    Duration(DefaultRegressionCooldown),
		RollbackTo:          DefaultRollbackTarget,
		Warmup:              DefaultRegressionWarmup,
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
	if len(c.RollbackCommand) > 0 && c.RollbackCommand[0] == "" {
		p.add("regression.rollbackCommand", c.RollbackCommand, "must name a program first")
	}
	checkURL(p, "regression.rollbackWebhookURL", c.RollbackWebhookURL, "http", "https")
}
