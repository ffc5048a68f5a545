//go:build e2e

package e2e_test

import (
	"github.com/wasmcanvas/wasmcanvas/pkg/auth"
	"github.com/wasmcanvas/wasmcanvas/pkg/client"
)

// e2eAdmin is the client option carrying the local admin credential of
// the canvas on stateDir (none when it cannot be read: the request then
// fails with 401, naming the cause).
func e2eAdmin(stateDir string) client.Option {
	tok, _ := auth.ReadAdminToken(stateDir)
	return client.WithToken(tok)
}
