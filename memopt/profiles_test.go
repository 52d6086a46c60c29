package memopt

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got (as indented JSON) with testdata/name, or rewrites it
// with -update.
func golden(t *testing.T, name string, got any) {
	t.Helper()
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(b, want) {
		t.Errorf("%s differs from the golden file; got:\n%s", name, b)
	}
}

func TestParseGoroutinesGolden(t *testing.T) {
	b, err := os.ReadFile("testdata/goroutines.txt")
	if err != nil {
		t.Fatal(err)
	}
	gs, err := ParseGoroutines(b)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "goroutines.golden.json", gs)
	golden(t, "goroutine_groups.golden.json", GroupSites(gs, 10))
}

func TestParseGoroutinesBad(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"text outside a goroutine", "hello\n", "line 1"},
		{"bad id", "goroutine x [running]:\n", `goroutine id "x"`},
		{"no state", "goroutine 5 running:\n", "no [state]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseGoroutines([]byte(tc.in))
			if !errors.Is(err, ErrBadProfile) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseGoroutines(%q) error = %v, want ErrBadProfile mentioning %q", tc.in, err, tc.want)
			}
		})
	}
	if gs, err := ParseGoroutines(nil); err != nil || len(gs) != 0 {
		t.Errorf("ParseGoroutines(nil) = %v, %v; want nothing, no error", gs, err)
	}
}

// The runtime's own dump must parse, whatever version wrote it.
func TestParseGoroutinesLive(t *testing.T) {
	var b bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&b, 2); err != nil {
		t.Fatal(err)
	}
	gs, err := ParseGoroutines(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) == 0 || gs[0].Entry() == "" {
		t.Fatalf("ParseGoroutines(live dump) = %+v, want goroutines with stacks", gs)
	}
}

func TestDiffGoroutines(t *testing.T) {
	mk := func(entry, state string) Goroutine {
		return Goroutine{State: state, Stack: []Frame{{Function: entry, File: "/src/a.go", Line: 3}}, CreatedBy: Frame{Function: "main.main"}}
	}
	before := []Goroutine{mk("main.worker", "chan receive"), mk("main.ticker", "select")}
	after := append(append([]Goroutine(nil), before...), mk("main.worker", "chan receive"), mk("main.worker", "chan receive"), mk("main.other", "sleep"))
	got := DiffGoroutines(before, after, 5)
	if len(got) != 2 || got[0].Function != "main.worker" || got[0].Growth != 2 || got[0].Current != 3 || got[1].Function != "main.other" {
		t.Fatalf("DiffGoroutines() = %+v, want main.worker +2 (3 now), then main.other", got)
	}
	if got[0].State != "chan receive" || got[0].CreatedBy != "main.main" || got[0].Location != "/src/a.go:3" {
		t.Errorf("DiffGoroutines()[0] = %+v, want state, creator and location", got[0])
	}
}

var heldForDiff [][]byte

// holdHeapForDiff keeps 8 MiB reachable in 1 MiB blocks, which the heap
// profile samples with near certainty at the default rate.
func holdHeapForDiff() {
	for range 8 {
		heldForDiff = append(heldForDiff, make([]byte, 1<<20))
	}
}

func heapProfile(t testing.TB) []byte {
	t.Helper()
	// The heap profile shows the state as of the last finished GC cycle,
	// with allocations published a cycle later.
	runtime.GC()
	runtime.GC()
	var b bytes.Buffer
	if err := pprof.Lookup("heap").WriteTo(&b, 0); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestDiffHeapNamesGrowingSite(t *testing.T) {
	before, err := ParseHeapProfile(heapProfile(t))
	if err != nil {
		t.Fatal(err)
	}
	holdHeapForDiff()
	defer func() { heldForDiff = nil }()
	after, err := ParseHeapProfile(heapProfile(t))
	if err != nil {
		t.Fatal(err)
	}
	sites, err := DiffHeap(before, after, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(sites) == 0 || !strings.HasSuffix(sites[0].Function, ".holdHeapForDiff") {
		t.Fatalf("DiffHeap() = %+v, want holdHeapForDiff first", sites)
	}
	if sites[0].Growth < 4<<20 || !strings.Contains(sites[0].Location, "profiles_test.go:") {
		t.Errorf("DiffHeap()[0] = %+v, want about 8 MiB grown at profiles_test.go", sites[0])
	}
}

func TestParseHeapProfileBad(t *testing.T) {
	var gor bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&gor, 0); err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string][]byte{"empty": nil, "garbage": []byte("not a profile"), "goroutine profile": gor.Bytes()} {
		if _, err := ParseHeapProfile(in); !errors.Is(err, ErrBadProfile) {
			t.Errorf("ParseHeapProfile(%s) error = %v, want ErrBadProfile", name, err)
		}
	}
	if _, err := DiffHeap(nil, nil, 1); err == nil {
		t.Error("DiffHeap(nil, nil) = nil error, want one")
	}
}

