package wire

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"math"
	"runtime"
	"strings"
	"testing"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The worked examples of WRPC.md §3 and §5, byte for byte, both ways.
func TestWorkedExamples(t *testing.T) {
	t.Parallel()
	// check: func(token: string) -> result<record{subject, roles: list<string>}, string>
	// get: func(audience: string) -> result<option<string>, error>,
	// variant error { io(string), not-found, other(string) }
	tests := []struct {
		name   string
		encode func(e *Encoder)
		want   string
		decode func(d *Decoder) any
		value  any
	}{
		{"check params", func(e *Encoder) { e.Str("abc") }, "03 61 62 63",
			func(d *Decoder) any { return d.Str() }, "abc"},
		{"check ok", func(e *Encoder) {
			e.Result(true)
			e.Str("u1")
			e.ListLen(2)
			e.Str("admin")
			e.Str("ops")
		}, "00 02 75 31 02 05 61 64 6d 69 6e 03 6f 70 73",
			func(d *Decoder) any {
				if !d.Result() {
					return "err"
				}
				s := []string{d.Str()}
				for range d.ListLen() {
					s = append(s, d.Str())
				}
				return strings.Join(s, ",")
			}, "u1,admin,ops"},
		{"check err", func(e *Encoder) { e.Result(false); e.Str("bad token") }, "01 09 62 61 64 20 74 6f 6b 65 6e",
			func(d *Decoder) any { return [2]any{d.Result(), d.Str()} }, [2]any{false, "bad token"}},
		{"get params", func(e *Encoder) { e.Str("spiffe://lattice/app") },
			"14 73 70 69 66 66 65 3a 2f 2f 6c 61 74 74 69 63 65 2f 61 70 70",
			func(d *Decoder) any { return d.Str() }, "spiffe://lattice/app"},
		{"get ok(some)", func(e *Encoder) { e.Result(true); e.Option(true); e.Str("tok") }, "00 01 03 74 6f 6b",
			func(d *Decoder) any { return [3]any{d.Result(), d.Option(), d.Str()} }, [3]any{true, true, "tok"}},
		{"get ok(none)", func(e *Encoder) { e.Result(true); e.Option(false) }, "00 00",
			func(d *Decoder) any { return [2]any{d.Result(), d.Option()} }, [2]any{true, false}},
		{"get err(not-found)", func(e *Encoder) { e.Result(false); e.Case(1) }, "01 01",
			func(d *Decoder) any { return [2]any{d.Result(), d.Case(3)} }, [2]any{false, uint32(1)}},
		{"get err(io)", func(e *Encoder) { e.Result(false); e.Case(0); e.Str("x") }, "01 00 01 78",
			func(d *Decoder) any { return [3]any{d.Result(), d.Case(3), d.Str()} }, [3]any{false, uint32(0), "x"}},
		// LEB128 examples of §3.
		{"u32 3", func(e *Encoder) { e.U32(3) }, "03", func(d *Decoder) any { return d.U32() }, uint32(3)},
		{"u32 127", func(e *Encoder) { e.U32(127) }, "7f", func(d *Decoder) any { return d.U32() }, uint32(127)},
		{"u32 128", func(e *Encoder) { e.U32(128) }, "80 01", func(d *Decoder) any { return d.U32() }, uint32(128)},
		{"u64 200", func(e *Encoder) { e.U64(200) }, "c8 01", func(d *Decoder) any { return d.U64() }, uint64(200)},
		{"u16 300", func(e *Encoder) { e.U16(300) }, "ac 02", func(d *Decoder) any { return d.U16() }, uint16(300)},
		{"s64 -1", func(e *Encoder) { e.S64(-1) }, "7f", func(d *Decoder) any { return d.S64() }, int64(-1)},
		{"s32 64", func(e *Encoder) { e.S32(64) }, "c0 00", func(d *Decoder) any { return d.S32() }, int32(64)},
		{"u64 max", func(e *Encoder) { e.U64(math.MaxUint64) }, "ff ff ff ff ff ff ff ff ff 01", func(d *Decoder) any { return d.U64() }, uint64(math.MaxUint64)},
		{"s64 min", func(e *Encoder) { e.S64(math.MinInt64) }, "80 80 80 80 80 80 80 80 80 7f", func(d *Decoder) any { return d.S64() }, int64(math.MinInt64)},
		{"s16 -129", func(e *Encoder) { e.S16(-129) }, "ff 7e", func(d *Decoder) any { return d.S16() }, int16(-129)},
		{"bool", func(e *Encoder) { e.Bool(true); e.Bool(false) }, "01 00", func(d *Decoder) any { return [2]bool{d.Bool(), d.Bool()} }, [2]bool{true, false}},
		{"u8 s8", func(e *Encoder) { e.U8(0xfe); e.S8(-2) }, "fe fe", func(d *Decoder) any { return [2]any{d.U8(), d.S8()} }, [2]any{uint8(0xfe), int8(-2)}},
		{"f32", func(e *Encoder) { e.F32(1.5) }, "00 00 c0 3f", func(d *Decoder) any { return d.F32() }, float32(1.5)},
		{"f64", func(e *Encoder) { e.F64(-2) }, "00 00 00 00 00 00 00 c0", func(d *Decoder) any { return d.F64() }, float64(-2)},
		{"char", func(e *Encoder) { e.Char('é'); e.Char('𝄞') }, "c3 a9 f0 9d 84 9e", func(d *Decoder) any { return [2]rune{d.Char(), d.Char()} }, [2]rune{'é', '𝄞'}},
		{"list<u8>", func(e *Encoder) { e.ByteList([]byte{1, 2}) }, "02 01 02", func(d *Decoder) any { return string(d.ByteList()) }, "\x01\x02"},
		{"enum", func(e *Encoder) { e.Case(2) }, "02", func(d *Decoder) any { return d.Case(3) }, uint32(2)},
		{"flags 3", func(e *Encoder) { e.Flags(3, 0b101) }, "05", func(d *Decoder) any { return d.Flags(3) }, uint64(5)},
		{"flags 9", func(e *Encoder) { e.Flags(9, 0x101) }, "01 01", func(d *Decoder) any { return d.Flags(9) }, uint64(0x101)},
		{"flags 20", func(e *Encoder) { e.Flags(20, 1<<19) }, "00 00 08 00", func(d *Decoder) any { return d.Flags(20) }, uint64(1 << 19)},
		{"flags 40", func(e *Encoder) { e.Flags(40, 1) }, "01 00 00 00 00 00 00 00", func(d *Decoder) any { return d.Flags(40) }, uint64(1)},
		{"flags 0", func(e *Encoder) { e.Flags(0, 0) }, "", func(d *Decoder) any { return d.Flags(0) }, uint64(0)},
	}
	for _, tt := range tests {
		var e Encoder
		tt.encode(&e)
		want := unhex(t, tt.want)
		if !bytes.Equal(e.Bytes(), want) {
			t.Errorf("%s: encoded % x, want % x", tt.name, e.Bytes(), want)
		}
		d := NewDecoder(want)
		got := tt.decode(d)
		if err := d.Finish(); err != nil {
			t.Errorf("%s: decode: %v", tt.name, err)
		} else if got != tt.value {
			t.Errorf("%s: decoded %#v, want %#v", tt.name, got, tt.value)
		}
	}
}

