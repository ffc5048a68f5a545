//go:build !race

package cm

// leakCycles: a cycle takes ~70-150µs, so 100,000 stay in the normal run.
const leakCycles = 100_000
