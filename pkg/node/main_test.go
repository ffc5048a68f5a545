package node

import (
	"testing"

	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
)

func TestMain(m *testing.M) { testkit.VerifyNoLeaks(m) }
