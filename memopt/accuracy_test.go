package memopt

import (
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"
)

// accuracySeeds is how many independent series each accuracy test replays:
// 8 keeps the package's tests fast; MEMOPT_ACCURACY_SEEDS=200 gives the
// figures quoted in the README:
//
//	MEMOPT_ACCURACY_SEEDS=200 go test -run Accuracy -v ./memopt/
func accuracySeeds(t *testing.T) uint64 {
	if v := os.Getenv("MEMOPT_ACCURACY_SEEDS"); v != "" {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || n == 0 {
			t.Fatalf("MEMOPT_ACCURACY_SEEDS=%q: want a positive integer", v)
		}
		return n
	}
	return 8
}

// sim replays a Go service's runtime second by second: a live heap (base,
// plus a cache that fills and is flushed, plus in-flight request memory
// that is autocorrelated noise, plus an optional leak) under a heap that
// saw-tooths between the live heap and the GC goal as garbage is allocated.
type sim struct {
	rng        *rand.Rand
	t          time.Time
	start      time.Time
	heapLeak   float64 // bytes per second
	leakFor    float64 // seconds the heap leaks for; 0 means forever
	gorLeak    float64 // goroutines per second
	transient  float64
	inuse      float64
	live       float64
	cycles     uint64
	goroutines float64
}

const mib = 1 << 20

func newSim(seed uint64, heapLeakPerMin, gorLeakPerMin float64) *sim {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := &sim{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), t: start, start: start,
		heapLeak: heapLeakPerMin / 60, gorLeak: gorLeakPerMin / 60}
	s.live = s.liveNow()
	s.inuse = s.live
	return s
}

func (s *sim) liveNow() float64 {
	el := s.t.Sub(s.start).Seconds()
	base := 64.0 * mib
	cache := 2 * mib * math.Mod(el, 90) / 90 // filled over 90 s, then flushed
	s.transient = 0.8*s.transient + s.rng.NormFloat64()*0.6*mib
	if s.leakFor > 0 {
		el = min(el, s.leakFor)
	}
	return base + cache + math.Abs(s.transient) + s.heapLeak*el
}

// next advances one second and returns the sample the runtime would give.
func (s *sim) next() Sample {
	s.t = s.t.Add(time.Second)
	s.inuse += (6 + s.rng.NormFloat64()) * mib // garbage allocated this second
	if s.inuse >= 2*s.live {                   // GOGC=100: GC at twice the live heap
		s.cycles++
		s.live = s.liveNow()
		s.inuse = s.live
	}
	el := s.t.Sub(s.start).Seconds()
	requests := float64(s.rng.IntN(25)) // request goroutines come and go
	s.goroutines = 40 + requests + math.Floor(s.gorLeak*el)
	return Sample{Time: s.t, GCCycles: s.cycles, HeapLive: uint64(s.live), HeapInUse: uint64(s.inuse),
		HeapGoal: uint64(2 * s.live), Goroutines: uint64(s.goroutines), RuntimeTotal: uint64(s.inuse + 8*mib),
		MemoryLimit: math.MaxInt64}
}

// firstDetection replays up to d of samples and returns when a leak of kind
// was first reported (-1 if never), and every kind reported on the way.
var firstAny map[LeakKind]time.Duration

