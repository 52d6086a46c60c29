package perfengine

// MemoryConfig configures the memory module.
type MemoryConfig struct{}

func defaultMemoryConfig() MemoryConfig     { return MemoryConfig{} }
func (c MemoryConfig) validate(p *problems) {}
