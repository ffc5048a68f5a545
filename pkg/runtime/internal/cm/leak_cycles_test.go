//go:build !e2e

package cm

// leakCycles keeps the default run short: a cycle takes 70-150µs on an idle
// machine but several times that on a loaded CI box or under -race, and
// 100,000 of them then exceed 20 s. `-tags e2e` runs the full 100,000.
const leakCycles = 10_000
