package compose

import (
	"encoding/binary"
	"fmt"
	"unicode/utf8"
	"unsafe"
)

// Interface's strings are UTF-8: wasmtime checks one (an ASCII run a word
// at a time) and copies it between the host and the adapter's memory
// whole, where it converts latin1 a char at a time each way, at a cost
// that depends on the bytes (a branch per char above 0x7f). Bytes that
// already are such a string go plain, as they are: valid UTF-8 from the
// host, ASCII from the adapter (its cheapest check). Others go packed:
// every 7 bytes become 8 ASCII chars of 7 bits each, low bits first, and
// a last group of r < 7 bytes becomes r+1 chars, a word at a time
// whatever the bytes. A read's string ends with one more byte, tagPlain or
// tagPacked, that says which; a write says it in its packed argument. The
// adapter (ShimWAT) packs and unpacks with the shifts of pack7 and
// unpack7.

// highBits has the top bit of each byte of a word.
const highBits = 0x8080808080808080

// Tags after a read's bytes.
const (
	tagPlain  = 0x00
	tagPacked = 0x01
)

// ReadString is b as the string a read of Interface returns: b and
// tagPlain when b is valid UTF-8, else b packed and tagPacked. The caller
// gives b up: the string may hold its bytes (when b has room for the tag).
// A packing goes into scratch when its capacity allows; ReadString returns
// the buffer it packed into (scratch, a larger one, or scratch again when
// b needed no packing), to pass next time once the string is not used.
func ReadString(b, scratch []byte) (string, []byte) {
	var out []byte
	if utf8.Valid(b) {
		if cap(b) > len(b) {
			out = append(b, tagPlain)
		} else {
			out = make([]byte, len(b)+1)
			copy(out, b)
			out[len(b)] = tagPlain
		}
	} else {
		n := packedLen(len(b))
		if out = scratch[:0]; cap(out) < n+1 {
			out = make([]byte, n+1)
		}
		out = out[:n+1]
		pack(out[:n], b)
		out[n] = tagPacked
		scratch = out
	}
	return unsafe.String(unsafe.SliceData(out), len(out)), scratch
}

// packedLen is the length of n bytes packed.
func packedLen(n int) int {
	if r := n % 7; r != 0 {
		return n/7*8 + r + 1
	}
	return n / 7 * 8
}

// pack7 spreads the low 56 bits of x over eight 7-bit lanes, one a byte.
func pack7(x uint64) uint64 {
	x &= 0x00ff_ffff_ffff_ffff
	x = x&0x0fff_ffff | x&0x00ff_ffff_f000_0000<<4
	x = x&0x0000_3fff_0000_3fff | x&0x0fff_c000_0fff_c000<<2
	return x&0x007f_007f_007f_007f | x&0x3f80_3f80_3f80_3f80<<1
}

// pack writes src packed to dst, which is packedLen(len(src)) long.
func pack(dst, src []byte) {
	// Four groups at a time (28 bytes to 32 chars), one bounds check each.
	for len(src) >= 29 && len(dst) >= 32 {
		s, d := src[:29], dst[:32]
		binary.LittleEndian.PutUint64(d[0:], pack7(binary.LittleEndian.Uint64(s[0:])))
		binary.LittleEndian.PutUint64(d[8:], pack7(binary.LittleEndian.Uint64(s[7:])))
		binary.LittleEndian.PutUint64(d[16:], pack7(binary.LittleEndian.Uint64(s[14:])))
		binary.LittleEndian.PutUint64(d[24:], pack7(binary.LittleEndian.Uint64(s[21:])))
		src, dst = src[28:], dst[32:]
	}
	for len(src) >= 8 {
		binary.LittleEndian.PutUint64(dst, pack7(binary.LittleEndian.Uint64(src)))
		src, dst = src[7:], dst[8:]
	}
	if len(src) == 0 {
		return
	}
	var w [8]byte
	copy(w[:], src)
	binary.LittleEndian.PutUint64(w[:], pack7(binary.LittleEndian.Uint64(w[:])))
	copy(dst, w[:])
}

