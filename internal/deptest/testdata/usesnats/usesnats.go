// Package usesnats is a pure package gone wrong: it imports nats.go. The
// dependency test must refuse it.
package usesnats

import "github.com/nats-io/nats.go"

// Conn is there to use the import.
type Conn = nats.Conn
