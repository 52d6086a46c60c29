package metrics

import (
	"os"
	"syscall"
	"unsafe"
)

// osState reads /proc and cgroupfs with raw syscalls into one reused buffer
// and NUL-terminated paths prepared once: os.ReadFile and syscall.Open would
// allocate on every call, and Collect runs every second for the life of the
// process.
type osState struct {
	pageSize   uint64
	buf        []byte
	statm      []byte
	fdDir      []byte
	meminfo    []byte
	limitFiles [][]byte // cgroup memory limit files, leaf first
}

func cPath(p string) []byte { return append([]byte(p), 0) }

func (s *osState) init() {
	s.pageSize = uint64(os.Getpagesize())
	s.buf = make([]byte, 8192)
	s.statm = cPath("/proc/self/statm")
	s.fdDir = cPath("/proc/self/fd")
	s.meminfo = cPath("/proc/meminfo")

	// A process does not change cgroup: find the files once, read them
	// every interval.
	files, err := memoryLimitFiles(os.DirFS("/"))
	if err != nil {
		return
	}
	for _, f := range files {
		s.limitFiles = append(s.limitFiles, cPath("/"+f.path))
	}
}

func openRead(path []byte, flags int) (int, bool) {
	atFDCWD := -100 // AT_FDCWD: resolve the path from the working directory
	for {
		fd, _, errno := syscall.Syscall6(syscall.SYS_OPENAT, uintptr(atFDCWD),
			uintptr(unsafe.Pointer(&path[0])), uintptr(flags|syscall.O_RDONLY|syscall.O_CLOEXEC), 0, 0, 0)
		if errno == syscall.EINTR {
			continue
		}
		if errno != 0 {
			return -1, false
		}
		return int(fd), true
	}
}

// readFile reads a whole small file into s.buf, growing it when needed.
func (s *osState) readFile(path []byte) ([]byte, bool) {
	fd, ok := openRead(path, 0)
	if !ok {
		return nil, false
	}
	defer syscall.Close(fd)
	n := 0
	for {
		if n == len(s.buf) {
			s.buf = append(s.buf, make([]byte, len(s.buf))...)
		}
		m, err := syscall.Read(fd, s.buf[n:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, false
		}
		if m == 0 {
			return s.buf[:n], true
		}
		n += m
	}
}

func (s *osState) rss() (uint64, bool) {
	b, ok := s.readFile(s.statm)
	if !ok {
		return 0, false
	}
	pages, ok := parseStatmRSS(b)
	return pages * s.pageSize, ok
}

func (s *osState) openFDs() (int, bool) {
	fd, ok := openRead(s.fdDir, syscall.O_DIRECTORY)
	if !ok {
		return 0, false
	}
	defer syscall.Close(fd)
	n := 0
	for {
		m, err := syscall.ReadDirent(fd, s.buf)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return 0, false
		}
		if m == 0 {
			break
		}
		n += countDirents(s.buf[:m])
	}
	// The descriptor reading the directory is listed too.
	return n - 1, true
}

func (s *osState) memTotal() (uint64, bool) {
	b, ok := s.readFile(s.meminfo)
	if !ok {
		return 0, false
	}
	return parseMemTotal(b)
}

func (s *osState) cgroupLimit() (uint64, bool) {
	limit := uint64(0)
	for _, f := range s.limitFiles {
		b, ok := s.readFile(f)
		if !ok {
			continue
		}
		if v, ok := parseCgroupLimit(b); ok && (limit == 0 || v < limit) {
			limit = v
		}
	}
	return limit, limit > 0
}
