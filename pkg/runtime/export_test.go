package runtime

// Helpers of the internal tests that the external benchmarks share.
var (
	StartJetStreamForTest = startJetStream
	ProductCatalogWasm    = productCatalogWasm
)

// SetOptimizeHook runs f before each optimising compile of h (set it
// before the first Load).
func SetOptimizeHook(h *Host, f func(key string)) { h.optimizeHook = f }

// SetWrapHook has f see, and change, what the stream adapter writes for
// h (set it before the first Load).
func SetWrapHook(h *Host, f func(out []byte, retyped bool) []byte) { h.wrapHook = f }

// WaitTornDown waits until c's requests' instances are torn down (a
// teardown follows its response). Sequential benchmarks only: it must not
// race a request starting.
func WaitTornDown(c *Component) { c.inflight.Wait() }

// SlowTeardown says whether c's requests' instances are now torn down
// after their responses.
func SlowTeardown(c *Component) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.code.slowTeardown()
}

// CompiledCode is how many compiled codes h holds (optimised and baseline).
func CompiledCode(h *Host) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.compiled)
}
