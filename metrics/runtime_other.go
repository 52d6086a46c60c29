//go:build !linux

package metrics

// osState has no /proc to read outside Linux: RSS, open descriptors and the
// memory limits other than GOMEMLIMIT are left out of the collection.
type osState struct{}

func (*osState) init()                       {}
func (*osState) rss() (uint64, bool)         { return 0, false }
func (*osState) openFDs() (int, bool)        { return 0, false }
func (*osState) memTotal() (uint64, bool)    { return 0, false }
func (*osState) cgroupLimit() (uint64, bool) { return 0, false }
