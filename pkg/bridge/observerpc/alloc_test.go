package observerpc

import (
	"errors"
	"io"
	"runtime"
	"testing"

	"github.com/wasmcanvas/wasmcanvas/pkg/wrpc"
	"github.com/wasmcanvas/wasmcanvas/pkg/wrpc/wire"
)

// An invocation of a few bytes that claims a list of millions of labels,
// and never sends them, must not make the bridge allocate by the claim:
// a streamed call may still send wrpc.MaxValueBytes, and a label takes 32
// bytes in Go for its 2 on the wire, so a slice sized by the claim held 256
// MiB per call for as long as the call waited. Not parallel: it
// reads the process's allocation counters.
func TestClaimedLabelsAreNotPreallocated(t *testing.T) {
	for _, fn := range functions {
		if fn.name != "counter-add" && fn.name != "log" {
			continue
		}
		var p wire.Encoder
		if fn.name == "log" {
			p.Case(2)
			p.Str("msg")
		} else {
			p.Str("calls_total")
			p.U64(1)
		}
		p.ListLen(wrpc.MaxValueBytes / 2)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		d := wire.NewStreamDecoder(p.Bytes(), wrpc.MaxValueBytes, func() ([]byte, error) { return nil, io.EOF })
		fn.decode(d)
		runtime.ReadMemStats(&after)
		if !errors.Is(d.Err(), wire.ErrTruncated) {
			t.Errorf("%s: err = %v, want ErrTruncated", fn.name, d.Err())
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
			t.Errorf("%s: %d bytes of params allocated %d bytes", fn.name, len(p.Bytes()), grew)
		}
	}
}
