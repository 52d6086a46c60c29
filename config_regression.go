package perfengine

// Regression sensitivities.
const (
	SensitivityConservative = "conservative"
	SensitivityModerate     = "moderate"
	SensitivityAggressive   = "aggressive"
)

// RegressionConfig configures the regression detector.
type RegressionConfig struct {
	// AutoRollbackEnabled lets a confirmed regression trigger a rollback.
	// Off by default. Env AUTO_ROLLBACK_ENABLED.
	AutoRollbackEnabled bool `yaml:"autoRollbackEnabled" json:"autoRollbackEnabled"`
	// Sensitivity is conservative, moderate (default) or aggressive.
	// Env REGRESSION_SENSITIVITY.
	Sensitivity string `yaml:"sensitivity" json:"sensitivity"`
}

func defaultRegressionConfig() RegressionConfig {
	return RegressionConfig{Sensitivity: SensitivityModerate}
}

func (c RegressionConfig) validate(p *problems) {
	switch c.Sensitivity {
	case SensitivityConservative, SensitivityModerate, SensitivityAggressive:
	default:
		p.add("regression.sensitivity", c.Sensitivity, "must be conservative, moderate or aggressive")
	}
}
