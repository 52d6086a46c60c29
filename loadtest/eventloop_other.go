//go:build !linux

package loadtest

// The event loop needs epoll; elsewhere every plan runs on goroutines.
const eventLoopAvailable = false

func (r *runner) eventLoops([]*shard) ([]func(), error) { return nil, nil }
