//go:build race

package cm

// leakCycles is smaller under the race detector, which slows cgo-heavy
// loops several times over; RSS growth is measured the same way.
const leakCycles = 10_000
