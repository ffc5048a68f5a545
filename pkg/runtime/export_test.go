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
