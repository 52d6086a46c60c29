package perfengine

// BrowserConfig configures the browser module.
type BrowserConfig struct{}

func defaultBrowserConfig() BrowserConfig    { return BrowserConfig{} }
func (c BrowserConfig) validate(p *problems) {}
