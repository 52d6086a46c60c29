package pgtest

import "syscall"

// setParentDeathSignal has the kernel send sig to the child when the test
// binary dies, however it dies.
func setParentDeathSignal(attr *syscall.SysProcAttr, sig syscall.Signal) { attr.Pdeathsig = sig }
