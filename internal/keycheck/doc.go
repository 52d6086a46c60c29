// Package keycheck holds the test that every configuration key is read by
// the code it configures. It type-checks the engine and its CLI, which
// costs seconds of CPU; in a package of its own it does not disturb the
// engine's tests, which measure their own process.
package keycheck
