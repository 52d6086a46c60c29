package metrics

import (
	"os"
	"path/filepath"
	"testing"
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
