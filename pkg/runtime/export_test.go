package runtime

// Helpers of the internal tests that the external benchmarks share.
var (
	StartJetStreamForTest = startJetStream
	ProductCatalogWasm    = productCatalogWasm
)
