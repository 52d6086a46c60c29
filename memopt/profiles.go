package memopt

import (
	"bufio"
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"

	"github.com/google/pprof/profile"
)

// Site is an allocation site whose live memory grew, or a group of
// goroutines (same function, same blocking state, same creator) that grew.
type Site struct {
	// Function is the function to look at: for the heap, the innermost
	// frame outside the standard library that allocated; for goroutines, the
	// function the goroutines run.
	Function string `json:"function"`
	// Location is file:line of the allocation, or where the goroutines
	// block.
	Location string `json:"location,omitempty"`
	// Stack is the call stack, innermost first, at most eight frames.
	Stack []string `json:"stack,omitempty"`
	// Growth is the increase between the two profiles: bytes in use, or
	// goroutines.
	Growth float64 `json:"growth"`
	// Current is the value in the newer profile.
	Current float64 `json:"current"`
	// State is the goroutines' wait reason ("chan receive", "select").
	State string `json:"state,omitempty"`
	// CreatedBy is the function that started the goroutines.
	CreatedBy string `json:"created_by,omitempty"`
	// Type is the kind of mistake the site looks like.
	Type LeakType `json:"type,omitempty"`
}

func (s Site) String() string {
	out := s.Function
	if s.Location != "" {
		out += " at " + s.Location
	}
	if s.State != "" {
		out += " [" + s.State + "]"
	}
	if s.CreatedBy != "" {
		out += " created by " + s.CreatedBy
	}
	return out
}

// ParseHeapProfile parses a heap profile in pprof's format (gzipped or
// not), as runtime/pprof writes it with debug=0. Errors wrap ErrBadProfile.
func ParseHeapProfile(b []byte) (*profile.Profile, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty heap profile", ErrBadProfile)
	}
	p, err := profile.ParseData(b)
	if err != nil {
		return nil, fmt.Errorf("%w: parse heap profile: %w", ErrBadProfile, err)
	}
	if sampleIndex(p, "inuse_space") < 0 {
		return nil, fmt.Errorf("%w: not a heap profile: no inuse_space sample type", ErrBadProfile)
	}
	return p, nil
}

func sampleIndex(p *profile.Profile, typ string) int {
	for i, st := range p.SampleType {
		if st.Type == typ {
			return i
		}
	}
	return -1
}

// DiffHeap names the allocation sites whose in-use bytes grew from before to
// after, largest growth first, at most max. It is pprof's -diff_base summed
// per site: each site's in-use bytes in after minus those in before, in one
// pass over each profile's samples and without copying or merging them;
// strings are built only for the sites returned.
func DiffHeap(before, after *profile.Profile, max int) ([]Site, error) {
	if before == nil || after == nil {
		return nil, errors.New("diff heap profiles: missing profile")
	}
	bi, ai := sampleIndex(before, "inuse_space"), sampleIndex(after, "inuse_space")
	if bi < 0 || ai < 0 {
		return nil, errors.New("diff heap profiles: a profile has no inuse_space sample type")
	}
	sites := make(map[siteKey]*siteValue, len(after.Sample))
	add := func(p *profile.Profile, idx int, sign float64, current bool) {
		for _, s := range p.Sample {
			if idx >= len(s.Value) {
				continue
			}
			k, ok := allocSite(s)
			if !ok {
				continue
			}
			v := sites[k]
			if v == nil {
				v = &siteValue{}
				sites[k] = v
			}
			val := s.Value[idx]
			v.growth += sign * float64(val)
			if current {
				v.current += float64(val)
				// The largest sample of the newer profile stands for the
				// site's stack.
				if abs64(val) > v.best {
					v.best, v.sample = abs64(val), s
				}
			}
		}
	}
	add(after, ai, 1, true)
	add(before, bi, -1, false)
	type grown struct {
		key siteKey
		v   *siteValue
	}
	var top []grown
	for k, v := range sites {
		if v.growth > 0 && v.sample != nil {
			top = append(top, grown{k, v})
		}
	}
	slices.SortFunc(top, func(a, b grown) int {
		if c := cmp.Compare(b.v.growth, a.v.growth); c != 0 {
			return c
		}
		if c := strings.Compare(a.key.function, b.key.function); c != 0 {
			return c
		}
		return cmp.Or(strings.Compare(a.key.file, b.key.file), cmp.Compare(a.key.line, b.key.line))
	})
	if len(top) > max {
		top = top[:max]
	}
	out := make([]Site, 0, len(top))
	for _, g := range top {
		f := Frame{Function: g.key.function, File: g.key.file, Line: int(g.key.line)}
		out = append(out, Site{Function: f.Function, Location: f.loc(), Stack: stackStrings(sampleFrames(g.v.sample)),
			Growth: g.v.growth, Current: g.v.current})
	}
	return out, nil
}

