package up_test

import (
	"testing"

	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
	"github.com/wasmcanvas/wasmcanvas/pkg/auth"
	"github.com/wasmcanvas/wasmcanvas/pkg/client"
)

func TestMain(m *testing.M) { testkit.VerifyNoLeaks(m) }

// admin is the client option carrying the local admin credential of the
// canvas on stateDir: the API answers 401 without it.
func admin(tb testing.TB, stateDir string) client.Option {
	tb.Helper()
	tok, err := auth.ReadAdminToken(stateDir)
	if err != nil {
		tb.Fatal(err)
	}
	return client.WithToken(tok)
}
