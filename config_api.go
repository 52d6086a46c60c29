package perfengine

// APIConfig configures the API module.
type APIConfig struct{}

func defaultAPIConfig() APIConfig        { return APIConfig{} }
func (c APIConfig) validate(p *problems) {}