// siteKey is an allocation site: the frame allocFrame picks.
type siteKey struct {
	function, file string
	line           int64
}

type siteValue struct {
	growth, current float64
	best            int64           // largest single sample of the newer profile
	sample          *profile.Sample // that sample, whose stack represents the site
}

// allocSite is allocFrame's choice for a sample, read straight from its
// locations without building the frames.
func allocSite(s *profile.Sample) (siteKey, bool) {
	var first, nonStd, nonRuntime *profile.Line
	for _, loc := range s.Location {
		if loc == nil {
			continue
		}
		for i := range loc.Line {
			ln := &loc.Line[i]
			name := ""
			if ln.Function != nil {
				name = ln.Function.Name
			}
			if inMainModule(name) {
				return lineKey(ln), true
			}
			if first == nil {
				first = ln
			}
			if nonStd == nil && !isStd(name) {
				nonStd = ln
			}
			if nonRuntime == nil && !strings.HasPrefix(name, "runtime.") {
				nonRuntime = ln
			}
		}
	}
	switch {
	case nonStd != nil:
		return lineKey(nonStd), true
	case nonRuntime != nil:
		return lineKey(nonRuntime), true
	case first != nil:
		return lineKey(first), true
	}
	return siteKey{}, false
}

func lineKey(ln *profile.Line) siteKey {
	k := siteKey{line: ln.Line}
	if ln.Function != nil {
		k.function, k.file = ln.Function.Name, ln.Function.Filename
	}
	if k.file == "" {
		k.line = 0 // loc() prints no line without a file
	}
	return k
}

func abs64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// Frame is one call in a stack.
type Frame struct {
	Function string `json:"function"`
	File     string `json:"file,omitempty"`
	Line     int    `json:"line,omitempty"`
}

func (f Frame) loc() string {
	if f.File == "" {
		return ""
	}
	return f.File + ":" + strconv.Itoa(f.Line)
}

func sampleFrames(s *profile.Sample) []Frame {
	var out []Frame
	for _, loc := range s.Location {
		if loc == nil {
			continue
		}
		for _, ln := range loc.Line {
			f := Frame{Line: int(ln.Line)}
			if ln.Function != nil {
				f.Function, f.File = ln.Function.Name, ln.Function.Filename
			}
			out = append(out, f)
		}
	}
	return out
}

// mainModule is the module path of the running binary: its own code is
// where a reader can act, so frames in it are preferred to a library's.
var mainModule = func() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		return bi.Main.Path
	}
	return ""
}()

func inMainModule(fn string) bool {
	if strings.HasPrefix(fn, "main.") {
		return true
	}
	m := mainModule
	// Compared in place: this runs for every frame of every sample.
	return m != "" && len(fn) > len(m) && strings.HasPrefix(fn, m) && (fn[len(m)] == '.' || fn[len(m)] == '/')
}

// allocFrame picks the frame to blame: the innermost one in the binary's
// own module (a library's cache filled by the service is the service's to
// bound), else the innermost one outside the standard library (growslice or
// strings.Builder are where memory is allocated, not why), else the
// innermost one outside the runtime.
func allocFrame(frames []Frame) Frame {
	for _, f := range frames {
		if inMainModule(f.Function) {
			return f
		}
	}
	for _, f := range frames {
		if !isStd(f.Function) {
			return f
		}
	}
	for _, f := range frames {
		if !strings.HasPrefix(f.Function, "runtime.") {
			return f
		}
	}
	return frames[0]
}

