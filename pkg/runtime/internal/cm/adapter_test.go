package cm

import (
	"strings"
	"testing"

	"github.com/wasmcanvas/wasmcanvas/pkg/runtime/internal/compose"
)

// TestStreamAdapterAllocator runs the stream adapter's allocator
// (compose.MemoryWAT) through a component that lifts it.
func TestStreamAdapterAllocator(t *testing.T) {
	t.Parallel()
	mod := strings.TrimSpace(string(compose.MemoryWAT))
	i := strings.Index(mod, "(module")
	if i < 0 {
		t.Fatal("memory.wat holds no (module")
	}
	wat := "(component\n  (core " + mod[i+1:] + "\n" + `
  (core instance $m (instantiate 0))
  (func (export "alloc") (param "old" u32) (param "old-size" u32) (param "align" u32) (param "size" u32) (result u32)
    (canon lift (core func $m "realloc"))))`
	f := compileFixture(t, []byte(wat))
	for _, tc := range []struct {
		name                   string
		old, oldSize, align, n uint32
		want                   uint32 // 0: traps
	}{
		{"first block, after the return area", 0, 0, 4, 100, 64},
		{"aligned", 0, 0, 128, 1, 128},
		{"grows the memory", 0, 0, 1, 1 << 20, 64},
		{"shrinking keeps the block", 4096, 100, 1, 20, 4096},
		{"at the cap", 0, 0, 1, 16 << 20, 64},
		{"above the cap", 0, 0, 1, 16<<20 + 1, 0},
		{"alignment not a power of two", 0, 0, 3, 10, 0},
		{"alignment zero", 0, 0, 0, 10, 0},
	} {
		got, err := f.call(t, StoreLimits{MaxMemoryBytes: 64 << 20}, 0, nil, "alloc", tc.old, tc.oldSize, tc.align, tc.n)
		switch {
		case tc.want == 0 && err == nil:
			t.Errorf("%s: got %v, want a trap", tc.name, got)
		case tc.want != 0 && (err != nil || got[0] != tc.want):
			t.Errorf("%s: got %v, %v; want %d", tc.name, got, err, tc.want)
		}
	}
}
