// Package daemontest runs real canvasd processes for tests: it builds the
// binary once per test binary, starts it with ports from the OS, waits for
// its runtime file and /readyz, and stops it (or kills it with SIGKILL) on
// request or when the test ends. It also starts the NATS side a canvasd
// needs: an embedded nats-server with JetStream that can be restarted on
// the same port and store, and a nats-server as a separate process.
//
// It is for tests only and holds no canvas logic.
package daemontest