// unpackedLen is the length of m packed chars unpacked; m is an error
// when no length packs to it (a last group of one char).
func unpackedLen(m int) (int, error) {
	switch r := m % 8; r {
	case 0:
		return m / 8 * 7, nil
	case 1:
		return 0, fmt.Errorf("packed bytes: no length packs to %d chars", m)
	default:
		return m/8*7 + r - 1, nil
	}
}

// unpack7 gathers eight 7-bit lanes, one a byte, into 56 bits: pack7
// undone (bit 7 of each byte is dropped).
func unpack7(y uint64) uint64 {
	y = y&0x007f_007f_007f_007f | y&0x7f00_7f00_7f00_7f00>>1
	y = y&0x0000_3fff_0000_3fff | y&0x3fff_0000_3fff_0000>>2
	return y&0x0fff_ffff | y&0x0fff_ffff_0000_0000>>4
}

// unpack writes src unpacked to dst, which is unpackedLen(len(src))
// long. A char above 0x7f, or a bit set past the last byte, is an error.
func unpack(dst, src []byte) error {
	if n, err := unpackedLen(len(src)); err != nil {
		return err
	} else if n != len(dst) {
		return fmt.Errorf("packed bytes: %d chars unpack to %d bytes, not %d", len(src), n, len(dst))
	}
	var high uint64
	// Four groups at a time (32 chars to 28 bytes), one bounds check each.
	for len(dst) >= 29 && len(src) >= 32 {
		s, d := src[:32], dst[:29]
		y0 := binary.LittleEndian.Uint64(s[0:])
		y1 := binary.LittleEndian.Uint64(s[8:])
		y2 := binary.LittleEndian.Uint64(s[16:])
		y3 := binary.LittleEndian.Uint64(s[24:])
		high |= y0 | y1 | y2 | y3
		binary.LittleEndian.PutUint64(d[0:], unpack7(y0))
		binary.LittleEndian.PutUint64(d[7:], unpack7(y1))
		binary.LittleEndian.PutUint64(d[14:], unpack7(y2))
		binary.LittleEndian.PutUint64(d[21:], unpack7(y3))
		src, dst = src[32:], dst[28:]
	}
	for len(dst) >= 8 {
		y := binary.LittleEndian.Uint64(src)
		high |= y
		binary.LittleEndian.PutUint64(dst, unpack7(y))
		src, dst = src[8:], dst[7:]
	}
	for len(src) > 0 {
		var w [8]byte
		n := copy(w[:], src)
		y := binary.LittleEndian.Uint64(w[:])
		high |= y
		x := unpack7(y)
		binary.LittleEndian.PutUint64(w[:], x)
		copy(dst, w[:n-1])
		if x>>(8*(n-1)) != 0 {
			return fmt.Errorf("packed bytes: a bit set past the last byte")
		}
		src, dst = src[n:], dst[n-1:]
	}
	if high&highBits != 0 {
		return fmt.Errorf("packed bytes: a char above 0x7f")
	}
	return nil
}

// WriteBytes is the bytes a write of Interface carries: s's own bytes
// when it is plain (the caller must not write to them), else s unpacked.
// A packed s that pack cannot have written is an error.
//
// scratch, when its capacity allows, holds the unpacked bytes (the caller
// must be done with them before it passes scratch again).
func WriteBytes(s string, packed bool, scratch []byte) ([]byte, error) {
	b := unsafe.Slice(unsafe.StringData(s), len(s))
	if !packed {
		return b, nil
	}
	n, err := unpackedLen(len(b))
	if err != nil {
		return nil, err
	}
	out := scratch[:0]
	if cap(out) < n {
		out = make([]byte, n)
	}
	out = out[:n]
	if err := unpack(out, b); err != nil {
		return nil, err
	}
	return out, nil
}
