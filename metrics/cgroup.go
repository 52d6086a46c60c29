package metrics

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"
)

// This is the one reader of the cgroup memory limit: the runtime collector
// reads the files it lists every interval without allocating, and memopt
// reads the limit through ReadCgroupLimit to size GOMEMLIMIT.

// ErrNoCgroupLimit means the process runs in no cgroup with a memory limit
// (or the cgroup files are missing), which is normal outside containers.
var ErrNoCgroupLimit = errors.New("no cgroup memory limit")

// CgroupLimit is the memory limit of the cgroup the process runs in.
type CgroupLimit struct {
	Bytes uint64 `json:"bytes"`
	// File is the file the limit was read from, relative to the root.
	File string `json:"file"`
	// Version is 1 or 2.
	Version int `json:"version"`
}

// ReadCgroupLimit finds the memory limit of this process's cgroup under
// fsys, the root file system (nil means the real one). It follows
// proc/self/cgroup and proc/self/mountinfo, so it works in containers, on
// hosts, with cgroup v1, v2 and hybrids. Nested limits count: the smallest
// limit on the path from the process's cgroup to the mount root wins. It
// returns ErrNoCgroupLimit when there is none, and a parse error naming the
// file when a file is malformed.
func ReadCgroupLimit(fsys fs.FS) (CgroupLimit, error) {
	if fsys == nil {
		fsys = os.DirFS("/")
	}
	files, err := memoryLimitFiles(fsys)
	if err != nil {
		return CgroupLimit{}, err
	}
	var best CgroupLimit
	for _, f := range files {
		b, err := fs.ReadFile(fsys, f.path)
		if err != nil {
			continue
		}
		v, unlimited, err := parseLimit(b)
		if err != nil {
			return CgroupLimit{}, fmt.Errorf("parse %s: %w", f.path, err)
		}
		if !unlimited && (best.File == "" || v < best.Bytes) {
			best = CgroupLimit{Bytes: v, File: f.path, Version: f.version}
		}
	}
	if best.File == "" {
		return CgroupLimit{}, ErrNoCgroupLimit
	}
	return best, nil
}

// limitFile is a file that may hold a memory limit.
type limitFile struct {
	path    string // relative to the root of fsys
	version int
}

// memoryLimitFiles lists the files that may hold the memory limit of this
// process's cgroup and of each ancestor up to its mount's root, leaf first
// (a parent's limit binds its children): the unified hierarchy's
// memory.max, then v1's memory.limit_in_bytes.
func memoryLimitFiles(fsys fs.FS) ([]limitFile, error) {
	cg, err := fs.ReadFile(fsys, "proc/self/cgroup")
	if err != nil {
		return nil, fmt.Errorf("%w: read proc/self/cgroup: %w", ErrNoCgroupLimit, err)
	}
	entries, err := parseProcCgroup(cg)
	if err != nil {
		return nil, err
	}
	mi, err := fs.ReadFile(fsys, "proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("%w: read proc/self/mountinfo: %w", ErrNoCgroupLimit, err)
	}
	mounts, err := parseMountinfo(mi)
	if err != nil {
		return nil, err
	}
	var out []limitFile
	for _, e := range entries {
		if e.hierarchy != "0" || e.controllers != "" {
			continue
		}
		for _, m := range mounts {
			if m.fstype == "cgroup2" {
				out = append(out, walkUp(m, e.path, "memory.max", 2)...)
			}
		}
	}
	// v1's memory controller, when mounted, is the one that limits; a
	// hybrid host also has a v2 tree without the memory controller.
	for _, e := range entries {
		if (e.hierarchy == "0" && e.controllers == "") || !hasField(e.controllers, "memory") {
			continue
		}
		for _, m := range mounts {
			if m.fstype == "cgroup" && hasField(m.superOpts, "memory") {
				out = append(out, walkUp(m, e.path, "memory.limit_in_bytes", 1)...)
			}
		}
	}
	return out, nil
}

// walkUp lists file in the cgroup directory of cgPath under mount m and in
// each parent up to the mount point.
func walkUp(m mount, cgPath, file string, version int) []limitFile {
	rel, ok := strings.CutPrefix(path.Clean(cgPath), path.Clean(m.root))
	if !ok {
		// The process's cgroup is outside what this mount shows (a
		// container with its own namespace shows its cgroup as the root).
		rel = ""
	}
	dir := path.Join(m.mountPoint, rel)
	var out []limitFile
	for {
		out = append(out, limitFile{path: strings.TrimPrefix(path.Join(dir, file), "/"), version: version})
		if path.Clean(dir) == path.Clean(m.mountPoint) || dir == "/" || dir == "." {
			return out
		}
		dir = path.Dir(dir)
	}
}

// parseLimit reads memory.max ("max" or bytes) or memory.limit_in_bytes
// (bytes; v1 writes a page-rounded MaxInt64 for "no limit"). A zero limit
// would leave no memory at all: a misreading or a cgroup being set up, so
// it counts as none.
func parseLimit(b []byte) (v uint64, unlimited bool, err error) {
	s := bytes.TrimSpace(b)
	if v, ok := parseCgroupLimit(s); ok {
		return v, false, nil
	}
	if _, ok := parseUint(s); ok || string(s) == "max" || string(s) == "-1" {
		return 0, true, nil
	}
	return 0, false, fmt.Errorf("limit %q is neither \"max\" nor a byte count", s)
}

type cgroupEntry struct {
	hierarchy   string
	controllers string
	path        string
}

// parseProcCgroup reads /proc/self/cgroup: "hierarchy:controllers:path" per
// line.
func parseProcCgroup(b []byte) ([]cgroupEntry, error) {
	var out []cgroupEntry
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 || !strings.HasPrefix(parts[2], "/") {
			return nil, fmt.Errorf("parse proc/self/cgroup line %d %q: want hierarchy:controllers:/path", i+1, line)
		}
		out = append(out, cgroupEntry{hierarchy: parts[0], controllers: parts[1], path: parts[2]})
	}
	return out, nil
}

type mount struct {
	root, mountPoint, fstype, superOpts string
}

// parseMountinfo reads the cgroup mounts of /proc/self/mountinfo:
// "id parent maj:min root mountpoint opts [optional...] - fstype source superopts".
func parseMountinfo(b []byte) ([]mount, error) {
	var out []mount
	for i, line := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			return nil, fmt.Errorf("parse proc/self/mountinfo line %d: no \" - \" separator", i+1)
		}
		f, g := strings.Fields(pre), strings.Fields(post)
		if len(f) < 5 || len(g) < 1 {
			return nil, fmt.Errorf("parse proc/self/mountinfo line %d: %d and %d fields, want at least 5 and 1", i+1, len(f), len(g))
		}
		if g[0] != "cgroup" && g[0] != "cgroup2" {
			continue
		}
		m := mount{root: unescapeMount(f[3]), mountPoint: unescapeMount(f[4]), fstype: g[0]}
		if len(g) >= 3 {
			m.superOpts = g[2]
		}
		out = append(out, m)
	}
	return out, nil
}

// unescapeMount undoes the octal escapes (\040 for a space) of mountinfo.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func hasField(list, want string) bool {
	for f := range strings.SplitSeq(list, ",") {
		if f == want {
			return true
		}
	}
	return false
}
