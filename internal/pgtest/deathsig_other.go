//go:build unix && !linux

package pgtest

import "syscall"

// setParentDeathSignal does nothing where the kernel has no parent-death
// signal: a cluster outliving a killed test binary stays until its
// directory is found stale and the server is stopped by hand.
func setParentDeathSignal(*syscall.SysProcAttr, syscall.Signal) {}
