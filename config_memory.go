package perfengine

import "time"

// MemoryConfig configures the memory module (memopt). Zero fields mean the
// defaults named in each comment; the warning and critical levels of
// cleanup and GOGC reduction are the engine's memory thresholds.
type MemoryConfig struct {
	// SampleInterval between runtime samples; default 5s. The leak
	// detectors keep one heap point per GC cycle and one goroutine count
	// per sample.
	SampleInterval Duration `yaml:"sampleInterval" json:"sampleInterval"`
	// Window of samples the leak trend tests look at; default 30m.
	Window Duration `yaml:"window" json:"window"`
	// ProfileInterval between heap and goroutine profiles kept as baselines
	// for naming what grows; default 1m.
	ProfileInterval Duration `yaml:"profileInterval" json:"profileInterval"`
	// DisableProfiles turns profile capture off: leaks are still detected,
	// without the functions that cause them.
	DisableProfiles bool `yaml:"disableProfiles" json:"disableProfiles"`
	// Alpha is the significance level of the trend tests, in (0, 0.5);
	// default 0.001. Lower reports later and more surely.
	Alpha float64 `yaml:"alpha" json:"alpha"`
	// MinHeapGrowth is the least heap growth reported, in bytes per minute;
	// default 131072 (128 KiB/min).
	MinHeapGrowth float64 `yaml:"minHeapGrowth" json:"minHeapGrowth"`
	// GOGCMin and GOGCMax bound the GC percent the governor sets; default
	// 50 and 400. A GOGC the user set (environment or code) is never moved.
	GOGCMin int `yaml:"gogcMin" json:"gogcMin"`
	GOGCMax int `yaml:"gogcMax" json:"gogcMax"`
	// LimitHeadroom is the share of the cgroup limit kept above the
	// GOMEMLIMIT the governor sets, in (0, 0.9); default 0.1. A GOMEMLIMIT
	// the user set is never moved.
	LimitHeadroom float64 `yaml:"limitHeadroom" json:"limitHeadroom"`
}

func defaultMemoryConfig() MemoryConfig { return MemoryConfig{} }

func (c MemoryConfig) validate(p *problems) {
	if d := c.SampleInterval.D(); d != 0 && (d < 10*time.Millisecond || d > time.Hour) {
		p.add("memory.sampleInterval", d, "must be between 10ms and 1h")
	}
	if d := c.Window.D(); d != 0 && (d < 3*time.Minute || d > 7*24*time.Hour) {
		p.add("memory.window", d, "must be between 3m and 168h")
	}
	if d := c.ProfileInterval.D(); d != 0 && (d < time.Second || d > 24*time.Hour) {
		p.add("memory.profileInterval", d, "must be between 1s and 24h")
	}
	if c.Alpha != 0 && (c.Alpha <= 0 || c.Alpha >= 0.5) {
		p.add("memory.alpha", c.Alpha, "must be in (0, 0.5)")
	}
	if c.MinHeapGrowth < 0 {
		p.add("memory.minHeapGrowth", c.MinHeapGrowth, "must not be negative")
	}
	if c.GOGCMin != 0 && (c.GOGCMin < 10 || c.GOGCMin > 10000) {
		p.add("memory.gogcMin", c.GOGCMin, "must be between 10 and 10000")
	}
	if c.GOGCMax != 0 && (c.GOGCMax < 10 || c.GOGCMax > 10000) {
		p.add("memory.gogcMax", c.GOGCMax, "must be between 10 and 10000")
	}
	if c.GOGCMin != 0 && c.GOGCMax != 0 && c.GOGCMin > c.GOGCMax {
		p.add("memory.gogcMin", c.GOGCMin, "must not be above memory.gogcMax %d", c.GOGCMax)
	}
	if c.LimitHeadroom != 0 && (c.LimitHeadroom <= 0 || c.LimitHeadroom >= 0.9) {
		p.add("memory.limitHeadroom", c.LimitHeadroom, "must be in (0, 0.9)")
	}
}