// Invalid input fails with an error naming what is wrong, and the error
// sticks.
func TestDecodeRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		decode   func(d *Decoder)
		want     string
	}{
		{"bool 2", "02", func(d *Decoder) { d.Bool() }, "bool is 0x02"},
		{"option tag", "02", func(d *Decoder) { d.Option() }, "option tag is 0x02"},
		{"result tag", "05", func(d *Decoder) { d.Result() }, "result tag is 0x05"},
		{"case out of range", "03", func(d *Decoder) { d.Case(3) }, "case 3 of a type with 3 cases"},
		{"u32 overflow", "ff ff ff ff 1f", func(d *Decoder) { d.U32() }, "overflows a u32"},
		{"u32 six bytes", "80 80 80 80 80 00", func(d *Decoder) { d.U32() }, "overflows a u32"},
		{"u64 overflow", "ff ff ff ff ff ff ff ff ff 02", func(d *Decoder) { d.U64() }, "overflows a u64"},
		{"u16 overflow", "ff ff 04", func(d *Decoder) { d.U16() }, "overflows a u16"},
		{"s32 overflow", "ff ff ff ff 4f", func(d *Decoder) { d.S32() }, "overflows an s32"},
		{"s64 overflow", "80 80 80 80 80 80 80 80 80 40", func(d *Decoder) { d.S64() }, "overflows an s64"},
		{"truncated leb", "80", func(d *Decoder) { d.U64() }, "value ends early"},
		{"truncated string", "05 61 62", func(d *Decoder) { _ = d.Str() }, "a length of 5 with at most 2 bytes left"},
		{"invalid utf-8", "02 c3 28", func(d *Decoder) { _ = d.Str() }, "not valid UTF-8"},
		{"surrogate char", "ed a0 80", func(d *Decoder) { d.Char() }, "not a Unicode scalar"},
		{"char continuation byte", "80", func(d *Decoder) { d.Char() }, "not a Unicode scalar"},
		{"flags beyond", "08", func(d *Decoder) { d.Flags(3) }, "beyond the 3 flags"},
		{"f64 short", "00 00", func(d *Decoder) { d.F64() }, "value ends early"},
		{"trailing", "01 00", func(d *Decoder) { d.Bool() }, "1 bytes left over"},
		{"sticky", "02 01", func(d *Decoder) { d.Bool(); d.Bool() }, "bool is 0x02"},
	}
	for _, tt := range tests {
		d := NewDecoder(unhex(t, tt.in))
		tt.decode(d)
		if err := d.Finish(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want it to contain %q", tt.name, err, tt.want)
		}
	}
	if err := NewDecoder([]byte{0x80}).Finish(); err == nil {
		t.Error("Finish with an unread byte: want an error")
	}
	d := NewDecoder(nil)
	d.U32()
	if !errors.Is(d.Err(), io.ErrUnexpectedEOF) || !errors.Is(d.Err(), ErrTruncated) {
		t.Errorf("empty input: %v, want ErrTruncated wrapping io.ErrUnexpectedEOF", d.Err())
	}
}

