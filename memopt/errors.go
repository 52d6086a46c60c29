package memopt

import "errors"

// Errors returned by the package.
var (
	// ErrInvalidOptions wraps every problem New finds in its Options.
	ErrInvalidOptions = errors.New("memopt: invalid options")
	// ErrRunning is returned by StartMonitoring when monitoring already runs.
	ErrRunning = errors.New("memopt: already monitoring")
	// ErrUserSetting means the user set GOGC or GOMEMLIMIT (in the
	// environment or in code), which the governor never overrides.
	ErrUserSetting = errors.New("memopt: setting chosen by the user")
	// ErrStale means a tuning or its undo no longer matches the runtime's
	// current value: someone else changed it in between.
	ErrStale = errors.New("memopt: setting changed since the tuning was proposed")
	// ErrBadProfile means a profile could not be parsed.
	ErrBadProfile = errors.New("memopt: unparsable profile")
)