// isStd reports whether fn belongs to the standard library: its import path
// has no dot in the first element. main and test binaries are not.
func isStd(fn string) bool {
	if fn == "" {
		return true
	}
	pkg := fn
	if i := strings.LastIndex(pkg, "/"); i >= 0 {
		if j := strings.Index(pkg[i:], "."); j >= 0 {
			pkg = pkg[:i+j]
		}
	} else if j := strings.Index(pkg, "."); j >= 0 {
		pkg = pkg[:j]
	}
	first, _, _ := strings.Cut(pkg, "/")
	if first == "main" || first == "command-line-arguments" {
		return false
	}
	return !strings.Contains(first, ".")
}

func stackStrings(frames []Frame) []string {
	out := make([]string, 0, min(len(frames), 8))
	for _, f := range frames[:min(len(frames), 8)] {
		s := f.Function
		if l := f.loc(); l != "" {
			s += " " + l
		}
		out = append(out, s)
	}
	return out
}

// Goroutine is one goroutine of a debug=2 goroutine dump.
type Goroutine struct {
	ID uint64 `json:"id"`
	// State is the wait reason or status ("chan receive", "running").
	State string `json:"state"`
	// WaitMinutes is how long it has been blocked, when the runtime says.
	WaitMinutes int `json:"wait_minutes,omitempty"`
	// Stack is innermost first.
	Stack     []Frame `json:"stack"`
	CreatedBy Frame   `json:"created_by"`
}

// Entry is the function the goroutine runs: the outermost frame.
func (g Goroutine) Entry() string {
	if len(g.Stack) == 0 {
		return ""
	}
	return g.Stack[len(g.Stack)-1].Function
}

// ParseGoroutines parses a goroutine dump as runtime/pprof's goroutine
// profile writes it with debug=2 (the format of a panic's traceback). The
// goroutineleak profile uses the same format. Errors wrap ErrBadProfile and
// name the line.
func ParseGoroutines(b []byte) ([]Goroutine, error) {
	var out []Goroutine
	var cur *Goroutine
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	lineNo := 0
	// pendingFn is a function line whose file line has not come yet;
	// inCreated says it belongs to "created by".
	var pendingFn string
	var havePending, inCreated bool
	flush := func() {
		if cur != nil && havePending {
			if inCreated {
				cur.CreatedBy = Frame{Function: pendingFn}
			} else {
				cur.Stack = append(cur.Stack, Frame{Function: pendingFn})
			}
		}
		havePending, inCreated = false, false
	}
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		switch {
		case strings.TrimSpace(line) == "":
			flush()
			if cur != nil {
				out = append(out, *cur)
				cur = nil
			}
		case strings.HasPrefix(line, "goroutine "):
			flush()
			if cur != nil {
				out = append(out, *cur)
			}
			g, err := parseGoroutineHeader(line)
			if err != nil {
				return nil, fmt.Errorf("%w: line %d: %w", ErrBadProfile, lineNo, err)
			}
			cur = &g
		case cur == nil:
			return nil, fmt.Errorf("%w: line %d: %q outside a goroutine", ErrBadProfile, lineNo, truncate(line, 80))
		case strings.HasPrefix(line, "\t"):
			if !havePending {
				// A file line without a function: tolerate, as later Go
				// versions may add detail lines.
				continue
			}
			file, ln := parseFileLine(strings.TrimSpace(line))
			f := Frame{Function: pendingFn, File: file, Line: ln}
			if inCreated {
				cur.CreatedBy = f
			} else {
				cur.Stack = append(cur.Stack, f)
			}
			havePending, inCreated = false, false
		case strings.HasPrefix(line, "created by "):
			flush()
			fn := strings.TrimPrefix(line, "created by ")
			if i := strings.Index(fn, " in goroutine "); i >= 0 {
				fn = fn[:i]
			}
			pendingFn, havePending, inCreated = fn, true, true
		case strings.HasPrefix(line, "..."):
			flush() // "...additional frames elided..."
		default:
			flush()
			pendingFn, havePending = stripArgs(line), true
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: line %d: %w", ErrBadProfile, lineNo+1, err)
	}
	flush()
	if cur != nil {
		out = append(out, *cur)
	}
	if len(out) == 0 && len(bytes.TrimSpace(b)) > 0 {
		return nil, fmt.Errorf("%w: no goroutine headers", ErrBadProfile)
	}
	return out, nil
}

