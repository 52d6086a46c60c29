package memopt

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"
)

func file(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }

const (
	mountV2 = "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n"
	// A v1 host with a v2 tree for systemd only: the layout of many CI
	// machines.
	mountHybrid = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n" +
		"35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n" +
		"41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
)

func TestReadCgroupLimit(t *testing.T) {
	tests := []struct {
		name    string
		fs      fstest.MapFS
		want    CgroupLimit
		wantErr error  // errors.Is target
		errText string // substring, when the error is a parse error
	}{
		{
			name: "v2 container",
			fs: fstest.MapFS{
				"proc/self/cgroup":         file("0::/\n"),
				"proc/self/mountinfo":      file(mountV2),
				"sys/fs/cgroup/memory.max": file("536870912\n"),
			},
			want: CgroupLimit{Bytes: 512 << 20, File: "sys/fs/cgroup/memory.max", Version: 2},
		},
		{
			name: "v2 nested: the parent's lower limit wins",
			fs: fstest.MapFS{
				"proc/self/cgroup":                               file("0::/app.slice/svc.service\n"),
				"proc/self/mountinfo":                            file(mountV2),
				"sys/fs/cgroup/app.slice/svc.service/memory.max": file("max\n"),
				"sys/fs/cgroup/app.slice/memory.max":             file("1073741824\n"),
			},
			want: CgroupLimit{Bytes: 1 << 30, File: "sys/fs/cgroup/app.slice/memory.max", Version: 2},
		},
		{
			name: "v2 unlimited",
			fs: fstest.MapFS{
				"proc/self/cgroup":         file("0::/\n"),
				"proc/self/mountinfo":      file(mountV2),
				"sys/fs/cgroup/memory.max": file("max\n"),
			},
			wantErr: ErrNoCgroupLimit,
		},
		{
			name: "v1 hybrid host",
			fs: fstest.MapFS{
				"proc/self/cgroup":    file("4:memory:/process_api/abc\n0::/\n"),
				"proc/self/mountinfo": file(mountHybrid),
				"sys/fs/cgroup/memory/process_api/abc/memory.limit_in_bytes": file("268435456\n"),
				"sys/fs/cgroup/memory/memory.limit_in_bytes":                 file("9223372036854771712\n"),
			},
			want: CgroupLimit{Bytes: 256 << 20, File: "sys/fs/cgroup/memory/process_api/abc/memory.limit_in_bytes", Version: 1},
		},
		{
			name: "v1 unlimited page-rounded max",
			fs: fstest.MapFS{
				"proc/self/cgroup":                           file("4:memory:/\n"),
				"proc/self/mountinfo":                        file(mountHybrid),
				"sys/fs/cgroup/memory/memory.limit_in_bytes": file("9223372036854771712\n"),
			},
			wantErr: ErrNoCgroupLimit,
		},
		{
			name:    "no proc files",
			fs:      fstest.MapFS{},
			wantErr: ErrNoCgroupLimit,
		},
		{
			name: "no limit files",
			fs: fstest.MapFS{
				"proc/self/cgroup":    file("0::/\n"),
				"proc/self/mountinfo": file(mountV2),
			},
			wantErr: ErrNoCgroupLimit,
		},
		{
			name: "malformed limit",
			fs: fstest.MapFS{
				"proc/self/cgroup":         file("0::/\n"),
				"proc/self/mountinfo":      file(mountV2),
				"sys/fs/cgroup/memory.max": file("lots\n"),
			},
			errText: `parse sys/fs/cgroup/memory.max: limit "lots"`,
		},
		{
			name: "malformed proc cgroup",
			fs: fstest.MapFS{
				"proc/self/cgroup":    file("garbage\n"),
				"proc/self/mountinfo": file(mountV2),
			},
			errText: "parse proc/self/cgroup line 1",
		},
		{
			name: "malformed mountinfo",
			fs: fstest.MapFS{
				"proc/self/cgroup":    file("0::/\n"),
				"proc/self/mountinfo": file("1 2 3\n"),
			},
			errText: "parse proc/self/mountinfo line 1",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadCgroupLimit(tc.fs)
			switch {
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("ReadCgroupLimit() error = %v, want %v", err, tc.wantErr)
				}
			case tc.errText != "":
				if err == nil || !strings.Contains(err.Error(), tc.errText) {
					t.Fatalf("ReadCgroupLimit() error = %v, want one containing %q", err, tc.errText)
				}
			case err != nil:
				t.Fatalf("ReadCgroupLimit() error = %v", err)
			case got != tc.want:
				t.Errorf("ReadCgroupLimit() = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// FuzzReadCgroupLimit feeds arbitrary proc files and limits: the answer may
// be an error, never a panic.
func FuzzReadCgroupLimit(f *testing.F) {
	f.Add("0::/\n", mountV2, "536870912\n")
	f.Add("4:memory:/process_api/abc\n0::/\n", mountHybrid, "max")
	f.Add("0::/a/../../b\n", "1 2 3:4 / /x rw - cgroup2 c rw\n", "-1")
	f.Add("::\n", " - \n", "")
	f.Fuzz(func(t *testing.T, cg, mi, limit string) {
		fsys := fstest.MapFS{
			"proc/self/cgroup":                           file(cg),
			"proc/self/mountinfo":                        file(mi),
			"sys/fs/cgroup/memory.max":                   file(limit),
			"x/memory.max":                               file(limit),
			"sys/fs/cgroup/memory/memory.limit_in_bytes": file(limit),
		}
		l, err := ReadCgroupLimit(fsys)
		if err == nil && (l.Bytes == 0 || l.File == "") {
			t.Fatalf("ReadCgroupLimit() = %+v with no error", l)
		}
	})
}
