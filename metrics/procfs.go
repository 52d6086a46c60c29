package metrics

import (
	"bytes"
	"encoding/binary"
	"path"
	"strings"
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

// cgroupPaths are the memory cgroup of the process, from /proc/self/cgroup:
// v2 is the unified hierarchy's path ("0::/path"), v1 the memory
// controller's. Either is empty when absent.
type cgroupPaths struct {
	v1, v2 string
}

func parseProcCgroup(b []byte) cgroupPaths {
	var p cgroupPaths
	for _, line := range strings.Split(string(b), "\n") {
		id, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		ctrls, cpath, ok := strings.Cut(rest, ":")
		if !ok || !strings.HasPrefix(cpath, "/") {
			continue
		}
		if id == "0" && ctrls == "" {
			p.v2 = cpath
			continue
		}
		for _, c := range strings.Split(ctrls, ",") {
			if c == "memory" {
				p.v1 = cpath
			}
		}
	}
	return p
}

// cgroupMount is where a cgroup hierarchy is mounted and which cgroup its
// root is (not "/" inside a container with a cgroup namespace).
type cgroupMount struct {
	point, root string
}

// parseMountinfo finds the cgroup2 mount and the v1 mount carrying the
// memory controller in /proc/self/mountinfo.
func parseMountinfo(b []byte) (v1, v2 cgroupMount) {
	for _, line := range strings.Split(string(b), "\n") {
		// Fields: id parent major:minor root mountpoint options [optional...] - fstype source superoptions
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		pf := strings.Fields(pre)
		qf := strings.Fields(post)
		if len(pf) < 5 || len(qf) < 1 {
			continue
		}
		m := cgroupMount{point: unescapeMountinfo(pf[4]), root: unescapeMountinfo(pf[3])}
		if !strings.HasPrefix(m.point, "/") {
			continue // the kernel writes absolute mount points; anything else is not a mount
		}
		switch qf[0] {
		case "cgroup2":
			if v2.point == "" {
				v2 = m
			}
		case "cgroup":
			if len(qf) < 3 {
				continue
			}
			for _, o := range strings.Split(qf[2], ",") {
				if o == "memory" && v1.point == "" {
					v1 = m
				}
			}
		}
	}
	return v1, v2
}

// unescapeMountinfo undoes the octal escapes (\040 for a space) the kernel
// writes into mountinfo paths.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// cgroupLimitFiles lists the files holding the memory limit of the process's
// cgroup and of each ancestor up to the mount's root, leaf first: a parent's
// limit binds its children, so the effective limit is the lowest of them.
func cgroupLimitFiles(m cgroupMount, cgPath, file string) []string {
	if m.point == "" || cgPath == "" {
		return nil
	}
	rel := cgPath
	if m.root != "/" && m.root != "" {
		r, ok := strings.CutPrefix(cgPath, m.root)
		if !ok {
			// A cgroup namespace shows paths relative to its root already.
			r = cgPath
		}
		rel = r
	}
	rel = path.Clean("/" + rel)
	var files []string
	for {
		files = append(files, path.Join(m.point, rel, file))
		if rel == "/" {
			return files
		}
		rel = path.Dir(rel)
	}
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
