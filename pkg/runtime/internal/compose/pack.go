package compose

import (
	"encoding/binary"
	"fmt"
	"unicode/utf8"
	"unsafe"
)

// A read of Interface returns the bytes as a UTF-8 string: wasmtime
// checks it (an ASCII run a word at a time) and copies it into the
// adapter's memory whole, where it would convert a latin1 string one char
// at a time. Bytes that are valid UTF-8 go plain, as they are; others go
// packed: every 7 bytes become 8 ASCII chars of 7 bits each, low bits
// first, and a last group of r < 7 bytes becomes r+1 chars. One byte after
// them, TagPlain or TagPacked, says which. The adapter (ShimWAT) unpacks
// with unpack7's shifts, a word at a time.
//
// A write still crosses as latin1, one char per byte: a retyped guest's
// writes go to the host directly (wrap.go says why), and packing them in
// the adapter would take a list<u8> copy into it, which wasmtime 39 makes
// a byte at a time: measured, that costs a text write more than latin1
// does and saves a binary write nothing.

// Tags after a read's bytes.
const (
	TagPlain  = 0x00
	TagPacked = 0x01
)

// ReadString is b as the string a read of Interface returns: b and
// TagPlain when b is valid UTF-8, else b packed and TagPacked.
func ReadString(b []byte) string {
	var out []byte
	if utf8.Valid(b) {
		out = make([]byte, len(b)+1)
		copy(out, b)
		out[len(b)] = TagPlain
	} else {
		n := PackedLen(len(b))
		out = make([]byte, n+1)
		Pack(out[:n], b)
		out[n] = TagPacked
	}
	return unsafe.String(unsafe.SliceData(out), len(out))
}

// PackedLen is the length of n bytes packed.
func PackedLen(n int) int {
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

// Pack writes src packed to dst, which is PackedLen(len(src)) long.
func Pack(dst, src []byte) {
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

// UnpackedLen is the length of m packed chars unpacked; m is an error
// when no length packs to it (a last group of one char).
func UnpackedLen(m int) (int, error) {
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

// Unpack writes src unpacked to dst, which is UnpackedLen(len(src))
// long. A char above 0x7f, or a bit set past the last byte, is an error.
// The host has no packed bytes to read: Unpack is the adapter's unpacking
// in Go, which the tests hold Pack to.
func Unpack(dst, src []byte) error {
	if n, err := UnpackedLen(len(src)); err != nil {
		return err
	} else if n != len(dst) {
		return fmt.Errorf("packed bytes: %d chars unpack to %d bytes, not %d", len(src), n, len(dst))
	}
	var high uint64
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
