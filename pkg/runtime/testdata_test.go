package runtime_test

import (
	"bytes"
	"flag"
	"os"
	"testing"

	"github.com/wasmcanvas/wasmcanvas/pkg/runtime/internal/cm"
)

var update = flag.Bool("update", false, "rewrite the binary components under testdata from their WAT text")

// TestTestdataBinariesMatchText keeps the binary components that tests of
// other packages load as file:// artefacts (the canvas refuses WAT text
// there) the encoding of the WAT text beside them.
func TestTestdataBinariesMatchText(t *testing.T) {
	for _, name := range []string{"echo-http", "observe"} {
		wat, err := os.ReadFile("testdata/" + name + ".wat")
		if err != nil {
			t.Fatal(err)
		}
		want, err := cm.WATToBinary(wat)
		if err != nil {
			t.Fatal(err)
		}
		path := "testdata/" + name + ".wasm"
		if *update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (go test ./pkg/runtime -run TestTestdataBinariesMatchText -update writes it)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is not the binary of %s.wat: run go test ./pkg/runtime -run TestTestdataBinariesMatchText -update", path, name)
		}
	}
}