// Redundant LEB128 bytes within the width are accepted (as wasm-tokio
// does); the values decode the same.
func TestDecodeNonMinimalLEB128(t *testing.T) {
	t.Parallel()
	d := NewDecoder(unhex(t, "80 00 83 80 80 80 00 ff 7f"))
	if a, b, c := d.U32(), d.U32(), d.S16(); d.Finish() != nil || a != 0 || b != 3 || c != -1 {
		t.Errorf("got %d %d %d (%v)", a, b, c, d.Err())
	}
}

// The encoder writes only what a decoder accepts: invalid UTF-8 and
// non-scalar runes become U+FFFD.
func TestEncoderRepairsText(t *testing.T) {
	t.Parallel()
	var e Encoder
	e.Str("a\xffb")
	e.Char(0xd800)
	d := NewDecoder(e.Bytes())
	if s, r := d.Str(), d.Char(); d.Finish() != nil || s != "a\uFFFDb" || r != '\uFFFD' {
		t.Errorf("got %q %q (%v)", s, r, d.Err())
	}
}

// A stream decoder pulls bytes as it needs them, one byte per chunk here,
// and stops at the limit or the stream's end.
func TestStreamDecoder(t *testing.T) {
	t.Parallel()
	var e Encoder
	e.Str("hello, world")
	e.U64(1 << 40)
	e.F64(0.25)
	enc := e.Bytes()
	chunks := func(b []byte) func() ([]byte, error) {
		return func() ([]byte, error) {
			if len(b) == 0 {
				return nil, io.EOF
			}
			c := b[:1]
			b = b[1:]
			return c, nil
		}
	}
	d := NewStreamDecoder(enc[:2], 1<<10, chunks(enc[2:]))
	if s, u, f := d.Str(), d.U64(), d.F64(); d.Finish() != nil || s != "hello, world" || u != 1<<40 || f != 0.25 {
		t.Errorf("got %q %d %g (%v)", s, u, f, d.Err())
	}

	d = NewStreamDecoder(enc[:2], 1<<10, chunks(enc[2:5]))
	_ = d.Str()
	if !errors.Is(d.Err(), ErrTruncated) {
		t.Errorf("stream ends early: %v, want ErrTruncated", d.Err())
	}
	d = NewStreamDecoder(enc[:2], 8, chunks(enc[2:]))
	_ = d.Str()
	if !errors.Is(d.Err(), ErrTooLarge) {
		t.Errorf("string beyond the limit: %v, want ErrTooLarge", d.Err())
	}
	boom := errors.New("boom")
	d = NewStreamDecoder(nil, 8, func() ([]byte, error) { return nil, boom })
	d.U32()
	if !errors.Is(d.Err(), boom) {
		t.Errorf("refill error: %v, want boom", d.Err())
	}
	if d := NewStreamDecoder(make([]byte, 9), 8, nil); !errors.Is(d.Err(), ErrTooLarge) {
		t.Errorf("first chunk beyond the limit: %v, want ErrTooLarge", d.Err())
	}
	// The first chunk is never written through: the decoder copies on refill.
	first := make([]byte, 1, 16)
	first[0] = 3
	d = NewStreamDecoder(first, 16, chunks([]byte("abc")))
	if s := d.Str(); s != "abc" || first[:2][1] != 0 {
		t.Errorf("got %q, first's spare capacity %v", s, first[:2])
	}
}

// A peer chooses how its stream is chunked: a string sent a byte per
// chunk must cost the decoder copying in proportion to its length, not to
// its square. Four times the length may cost about four times the bytes
// allocated; quadratic copying costs sixteen. Not parallel: it reads the
// process's allocation counters.
func TestStreamDecoderByteChunksLinear(t *testing.T) {
	allocated := func(n int) uint64 {
		var e Encoder
		e.Str(strings.Repeat("x", n))
		enc := e.Bytes()
		rest := enc[1:]
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		d := NewStreamDecoder(enc[:1], len(enc), func() ([]byte, error) {
			if len(rest) == 0 {
				return nil, io.EOF
			}
			c := rest[:1]
			rest = rest[1:]
			return c, nil
		})
		s := d.Str()
		runtime.ReadMemStats(&after)
		if err := d.Finish(); err != nil || len(s) != n {
			t.Fatalf("n=%d: got %d bytes, %v", n, len(s), err)
		}
		return after.TotalAlloc - before.TotalAlloc
	}
	small, large := allocated(2<<10), allocated(8<<10)
	if ratio := float64(large) / float64(small); ratio > 8 {
		t.Errorf("a 4x longer string sent a byte per chunk allocated %.1fx the bytes (%d, %d): the refill copies quadratically", ratio, small, large)
	}
}
