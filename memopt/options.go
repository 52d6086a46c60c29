package memopt

import (
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"time"
)

// Defaults for Options. Each is what a zero field means.
const (
	DefaultInterval           = 5 * time.Second
	DefaultWindow             = 30 * time.Minute
	DefaultMinSpan            = 2 * time.Minute
	DefaultProfileInterval    = time.Minute
	DefaultAlpha              = 0.001
	DefaultMaxPoints          = 128
	DefaultMinPoints          = 10
	DefaultConfirmations      = 3
	DefaultConfirmFor         = time.Minute
	DefaultMinHeapGrowth      = 128 << 10 // bytes per minute
	DefaultMinRelativeGrowth  = 0.01
	DefaultMinSignalToNoise   = 2
	DefaultMinGoroutineGrowth = 1 // goroutines per minute
	DefaultMinGoroutineRise   = 10
	DefaultGOGCMin            = 50
	DefaultTuneCooldown       = time.Minute
	DefaultGOGCMax            = 400
	DefaultLimitHeadroom      = 0.10
	DefaultHighGCCPU          = 0.10
	DefaultPlentifulRatio     = 0.50
	DefaultWarningRatio       = 0.80
	DefaultCriticalRatio      = 0.95
	DefaultMaxSites           = 5
)

// Options configure an Optimizer. The zero value of every field means the
// default named after it; Options{} is a working configuration.
type Options struct {
	// Interval between samples when monitoring; default 5s.
	Interval time.Duration
	// Window of samples the trend tests look at; default 30m.
	Window time.Duration
	// MinSpan is the least stretch of samples a trend is judged on, so a
	// warm-up is not a leak; default 2m.
	MinSpan time.Duration
	// ProfileInterval between the heap and goroutine profiles kept as
	// baselines for the diffs; default 1m. Negative disables profiling.
	ProfileInterval time.Duration
	// Alpha is the significance level of the one-sided trend test; default
	// 0.001.
	Alpha float64
	// MaxPoints bounds the points a trend test sees; longer windows are
	// reduced to bucket minima (the floor of the heap). Default 128.
	MaxPoints int
	// MinPoints is the fewest points a test runs on; default 10.
	MinPoints int
	// Confirmations is how many consecutive checks must agree before a leak
	// is reported; default 3.
	Confirmations int
	// ConfirmFor is how long those checks must keep agreeing; default 1m.
	ConfirmFor time.Duration
	// MinHeapGrowth is the least heap growth reported, in bytes per minute;
	// default 128 KiB/min.
	MinHeapGrowth float64
	// MinRelativeGrowth is the least growth over the window as a fraction
	// of the heap; default 0.01.
	MinRelativeGrowth float64
	// MinSignalToNoise is the least ratio of the growth over the window to
	// the interquartile range of the detrended series; default 2. It keeps
	// a significant but tiny drift inside a noisy heap from being reported,
	// while a slow leak over a long window still is.
	MinSignalToNoise float64
	// MinGoroutineGrowth is the least goroutine growth reported, per
	// minute; default 1.
	MinGoroutineGrowth float64
	// MinGoroutineRise is the least rise in goroutines over the window;
	// default 10.
	MinGoroutineRise float64
	// MaxSites bounds the allocation sites and goroutine groups named per
	// leak; default 5.
	MaxSites int

	// Governor bounds. GOGCMin and GOGCMax bound the GC percent the
	// governor sets; default 50 and 400.
	GOGCMin, GOGCMax int
	// TuneCooldown is the least time between two GOGC changes, except
	// backing off from thrashing; default 1m.
	TuneCooldown time.Duration
	// LimitHeadroom is the share of the cgroup limit left above GOMEMLIMIT;
	// default 0.1.
	LimitHeadroom float64
	// HighGCCPU is the GC CPU fraction above which GOGC is raised when
	// memory is plentiful; default 0.1.
	HighGCCPU float64
	// PlentifulRatio is the memory use (fraction of the limit) under which
	// memory counts as plentiful; default 0.5.
	PlentifulRatio float64
	// WarningRatio and CriticalRatio are the memory use (fraction of the
	// limit) at which cleanup and GOGC reduction start; default 0.8 and
	// 0.95 (the engine passes its memory thresholds).
	WarningRatio, CriticalRatio float64

	// Logger receives events; default discards.
	Logger *slog.Logger
	// FS is the root file system for /proc and /sys; default os.DirFS("/").
	FS fs.FS
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Getenv reads the environment to find a user's GOGC and GOMEMLIMIT;
	// default os.Getenv.
	Getenv func(string) string
}

