package memopt

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runLeakingChild())
	}
	// TestGoroutineLeakProfile strands one goroutine on purpose.
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/perfengine/perfengine/memopt.leakForProfile.func1"))
}
