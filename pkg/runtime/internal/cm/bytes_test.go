package cm

import (
	"bytes"
	_ "embed"
	"errors"
	"testing"
)

// The C API (wasmtime 39) has no byte list: a list<u8> crosses it as one
// value per byte, converted one by one on wasmtime's side as well. A string
// crosses it whole, and a guest that asks for latin1+utf16 strings gets one
// byte per char. These tests measure both routes for the same bytes: the
// second is how stream chunks could reach a guest in bulk through an
// adapter that speaks latin1 strings to the host (see README, Numbers).

//go:embed testdata/bytes.wat
var bytesWAT []byte

// newBytesFixture runs testdata/bytes.wat against host functions that hand
// out prefixes of data and check that the same bytes come back.
// With borrow, put-str is defined with FuncBorrowing: its string is a view
// of wasmtime's copy, read before the call returns.
func newBytesFixture(t testing.TB, data []byte, borrow bool) *fixture {
	t.Helper()
	f := compileFixture(t, bytesWAT)
	check := func(b []byte, err error) (Value, error) {
		if err == nil && !bytes.Equal(b, data[:len(b)]) {
			err = errors.New("the bytes came back changed")
		}
		return uint32(len(b)), err
	}
	err := f.lnk.Define("test:host/bytes", func(li *LinkerInstance) error {
		if err := li.Func("get-list", func(_ *Store, args, results []Value) error {
			results[0] = data[:args[0].(uint32)]
			return nil
		}); err != nil {
			return err
		}
		if err := li.Func("put-list", func(_ *Store, args, results []Value) (err error) {
			results[0], err = check(Bytes(args[0]))
			return err
		}); err != nil {
			return err
		}
		if err := li.Func("get-str", func(_ *Store, args, results []Value) error {
			results[0] = latin1String(data[:args[0].(uint32)])
			return nil
		}); err != nil {
			return err
		}
		putStr := func(_ *Store, args, results []Value) (err error) {
			results[0], err = check(latin1Bytes(args[0].(string)))
			return err
		}
		if borrow {
			return li.FuncBorrowing("put-str", putStr)
		}
		return li.Func("put-str", putStr)
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// testBodies are 1 MiB of binary (every byte value, mostly above 0x7f) and
// of JSON-like text.
func testBodies() map[string][]byte {
	bin := make([]byte, 1<<20)
	for i := range bin {
		bin[i] = byte(i*7 + i>>8)
	}
	item := []byte(`{"id":"42","name":"Fibre 1G","lifecycleStatus":"Active"},`)
	text := bytes.Repeat(item, 1<<20/len(item)+1)[:1<<20]
	return map[string][]byte{"binary": bin, "text": text}
}

func TestBytesCrossBothWays(t *testing.T) {
	t.Parallel()
	for name, data := range testBodies() {
		for _, borrow := range []bool{false, true} {
			f := newBytesFixture(t, data, borrow)
			for _, export := range []string{"run-list", "run-str"} {
				for _, n := range []uint32{0, 1, 255, 256, 70_000} {
					got, err := f.call(t, StoreLimits{}, 0, nil, export, n, uint32(3))
					if err != nil {
						t.Fatalf("%s (borrowing %v): %s(%d): %v", name, borrow, export, n, err)
					}
					if got[0] != 3*n {
						t.Errorf("%s (borrowing %v): %s(%d) = %v, want %d", name, borrow, export, n, got[0], 3*n)
					}
				}
			}
		}
	}
}

// BenchmarkBytesCrossing moves 64 KiB chunks host ─▶ guest ─▶ host, 16 per
// instance, as list<u8> and as latin1 strings, and reports MB/s (each way).
func BenchmarkBytesCrossing(b *testing.B) {
	const n, rounds = 64 << 10, 16
	bodies := testBodies()
	for _, name := range []string{"binary", "text"} {
		f := newBytesFixture(b, bodies[name], false)
		for _, export := range []string{"run-list", "run-str"} {
			b.Run(name+"/"+export, func(b *testing.B) {
				for b.Loop() {
					if _, err := f.call(b, StoreLimits{}, 0, nil, export, uint32(n), uint32(rounds)); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(n*rounds)*float64(b.N)/1e6/b.Elapsed().Seconds(), "MB/s")
			})
		}
	}
}