// withDefaults fills zero fields and checks the rest.
func (o Options) withDefaults() (Options, error) {
	setD := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	setF := func(f *float64, v float64) {
		if *f == 0 {
			*f = v
		}
	}
	setI := func(i *int, v int) {
		if *i == 0 {
			*i = v
		}
	}
	setD(&o.Interval, DefaultInterval)
	setD(&o.Window, DefaultWindow)
	setD(&o.MinSpan, DefaultMinSpan)
	setD(&o.ProfileInterval, DefaultProfileInterval)
	setF(&o.Alpha, DefaultAlpha)
	setI(&o.MaxPoints, DefaultMaxPoints)
	setI(&o.MinPoints, DefaultMinPoints)
	setI(&o.Confirmations, DefaultConfirmations)
	setD(&o.ConfirmFor, DefaultConfirmFor)
	setF(&o.MinHeapGrowth, DefaultMinHeapGrowth)
	setF(&o.MinRelativeGrowth, DefaultMinRelativeGrowth)
	setF(&o.MinSignalToNoise, DefaultMinSignalToNoise)
	setF(&o.MinGoroutineGrowth, DefaultMinGoroutineGrowth)
	setF(&o.MinGoroutineRise, DefaultMinGoroutineRise)
	setI(&o.MaxSites, DefaultMaxSites)
	setI(&o.GOGCMin, DefaultGOGCMin)
	setI(&o.GOGCMax, DefaultGOGCMax)
	setF(&o.LimitHeadroom, DefaultLimitHeadroom)
	setD(&o.TuneCooldown, DefaultTuneCooldown)
	setF(&o.HighGCCPU, DefaultHighGCCPU)
	setF(&o.PlentifulRatio, DefaultPlentifulRatio)
	setF(&o.WarningRatio, DefaultWarningRatio)
	setF(&o.CriticalRatio, DefaultCriticalRatio)
	var errs []string
	bad := func(field string, v any, want string) {
		errs = append(errs, fmt.Sprintf("%s=%v: must be %s", field, v, want))
	}
	if o.Interval < time.Millisecond {
		bad("Interval", o.Interval, "at least 1ms")
	}
	if o.Window < o.MinSpan || o.MinSpan < 0 {
		bad("Window", o.Window, fmt.Sprintf("at least MinSpan (%v), and MinSpan not negative", o.MinSpan))
	}
	if o.Alpha <= 0 || o.Alpha >= 0.5 {
		bad("Alpha", o.Alpha, "in (0, 0.5)")
	}
	if o.MaxPoints < 3 || o.MaxPoints > 4096 {
		bad("MaxPoints", o.MaxPoints, "in [3, 4096]")
	}
	if o.MinPoints < 3 || o.MinPoints > o.MaxPoints {
		bad("MinPoints", o.MinPoints, "in [3, MaxPoints]")
	}
	if o.Confirmations < 1 {
		bad("Confirmations", o.Confirmations, "at least 1")
	}
	if o.MinHeapGrowth < 0 || o.MinRelativeGrowth < 0 || o.MinSignalToNoise < 0 || o.MinGoroutineGrowth < 0 || o.MinGoroutineRise < 0 {
		bad("MinHeapGrowth/MinRelativeGrowth/MinGoroutineGrowth/MinGoroutineRise", "<0", "not negative")
	}
	if o.MaxSites < 1 {
		bad("MaxSites", o.MaxSites, "at least 1")
	}
	if o.GOGCMin < 10 || o.GOGCMax < o.GOGCMin || o.GOGCMax > 10000 {
		bad("GOGCMin/GOGCMax", fmt.Sprintf("%d/%d", o.GOGCMin, o.GOGCMax), "10 ≤ min ≤ max ≤ 10000")
	}
	if o.LimitHeadroom <= 0 || o.LimitHeadroom >= 0.9 {
		bad("LimitHeadroom", o.LimitHeadroom, "in (0, 0.9)")
	}
	if o.HighGCCPU <= 0 || o.HighGCCPU >= 1 {
		bad("HighGCCPU", o.HighGCCPU, "in (0, 1)")
	}
	if o.PlentifulRatio <= 0 || o.PlentifulRatio >= o.WarningRatio {
		bad("PlentifulRatio", o.PlentifulRatio, "in (0, WarningRatio)")
	}
	if o.WarningRatio <= 0 || o.CriticalRatio < o.WarningRatio || o.CriticalRatio > 1 {
		bad("WarningRatio/CriticalRatio", fmt.Sprintf("%g/%g", o.WarningRatio, o.CriticalRatio), "0 < warning ≤ critical ≤ 1")
	}
	if len(errs) > 0 {
		return o, fmt.Errorf("%w: %s", ErrInvalidOptions, strings.Join(errs, "; "))
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.FS == nil {
		o.FS = os.DirFS("/")
	}
	return o, nil
}
