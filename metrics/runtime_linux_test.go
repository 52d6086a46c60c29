package metrics

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

func TestOSStateCgroupLimit(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) []byte {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return cPath(p)
	}
	tests := []struct {
		name   string
		files  [][]byte
		want   uint64
		wantOK bool
	}{
		{"lowest ancestor wins", [][]byte{write("leaf", "max\n"), write("mid", "1073741824\n"), write("top", "536870912\n")}, 536870912, true},
		{"all unlimited", [][]byte{write("u1", "max\n"), write("u2", "9223372036854771712\n")}, 0, false},
		{"missing files are skipped", [][]byte{cPath(filepath.Join(dir, "absent")), write("set", "2097152")}, 2097152, true},
		{"no files", nil, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := osState{buf: make([]byte, 4), limitFiles: tc.files}
			got, ok := s.cgroupLimit()
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("cgroupLimit() = %d, %v; want %d, %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

// procStatCPU returns utime+stime of /proc/self/stat in clock ticks (fields
// 14 and 15, counted after the command name, which may hold spaces).
func procStatCPU(t *testing.T) uint64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.LastIndexByte(b, ')')
	f := bytes.Fields(b[i+1:])
	// After ")": state is field 3, so utime (14) is f[11], stime (15) f[12].
	u, ok1 := parseUint(f[11])
	s, ok2 := parseUint(f[12])
	if !ok1 || !ok2 {
		t.Fatalf("cannot parse /proc/self/stat: %q", b)
	}
	return u + s
}

// TestRuntimeCollectorCPUAgreesWithProcStat cross-checks the CPU figures
// (from getrusage) against the kernel's tick counts in /proc/self/stat: the
// CPU time implied by cpu_percent over the interval must match within the
// ticks' resolution. USER_HZ is 100 on every Linux architecture Go supports.
func TestRuntimeCollectorCPUAgreesWithProcStat(t *testing.T) {
	const tick = 10 * time.Millisecond
	rc := NewRuntimeCollector()
	start := time.Now()
	rc.Collect(start)
	ticks0 := procStatCPU(t)
	begin, _ := processCPUTime()
	x := 1.0
	for {
		for i := 0; i < 100000; i++ {
			x = math.Sqrt(x + float64(i))
		}
		if now, _ := processCPUTime(); now-begin >= 300*time.Millisecond {
			break
		}
	}
	end := time.Now()
	got := byName(rc.Collect(end))
	ticks1 := procStatCPU(t)
	implied := time.Duration(got[CPUPercent].Value / 100 * float64(runtime.NumCPU()) * float64(end.Sub(start)))
	kernel := time.Duration(ticks1-ticks0) * tick
	diff := implied - kernel
	t.Logf("cpu_percent %.2f over %v implies %v of CPU; /proc/self/stat counted %v (x=%v)",
		got[CPUPercent].Value, end.Sub(start), implied, kernel, x)
	if diff < 0 {
		diff = -diff
	}
	if diff > 3*tick {
		t.Errorf("CPU time implied by %s = %v, /proc/self/stat says %v", CPUPercent, implied, kernel)
	}
}
