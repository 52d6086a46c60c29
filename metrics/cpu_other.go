//go:build !unix

package metrics

import "time"

// processCPUTime is unavailable without getrusage; CPU samples are left out.
func processCPUTime() (time.Duration, bool) { return 0, false }