func firstDetection(t *testing.T, o Options, s *sim, d time.Duration, kind LeakKind) (time.Duration, map[LeakKind]bool) {
	t.Helper()
	det, err := NewDetector(o, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[LeakKind]bool{}
	firstAny = map[LeakKind]time.Duration{}
	first := time.Duration(-1)
	for el := time.Duration(0); el < d; el += time.Second {
		det.Add(s.next())
		for _, l := range det.Leaks() {
			if !seen[l.Kind] {
				firstAny[l.Kind] = el
			}
			seen[l.Kind] = true
			if l.Kind == kind && first < 0 {
				first = el + time.Second
			}
		}
	}
	return first, seen
}

// TestAccuracy replays simulated services and checks the detector's hit
// and false-alarm rates. The rates, not every series, are asserted: a
// 1 MiB/min leak in a heap whose live size wanders by a few MiB is not
// separable from noise in every 5-minute stretch, and pretending otherwise
// would mean tuning to the seeds.
func TestAccuracy(t *testing.T) {
	seeds := accuracySeeds(t)
	tests := []struct {
		name       string
		heapPerMin float64
		gorPerMin  float64
		replay     time.Duration
		want       LeakKind // "" wants nothing reported
		firstSeed  uint64
		minHits    float64 // least share of series where want is reported
		maxFalse   float64 // most share of series reporting another kind
	}{
		{name: "heap leak 1 MiB/min under sawtooth", heapPerMin: 1 * mib, replay: 5 * time.Minute, want: LeakHeap, firstSeed: 1, minHits: 0.9, maxFalse: 0.05},
		{name: "goroutine leak 6/min under request churn", gorPerMin: 6, replay: 5 * time.Minute, want: LeakGoroutine, firstSeed: 1, minHits: 0.9, maxFalse: 0.05},
		{name: "steady 30 minutes", replay: 30 * time.Minute, firstSeed: 1000, maxFalse: 0.05},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var times []time.Duration
			var false_ int
			for seed := tc.firstSeed; seed < tc.firstSeed+seeds; seed++ {
				s := newSim(seed, tc.heapPerMin, tc.gorPerMin)
				at, seen := firstDetection(t, Options{}, s, tc.replay, tc.want)
				for k := range seen {
					if k != tc.want {
						false_++
						t.Logf("seed %d: false %s leak at %v", seed, k, firstAny[k])
						break
					}
				}
				if tc.want != "" && at >= 0 {
					times = append(times, at)
				}
			}
			n := float64(seeds)
			if tc.want != "" {
				if hit := float64(len(times)) / n; hit < tc.minHits {
					t.Errorf("%s leak reported within %v in %d of %d series (%.0f%%), want at least %.0f%%",
						tc.want, tc.replay, len(times), seeds, 100*hit, 100*tc.minHits)
				}
			}
			if f := float64(false_) / n; f > tc.maxFalse {
				t.Errorf("false reports in %d of %d series (%.1f%%), want at most %.1f%%", false_, seeds, 100*f, 100*tc.maxFalse)
			}
			if len(times) > 0 {
				slices.Sort(times)
				t.Logf("%d of %d series reported, after median %v, max %v; %d false", len(times), seeds, times[len(times)/2], times[len(times)-1], false_)
			} else {
				t.Logf("%d series: %d false reports", seeds, false_)
			}
		})
	}
}

// A cache that fills to its bound looks like a leak while it fills; once it
// stops growing, the report must go, though the 30-minute window still
// holds the rise.
func TestGrowthThatStopsIsRetracted(t *testing.T) {
	s := newSim(7, 2*mib, 0)
	s.leakFor = 10 * 60
	d, err := NewDetector(Options{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	var reported, retracted time.Duration
	for el := time.Second; el <= 30*time.Minute; el += time.Second {
		d.Add(s.next())
		leaking := len(d.Leaks()) > 0
		switch {
		case leaking && reported == 0:
			reported = el
		case !leaking && reported > 0 && retracted == 0:
			retracted = el
		case leaking && retracted > 0:
			t.Fatalf("reported again at %v after the retraction at %v", el, retracted)
		}
	}
	if reported == 0 || reported > 10*time.Minute {
		t.Fatalf("growth of 2 MiB/min for 10 minutes reported at %v, want within the 10 minutes", reported)
	}
	if retracted == 0 {
		t.Fatalf("report never retracted after the growth stopped at 10m")
	}
	t.Logf("reported at %v, retracted at %v (growth stopped at 10m)", reported, retracted)
}
