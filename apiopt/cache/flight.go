package cache

import "sync"

// flight is one origin call that identical misses wait on. Waiters select on
// done and on their own context, so one leaving early does not disturb the
// others, and the leader releases them as soon as it knows its response
// cannot be shared (for example a private one), not when it ends.
type flight struct {
	done  chan struct{}
	once  sync.Once
	entry *Entry // nil: not shareable, each waiter asks the origin itself
}

func (f *flight) release(e *Entry) {
	f.once.Do(func() {
		f.entry = e
		close(f.done)
	})
}

// flights coalesces concurrent misses by primary key.
type flights struct {
	mu sync.Mutex
	m  map[uint64]*flight
}

// join returns the flight for key and whether the caller leads it.
func (fs *flights) join(key uint64) (*flight, bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if f, ok := fs.m[key]; ok {
		return f, false
	}
	if fs.m == nil {
		fs.m = make(map[uint64]*flight)
	}
	f := &flight{done: make(chan struct{})}
	fs.m[key] = f
	return f, true
}

// leave removes the leader's flight and releases anyone still waiting.
func (fs *flights) leave(key uint64, f *flight) {
	fs.mu.Lock()
	if fs.m[key] == f {
		delete(fs.m, key)
	}
	fs.mu.Unlock()
	f.release(nil)
}
