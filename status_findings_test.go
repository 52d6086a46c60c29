package perfengine

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// reportingModule is a testModule whose findings a test sets.
type reportingModule struct {
	testModule
	fmu      sync.Mutex
	findings []Finding
}

func (m *reportingModule) report(fs ...Finding) {
	m.fmu.Lock()
	defer m.fmu.Unlock()
	m.findings = fs
}

func (m *reportingModule) Findings() []Finding {
	m.fmu.Lock()
	defer m.fmu.Unlock()
	return slices.Clone(m.findings)
}

// TestFindingsRaiseTheStatus: a warning or critical finding about the
// service lifts the status to its severity in the cycle that reports it,
// the summary names it, and the status falls only after the findings have
// stayed below it for two cycles; a daemon target's finding, advice and an
// info finding do not count.
func TestFindingsRaiseTheStatus(t *testing.T) {
	leak := Finding{Kind: "heap_leak", Severity: SeverityWarning, Title: "heap grows 40 MB/h at cache.go:88", Subject: "cache.go:88"}
	crit := Finding{Kind: FindingRegression, Severity: SeverityCritical, Title: "response_time_ms changed +180%", Subject: "response_time_ms"}
	tests := []struct {
		name     string
		findings []Finding
		want     Status
	}{
		{"none", nil, StatusHealthy},
		{"info only", []Finding{{Kind: "note", Severity: SeverityInfo, Title: "fyi"}}, StatusHealthy},
		{"a target's", []Finding{{Kind: FindingTargetDown, Severity: SeverityCritical, Title: "shop down", Target: "shop"}}, StatusHealthy},
		{"advice", []Finding{{Kind: "full_scans", Severity: SeverityWarning, Title: "2 statements scan a table", Advice: true}}, StatusHealthy},
		{"warning", []Finding{leak}, StatusWarning},
		{"critical", []Finding{leak, crit}, StatusCritical},
		{"critical, a cycle later", []Finding{leak}, StatusCritical},   // held: one calm cycle
		{"critical, two cycles later", []Finding{leak}, StatusWarning}, // falls to what is left
		{"warning, gone", nil, StatusWarning},
		{"healthy again", nil, StatusHealthy},
	}
	m := &reportingModule{testModule: testModule{name: "svc"}}
	e, clk := newTestEngine(t, DefaultConfig(), m)
	for _, tc := range tests {
		m.report(tc.findings...)
		e.step(clk)
		s := e.Summary()
		if s.Status != tc.want {
			t.Fatalf("%s: status %s, want %s (causes %+v)", tc.name, s.Status, tc.want, s.Causes)
		}
		if tc.want == StatusHealthy {
			if len(s.Causes) != 0 {
				t.Errorf("%s: causes %+v while healthy", tc.name, s.Causes)
			}
			continue
		}
		if len(s.Causes) == 0 || s.Causes[0].Level != tc.want || s.Causes[0].Kind != CauseFinding || s.Causes[0].Source != "svc" {
			t.Errorf("%s: causes %+v, want the svc finding at %s first", tc.name, s.Causes, tc.want)
		}
	}
	m.mu.Lock()
	got := slices.Clone(m.statuses)
	m.mu.Unlock()
	if want := []Status{StatusWarning, StatusCritical, StatusWarning, StatusHealthy}; !slices.Equal(got, want) {
		t.Errorf("StatusChanged calls %v, want %v", got, want)
	}
}

// TestFailingModuleRaisesTheStatus: a module whose collections keep
// failing holds the status at warning and is named; once it recovers the
// status clears.
func TestFailingModuleRaisesTheStatus(t *testing.T) {
	failing := &testModule{name: "failing", err: errors.New("connection refused")}
	e, clk := newTestEngine(t, DefaultConfig(), failing)
	var s Summary
	for range 12 { // backoff spaces out the attempts
		e.step(clk)
		if s = e.Summary(); s.Status != StatusHealthy {
			break
		}
	}
	if s.Status != StatusWarning || len(s.Causes) != 1 || s.Causes[0].Kind != CauseModule || s.Causes[0].Subject != "failing" {
		t.Fatalf("status %s, causes %+v; want warning from the failing module", s.Status, s.Causes)
	}
	failing.mu.Lock()
	failing.err = nil
	failing.mu.Unlock()
	for range 40 {
		clk.advance(time.Second)
		e.step(clk)
		if e.Summary().Status == StatusHealthy {
			return
		}
	}
	t.Errorf("status %s after the module recovered, want healthy", e.Summary().Status)
}
