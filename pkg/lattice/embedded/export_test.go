package embedded

// RelaxedSync turns SyncAlways off for the benchmark that measures what it
// costs; nothing outside this package's tests may.
func RelaxedSync(c Config, relaxed bool) Config {
	c.relaxedSync = relaxed
	return c
}