func TestIsStd(t *testing.T) {
	for fn, want := range map[string]bool{
		"runtime.mallocgc":               true,
		"bytes.growSlice":                true,
		"net/http.(*conn).serve":         true,
		"main.leak":                      false,
		"example.com/app/cache.(*C).Put": false,
		"github.com/x/y.func1":           false,
		"command-line-arguments.TestX":   false,
		"":                               true,
	} {
		if got := isStd(fn); got != want {
			t.Errorf("isStd(%q) = %v, want %v", fn, got, want)
		}
	}
}

func FuzzParseGoroutines(f *testing.F) {
	if b, err := os.ReadFile("testdata/goroutines.txt"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("goroutine 1 [running]:\nmain.main()\n\t/a.go:1 +0x1\n"))
	f.Add([]byte("goroutine 2 [chan receive, 3 minutes]:\ncreated by x in goroutine 1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		gs, err := ParseGoroutines(b)
		if err != nil {
			if !errors.Is(err, ErrBadProfile) {
				t.Fatalf("error %v does not wrap ErrBadProfile", err)
			}
			return
		}
		_ = GroupSites(gs, 5)
	})
}

func FuzzParseHeapProfile(f *testing.F) {
	f.Add(heapProfile(f))
	f.Add([]byte{0x1f, 0x8b})
	f.Add([]byte("heap profile: 1: 2 [3: 4] @ heap/1048576\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseHeapProfile(b)
		if err != nil {
			return
		}
		if _, err := DiffHeap(p, p, 5); err != nil {
			t.Logf("DiffHeap of a parsed profile: %v", err)
		}
	})
}

func TestAllocFramePrefersOwnModule(t *testing.T) {
	if mainModule == "" {
		t.Skip("no build info in this binary")
	}
	frames := []Frame{
		{Function: "runtime.mallocgc"},
		{Function: "github.com/HdrHistogram/hdrhistogram-go.New"},
		{Function: mainModule + "/dbopt/querytrace.(*Recorder).Record"},
		{Function: "database/sql.(*DB).QueryContext"},
	}
	if got := allocFrame(frames).Function; got != frames[2].Function {
		t.Errorf("allocFrame() = %s, want the module's own %s", got, frames[2].Function)
	}
	if got := allocFrame(frames[:2]).Function; got != frames[1].Function {
		t.Errorf("allocFrame(library only) = %s, want %s", got, frames[1].Function)
	}
}

func TestKeepGrowing(t *testing.T) {
	site := func(fn string, growth float64) Site {
		return Site{Function: fn, Location: fn + ".go:1", Growth: growth}
	}
	tests := []struct {
		name          string
		total, recent []Site
		want          []string
	}{
		{"warm-up site dropped", []Site{site("newHDR", 5e6), site("leak", 3e6)}, []Site{site("leak", 1.5e6)}, []string{"leak"}},
		{"total order kept", []Site{site("a", 3), site("b", 2), site("c", 1)}, []Site{site("c", 9), site("a", 1)}, []string{"a", "c"}},
		{"nothing still growing", []Site{site("a", 3)}, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, s := range keepGrowing(tc.total, tc.recent) {
				got = append(got, s.Function)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("keepGrowing() = %v, want %v", got, tc.want)
			}
		})
	}
}
