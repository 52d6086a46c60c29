package metrics

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseStatmRSS(t *testing.T) {
	tests := []struct {
		in     string
		want   uint64
		wantOK bool
	}{
		{"5524 2229 1655 351 0 2421 0\n", 2229, true},
		{"1 0", 0, true},
		{"", 0, false},
		{"5524", 0, false},
		{"5524 -3 1", 0, false},
		{"5524 99999999999999999999999 1", 0, false},
		{"a b c", 0, false},
	}
	for _, tc := range tests {
		got, ok := parseStatmRSS([]byte(tc.in))
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("parseStatmRSS(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.wantOK)
		}
	}
}

func TestParseMemTotal(t *testing.T) {
	tests := []struct {
		in     string
		want   uint64
		wantOK bool
	}{
		{"MemTotal:       24684084 kB\nMemFree:         1000 kB\n", 24684084 * 1024, true},
		{"MemFree: 1 kB\nMemTotal: 2048 kB", 2048 * 1024, true},
		{"MemTotal: 2048", 2048, true},
		{"MemTotal: 2048 MB", 0, false},
		{"MemTotal:", 0, false},
		{"MemTotal: 18446744073709551615 kB", 0, false},
		{"MemFree: 1 kB\n", 0, false},
		{"", 0, false},
	}
	for _, tc := range tests {
		got, ok := parseMemTotal([]byte(tc.in))
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("parseMemTotal(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.wantOK)
		}
	}
}

func TestParseCgroupLimit(t *testing.T) {
	tests := []struct {
		in     string
		want   uint64
		wantOK bool
	}{
		{"536870912\n", 536870912, true},
		{"max\n", 0, false},
		{"9223372036854771712\n", 0, false}, // cgroup v1 "unlimited"
		{"0\n", 0, false},
		{"", 0, false},
		{"12k", 0, false},
	}
	for _, tc := range tests {
		got, ok := parseCgroupLimit([]byte(tc.in))
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("parseCgroupLimit(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.wantOK)
		}
	}
}

func TestCgroupLimitFiles(t *testing.T) {
	tests := []struct {
		name       string
		mountinfo  string
		cgroup     string
		want       []string
		wantNoneV1 bool
	}{
		{
			name:      "cgroup v2 host, ancestors up to the root",
			mountinfo: "mountinfo-v2-host",
			cgroup:    "cgroup-v2-host",
			want: []string{
				"/sys/fs/cgroup/user.slice/user-1000.slice/session-2.scope/memory.max",
				"/sys/fs/cgroup/user.slice/user-1000.slice/memory.max",
				"/sys/fs/cgroup/user.slice/memory.max",
				"/sys/fs/cgroup/memory.max",
			},
		},
		{
			name:      "cgroup v2 container with a namespace",
			mountinfo: "mountinfo-v2-container",
			cgroup:    "cgroup-v2-container",
			want:      []string{"/sys/fs/cgroup/memory.max"},
		},
		{
			name:      "cgroup v1 docker, mount root is the container's cgroup",
			mountinfo: "mountinfo-v1-docker",
			cgroup:    "cgroup-v1-docker",
			want:      []string{"/sys/fs/cgroup/memory/memory.limit_in_bytes"},
		},
		{
			name:      "hybrid: unified v2 plus the v1 memory controller",
			mountinfo: "mountinfo-hybrid-v1",
			cgroup:    "cgroup-hybrid-v1",
			want: []string{
				"/sys/fs/cgroup/unified/system.slice/app.service/memory.max",
				"/sys/fs/cgroup/unified/system.slice/memory.max",
				"/sys/fs/cgroup/unified/memory.max",
				"/sys/fs/cgroup/memory/system.slice/app.service/memory.limit_in_bytes",
				"/sys/fs/cgroup/memory/system.slice/memory.limit_in_bytes",
				"/sys/fs/cgroup/memory/memory.limit_in_bytes",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fsys := fstest.MapFS{
				"proc/self/mountinfo": {Data: readTestdata(t, tc.mountinfo)},
				"proc/self/cgroup":    {Data: readTestdata(t, tc.cgroup)},
			}
			files, err := memoryLimitFiles(fsys)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range files {
				got = append(got, "/"+f.path)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("limit files = %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestUnescapeMount(t *testing.T) {
	for in, want := range map[string]string{`/a\040b`: "/a b", `/plain`: "/plain", `/bad\04`: `/bad\04`, `\`: `\`} {
		if got := unescapeMount(in); got != want {
			t.Errorf("unescapeMount(%q) = %q, want %q", in, got, want)
		}
	}
}

// dirent builds one getdents64 record.
func dirent(name string) []byte {
	reclen := (19 + len(name) + 1 + 7) &^ 7
	b := make([]byte, reclen)
	binary.NativeEndian.PutUint64(b[0:], 42)
	binary.NativeEndian.PutUint16(b[16:], uint16(reclen))
	copy(b[19:], name)
	return b
}

func TestCountDirents(t *testing.T) {
	var buf []byte
	for _, n := range []string{".", "..", "0", "1", "2", "10"} {
		buf = append(buf, dirent(n)...)
	}
	tests := []struct {
		name string
		in   []byte
		want int
	}{
		{"dot entries are not counted", buf, 4},
		{"empty", nil, 0},
		{"truncated record stops", buf[:len(buf)-3], 3},
		{"zero reclen stops", make([]byte, 40), 0},
	}
	for _, tc := range tests {
		if got := countDirents(tc.in); got != tc.want {
			t.Errorf("%s: countDirents = %d, want %d", tc.name, got, tc.want)
		}
	}
}

func FuzzParseProcFiles(f *testing.F) {
	for _, name := range []string{"mountinfo-v2-host", "mountinfo-v2-container", "mountinfo-v1-docker",
		"mountinfo-hybrid-v1", "cgroup-v2-host", "cgroup-hybrid-v1", "cgroup-v1-docker"} {
		f.Add(readTestdata(f, name))
	}
	f.Add([]byte("5524 2229 1655 351 0 2421 0\n"))
	f.Add([]byte("MemTotal:       24684084 kB\n"))
	f.Add([]byte("max\n"))
	f.Add([]byte("0::/a/../../b\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		parseStatmRSS(b)
		parseMemTotal(b)
		parseCgroupLimit(b)
		countDirents(b)
		files, _ := memoryLimitFiles(fstest.MapFS{"proc/self/cgroup": {Data: b}, "proc/self/mountinfo": {Data: b}})
		for _, f := range files {
			// A ".." in /proc/self/cgroup must not lead outside the root.
			if f.path == ".." || strings.HasPrefix(f.path, "../") || strings.HasPrefix(f.path, "/") {
				t.Errorf("limit file %q is outside the root", f.path)
			}
		}
	})
}
