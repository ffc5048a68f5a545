// Package e2e holds the long end-to-end runs behind the build tag e2e
// (`make e2e`): real canvasd and nats-server processes killed with SIGKILL
// at random moments while Components are applied, updated and deleted.
// It has no code of its own, only tests.
package e2e
