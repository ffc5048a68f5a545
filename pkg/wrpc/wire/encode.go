package wire

import (
	"encoding/binary"
	"math"
	"strings"
	"unicode/utf8"
)

// An Encoder appends encoded values to a buffer. The zero value is ready to
// use. Its methods cannot fail: every Go value of the right type has an
// encoding.
type Encoder struct {
	b []byte
}

// NewEncoder returns an Encoder that appends to buf[:0], reusing its memory.
func NewEncoder(buf []byte) *Encoder { return &Encoder{b: buf[:0]} }

// Bytes returns the encoded values. It aliases the Encoder's buffer until
// the next call.
func (e *Encoder) Bytes() []byte { return e.b }

// Len is the number of bytes encoded so far.
func (e *Encoder) Len() int { return len(e.b) }

// Bool encodes a bool as one byte, 0x00 or 0x01.
func (e *Encoder) Bool(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}

// U8 encodes a u8 as one raw byte.
func (e *Encoder) U8(v uint8) { e.b = append(e.b, v) }

// S8 encodes an s8 as one raw byte, two's complement.
func (e *Encoder) S8(v int8) { e.b = append(e.b, byte(v)) }

// U16 encodes a u16 as unsigned LEB128.
func (e *Encoder) U16(v uint16) { e.b = binary.AppendUvarint(e.b, uint64(v)) }

// U32 encodes a u32 as unsigned LEB128.
func (e *Encoder) U32(v uint32) { e.b = binary.AppendUvarint(e.b, uint64(v)) }

// U64 encodes a u64 as unsigned LEB128.
func (e *Encoder) U64(v uint64) { e.b = binary.AppendUvarint(e.b, v) }

// S16 encodes an s16 as signed LEB128.
func (e *Encoder) S16(v int16) { e.b = appendSleb(e.b, int64(v)) }

// S32 encodes an s32 as signed LEB128.
func (e *Encoder) S32(v int32) { e.b = appendSleb(e.b, int64(v)) }

// S64 encodes an s64 as signed LEB128.
func (e *Encoder) S64(v int64) { e.b = appendSleb(e.b, v) }

// F32 encodes an f32 as 4 bytes, IEEE-754 little-endian.
func (e *Encoder) F32(v float32) { e.b = binary.LittleEndian.AppendUint32(e.b, math.Float32bits(v)) }

// F64 encodes an f64 as 8 bytes, IEEE-754 little-endian.
func (e *Encoder) F64(v float64) { e.b = binary.LittleEndian.AppendUint64(e.b, math.Float64bits(v)) }

// Char encodes a char as the UTF-8 bytes of the scalar, without a length.
// A rune that is not a Unicode scalar value encodes as U+FFFD.
func (e *Encoder) Char(r rune) { e.b = utf8.AppendRune(e.b, r) }

// Str encodes a string as its byte length (LEB128 u32), then the bytes.
// Invalid UTF-8 is replaced by U+FFFD first: a peer must be able to decode
// what the encoder writes.
func (e *Encoder) Str(s string) {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	e.b = binary.AppendUvarint(e.b, uint64(len(s)))
	e.b = append(e.b, s...)
}

// ByteList encodes a list<u8>: the count, then the raw bytes.
func (e *Encoder) ByteList(p []byte) {
	e.b = binary.AppendUvarint(e.b, uint64(len(p)))
	e.b = append(e.b, p...)
}

// ListLen encodes the element count of a list<T>; the caller encodes the n
// elements next.
func (e *Encoder) ListLen(n int) { e.b = binary.AppendUvarint(e.b, uint64(uint32(n))) }

// Option encodes the tag of an option<T>; when some, the caller encodes T
// next.
func (e *Encoder) Option(some bool) { e.Bool(some) }

// Result encodes the tag of a result<T, E>: 0x00 for ok, 0x01 for err. The
// caller encodes the side's payload next, if that side has one.
func (e *Encoder) Result(ok bool) { e.Bool(!ok) }

// Case encodes the case index of a variant or an enum; for a variant case
// with a payload the caller encodes it next.
func (e *Encoder) Case(i uint32) { e.U32(i) }

// Flags encodes a flags value of n flags (bit i = flag i) little-endian in
// the smallest unsigned integer that holds n bits: 1, 2, 4 or 8 bytes, none
// for n = 0. n is at most 64. Upstream encoders write that width too, but
// upstream decoders read ceil(n/8) bytes, so a WIT flags type of 17-24 or
// 33-56 flags does not round-trip with upstream peers: keep flags types at
// 8, 16, 32 or 64 flags at most.
func (e *Encoder) Flags(n int, bits uint64) {
	for i := range flagsSize(n) {
		e.b = append(e.b, byte(bits>>(8*i)))
	}
}

// flagsSize is the byte width of n flags; n > 64 is a programming error.
func flagsSize(n int) int {
	switch {
	case n <= 0:
		return 0
	case n <= 8:
		return 1
	case n <= 16:
		return 2
	case n <= 32:
		return 4
	case n <= 64:
		return 8
	}
	panic("wire: more than 64 flags")
}

func appendSleb(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}
