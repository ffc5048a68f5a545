package artefact_test

import (
	"bytes"
	"testing"

	"github.com/wasmcanvas/wasmcanvas/pkg/artefact"
)

// FuzzRead checks that what Read says about an artefact depends on its
// size and its 8-byte header only: no byte past the header can reach an
// error, so none can be quoted.
func FuzzRead(f *testing.F) {
	for _, seed := range []string{"", "\x00asm", "\x00asm\x0d\x00\x01\x00rest", "\x00asm\x01\x00\x00\x00rest", "root:x:0:0:root:/root:/bin/bash\n", "(component)"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		w, err := artefact.Read("f.wasm", bytes.NewReader(b), int64(len(b)))
		blank := bytes.Clone(b)
		if len(blank) > 8 {
			clear(blank[8:])
		}
		_, errBlank := artefact.Read("f.wasm", bytes.NewReader(blank), int64(len(blank)))
		if (err == nil) != (errBlank == nil) || (err != nil && err.Error() != errBlank.Error()) {
			t.Fatalf("Read(%q) = %v, but with the bytes past the header blanked %v", b, err, errBlank)
		}
		if err == nil && !bytes.Equal(w.Bytes, b) {
			t.Fatalf("Read(%q) returned %q", b, w.Bytes)
		}
	})
}
