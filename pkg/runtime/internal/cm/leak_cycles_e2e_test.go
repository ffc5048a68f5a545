//go:build e2e

package cm

const leakCycles = 100_000
