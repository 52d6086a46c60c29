package metrics

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io/fs"
	"os"
)

// The parsers below read the kernel's text files (/proc, cgroupfs). They take
// bytes so the collector can reuse one read buffer, never panic on malformed
// input (they are fuzzed), and report ok=false rather than guessing.

// noCgroupLimit is the value from which a cgroup v1 limit means "unlimited":
// the kernel reports PAGE_COUNTER_MAX rounded to pages, just under 2^63.
const noCgroupLimit = 1 << 62

// parseUint parses a decimal run of digits, rejecting empty input and
// overflow.
func parseUint(b []byte) (uint64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (1<<64-1-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}

// ReadRSS reads this process's resident set size from proc/self/statm
// under fsys, the root file system (nil means the real one).
func ReadRSS(fsys fs.FS) (uint64, error) {
	if fsys == nil {
		fsys = os.DirFS("/")
	}
	b, err := fs.ReadFile(fsys, "proc/self/statm")
	if err != nil {
		return 0, fmt.Errorf("read statm: %w", err)
	}
	pages, ok := parseStatmRSS(b)
	if !ok {
		return 0, fmt.Errorf("parse statm %.40q: no resident page count in the second field", b)
	}
	return pages * uint64(os.Getpagesize()), nil
}

// parseStatmRSS returns the resident set size in pages: the second field of
// /proc/[pid]/statm.
func parseStatmRSS(b []byte) (uint64, bool) {
	// Fields by hand: bytes.Fields allocates, and this runs every interval.
	field := func(b []byte) (f, rest []byte) {
		b = bytes.TrimLeft(b, " \t\n")
		i := bytes.IndexAny(b, " \t\n")
		if i < 0 {
			return b, nil
		}
		return b[:i], b[i:]
	}
	_, rest := field(b)
	rss, _ := field(rest)
	return parseUint(rss)
}

// parseMemTotal returns MemTotal of /proc/meminfo in bytes.
func parseMemTotal(b []byte) (uint64, bool) {
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		rest, found := bytes.CutPrefix(line, []byte("MemTotal:"))
		if !found {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) == 0 {
			return 0, false
		}
		v, ok := parseUint(f[0])
		if !ok {
			return 0, false
		}
		mult := uint64(1)
		if len(f) > 1 {
			switch string(f[1]) {
			case "kB":
				mult = 1024
			default:
				return 0, false
			}
		}
		if v > (1<<64-1)/mult {
			return 0, false
		}
		return v * mult, true
	}
	return 0, false
}

// parseCgroupLimit parses memory.max (cgroup v2) or memory.limit_in_bytes
// (v1). ok is false for "max", the v1 unlimited value and anything
// unparsable: all mean "no limit we can use".
func parseCgroupLimit(b []byte) (uint64, bool) {
	b = bytes.TrimSpace(b)
	v, ok := parseUint(b)
	if !ok || v == 0 || v >= noCgroupLimit {
		return 0, false
	}
	return v, true
}

// countDirents counts the entries of a buffer filled by getdents64, not
// counting "." and "..". The record layout is ino (8 bytes), off (8),
// reclen (2), type (1), then the NUL-terminated name.
func countDirents(buf []byte) int {
	n := 0
	for len(buf) >= 19 {
		reclen := int(binary.NativeEndian.Uint16(buf[16:18]))
		if reclen < 19 || reclen > len(buf) {
			return n
		}
		name := buf[19:reclen]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		if !(len(name) == 1 && name[0] == '.') && !(len(name) == 2 && name[0] == '.' && name[1] == '.') {
			n++
		}
		buf = buf[reclen:]
	}
	return n
}
