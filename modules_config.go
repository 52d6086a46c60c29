package perfengine

import "fmt"

// addConfigured adds the optimizer modules that the configuration alone can
// build, for those turned on and not given by WithModules: the database
// module when database.dsn is set, the memory module, and the regression
// detector. The API and network modules live inside the application (a
// middleware, an http.Client), so the application builds and passes them.
func (e *Engine) addConfigured(cfg Config, given map[string]bool) error {
	type builder struct {
		name string
		on   bool
		make func() (Module, error)
	}
	builders := []builder{
		{"database", cfg.Modules.Database && cfg.Database.DSN != "", func() (Module, error) {
			return NewDatabaseModuleFromConfig(cfg.Database)
		}},
		{"memory", cfg.Modules.Memory, func() (Module, error) {
			return NewMemoryModuleFromConfig(cfg.Memory, cfg.Thresholds)
		}},
		{"regression", cfg.Modules.Regression, func() (Module, error) {
			return NewRegressionModule(cfg.Regression, WithRegressionClock(e.now))
		}},
	}
	for _, b := range builders {
		if !b.on || given[b.name] {
			continue
		}
		m, err := b.make()
		if err != nil {
			return fmt.Errorf("build %s module: %w", b.name, err)
		}
		if err := e.add(m); err != nil {
			return err
		}
	}
	return nil
}
