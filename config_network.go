package perfengine

// NetworkConfig configures the network module.
type NetworkConfig struct{}

func defaultNetworkConfig() NetworkConfig    { return NetworkConfig{} }
func (c NetworkConfig) validate(p *problems) {}
