package memopt

import (
	"io/fs"

	"github.com/perfengine/perfengine/metrics"
)

// ErrNoCgroupLimit means the process runs in no cgroup with a memory limit
// (or the cgroup files are missing): there is nothing to size GOMEMLIMIT
// from, which is normal outside containers.
var ErrNoCgroupLimit = metrics.ErrNoCgroupLimit

// CgroupLimit is the memory limit of the cgroup the process runs in.
type CgroupLimit = metrics.CgroupLimit

// ReadCgroupLimit finds the memory limit of this process's cgroup under
// fsys, the root file system (nil means the real one), as
// metrics.ReadCgroupLimit does for the runtime collector: v1, v2 and
// hybrids, in containers and on hosts, the smallest limit on the path to
// the mount root. It returns ErrNoCgroupLimit when there is none.
func ReadCgroupLimit(fsys fs.FS) (CgroupLimit, error) { return metrics.ReadCgroupLimit(fsys) }