// parseGoroutineHeader reads "goroutine 7 [chan receive, 3 minutes]:".
func parseGoroutineHeader(line string) (Goroutine, error) {
	rest := strings.TrimPrefix(line, "goroutine ")
	idStr, rest, _ := strings.Cut(rest, " ")
	id, err := strconv.ParseUint(idStr, 10, 64)
	if err != nil {
		return Goroutine{}, fmt.Errorf("goroutine id %q is not a number", truncate(idStr, 40))
	}
	open, end := strings.Index(rest, "["), strings.LastIndex(rest, "]")
	if open < 0 || end < open {
		return Goroutine{}, fmt.Errorf("goroutine %d: no [state]", id)
	}
	g := Goroutine{ID: id}
	parts := strings.Split(rest[open+1:end], ", ")
	g.State = parts[0]
	for _, p := range parts[1:] {
		if m, ok := strings.CutSuffix(p, " minutes"); ok {
			if v, err := strconv.Atoi(m); err == nil {
				g.WaitMinutes = v
				continue
			}
		}
		if p == "locked to thread" || strings.HasPrefix(p, "syncbubble") || strings.HasPrefix(p, "durable") {
			continue
		}
		g.State += ", " + p
	}
	return g, nil
}

// stripArgs turns "pkg.(*T).m(0xc000012345, 0x1)" into "pkg.(*T).m".
func stripArgs(line string) string {
	line = strings.TrimSpace(line)
	if !strings.HasSuffix(line, ")") {
		return line
	}
	depth := 0
	for i := len(line) - 1; i >= 0; i-- {
		switch line[i] {
		case ')':
			depth++
		case '(':
			depth--
			if depth == 0 {
				return line[:i]
			}
		}
	}
	return line
}

// parseFileLine reads "/src/x.go:42 +0x1d".
func parseFileLine(s string) (string, int) {
	if i := strings.LastIndex(s, " +0x"); i >= 0 {
		s = s[:i]
	}
	if i := strings.LastIndex(s, ":"); i >= 0 {
		if n, err := strconv.Atoi(s[i+1:]); err == nil {
			return s[:i], n
		}
	}
	return s, 0
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

type groupKey struct{ entry, state, createdBy string }

type group struct {
	key   groupKey
	count int
	where Frame // innermost frame outside the standard library
	stack []string
}

// groupGoroutines groups goroutines that run the same function, wait in the
// same state and were started by the same function: a leak is many of the
// same kind, while healthy goroutines of that kind come and go.
func groupGoroutines(gs []Goroutine) map[groupKey]*group {
	out := make(map[groupKey]*group)
	for _, g := range gs {
		k := groupKey{g.Entry(), g.State, g.CreatedBy.Function}
		gr := out[k]
		if gr == nil {
			gr = &group{key: k}
			if len(g.Stack) > 0 {
				gr.where = allocFrame(g.Stack)
				gr.stack = stackStrings(g.Stack)
			}
			out[k] = gr
		}
		gr.count++
	}
	return out
}

// DiffGoroutines names the goroutine groups that grew from before to after,
// largest growth first, at most max.
func DiffGoroutines(before, after []Goroutine, max int) []Site {
	return diffGroups(groupGoroutines(before), groupGoroutines(after), max)
}

func diffGroups(b, a map[groupKey]*group, max int) []Site {
	var sites []Site
	for k, g := range a {
		prev := 0
		if p := b[k]; p != nil {
			prev = p.count
		}
		if g.count <= prev {
			continue
		}
		sites = append(sites, groupSite(g, float64(g.count-prev)))
	}
	slices.SortFunc(sites, func(x, y Site) int {
		if c := cmp.Compare(y.Growth, x.Growth); c != 0 {
			return c
		}
		return strings.Compare(x.Function, y.Function)
	})
	if len(sites) > max {
		sites = sites[:max]
	}
	return sites
}

func groupSite(g *group, growth float64) Site {
	return Site{Function: g.key.entry, Location: g.where.loc(), Stack: g.stack,
		Growth: growth, Current: float64(g.count), State: g.key.state, CreatedBy: g.key.createdBy}
}

// GroupSites groups a dump (such as the goroutineleak profile, where every
// goroutine is leaked) into sites, largest first.
func GroupSites(gs []Goroutine, max int) []Site {
	return DiffGoroutines(nil, gs, max)
}
