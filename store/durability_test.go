//go:build unix

package store_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/perfengine/perfengine/metrics"
	"github.com/perfengine/perfengine/store"
)

// childEnv tells a re-executed test binary to act as the writer of
// TestSQLiteSurvivesKill and names its database.
const childEnv = "PERFENGINE_STORE_KILL_CHILD"

// TestSQLiteSurvivesKill runs a child process that writes sample batches
// and actions and prints each one once the store acknowledged it, kills it
// with SIGKILL in mid-stream, and checks that every acknowledged write is
// in the reopened store.
func TestSQLiteSurvivesKill(t *testing.T) {
	const killAfter = 150 // acknowledgements before the kill
	path := filepath.Join(t.TempDir(), "kill.db")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestKillChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[string][]int{}
	r := bufio.NewReader(out)
	killed := false
	for n := 0; ; {
		line, err := r.ReadString('\n')
		if err != nil {
			// A line cut off by the kill was never acknowledged.
			if !errors.Is(err, io.EOF) {
				t.Fatalf("read child output: %v", err)
			}
			break
		}
		kind, seq, ok := strings.Cut(strings.TrimSpace(line), " ")
		i, convErr := strconv.Atoi(seq)
		if !ok || convErr != nil || (kind != "S" && kind != "A") {
			continue // the test framework's own output
		}
		acked[kind] = append(acked[kind], i)
		if n++; n == killAfter {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatalf("kill child: %v", err)
			}
			killed = true
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("child exited before %d acknowledgements: %v", killAfter, err)
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child ended with %v, want killed by SIGKILL", err)
	}

	s, err := store.OpenSQLite(path, store.Retention{})
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer s.Close()
	got, err := s.QuerySamples(context.Background(), store.SampleQuery{Name: "kill"})
	if err != nil {
		t.Fatal(err)
	}
	have := map[float64]bool{}
	for _, sm := range got {
		have[sm.Value] = true
	}
	for _, seq := range acked["S"] {
		for i := range batchSize {
			if v := float64(seq*batchSize + i); !have[v] {
				t.Errorf("acknowledged sample %v (batch %d) lost", v, seq)
			}
		}
	}
	if len(got)%batchSize != 0 {
		t.Errorf("%d samples stored, not whole batches of %d: a batch was half written", len(got), batchSize)
	}
	for _, seq := range acked["A"] {
		if _, err := s.GetAction(context.Background(), fmt.Sprintf("act-%d", seq)); err != nil {
			t.Errorf("acknowledged action %d lost: %v", seq, err)
		}
	}
	t.Logf("killed after %d acknowledged sample batches and %d actions; %d samples found",
		len(acked["S"]), len(acked["A"]), len(got))
}

const batchSize = 10

// TestKillChild is the writer process of TestSQLiteSurvivesKill; on its
// own it skips.
func TestKillChild(t *testing.T) {
	path := os.Getenv(childEnv)
	if path == "" {
		t.Skip("helper process of TestSQLiteSurvivesKill")
	}
	s, err := store.OpenSQLite(path, store.Retention{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	t0 := time.Now()
	// Bounded, in case the parent dies without killing us (a write to its
	// closed pipe would also end us, through SIGPIPE).
	for seq := range 100_000 {
		batch := make([]metrics.Sample, batchSize)
		for i := range batch {
			batch[i] = metrics.Sample{Name: "kill", Value: float64(seq*batchSize + i), Time: t0.Add(time.Duration(seq*batchSize+i) * time.Microsecond)}
		}
		if err := s.WriteSamples(ctx, batch); err != nil {
			t.Fatal(err)
		}
		fmt.Printf("S %d\n", seq)
		if err := s.SaveAction(ctx, store.Action{ID: fmt.Sprintf("act-%d", seq), Module: "test", State: store.StatePending, CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		fmt.Printf("A %d\n", seq)
	}
}
