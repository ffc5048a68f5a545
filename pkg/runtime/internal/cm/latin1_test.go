package cm

import (
	"encoding/binary"
	"fmt"
	"strings"
	"unicode/utf8"
	"unsafe"
)

const highBits = 0x8080808080808080

// The latin1 route of BenchmarkBytesCrossing: bytes as a string of one
// char per byte, which a guest that asks for latin1+utf16 strings reads
// as those bytes.

// latin1String is b as a string of the chars U+0000..U+00FF, one per
// byte. ASCII runs are copied eight bytes at a time; all-ASCII b is its
// own latin1 string, which then shares b's bytes: the caller gives b up.
func latin1String(b []byte) string {
	i := asciiPrefix(b)
	if i == len(b) {
		return unsafe.String(unsafe.SliceData(b), len(b))
	}
	var sb strings.Builder
	sb.Grow(len(b) + (len(b)-i)/2)
	for len(b) > 0 {
		i := asciiPrefix(b)
		sb.Write(b[:i])
		b = b[i:]
		for len(b) > 0 && b[0] >= utf8.RuneSelf {
			sb.WriteByte(0xc0 | b[0]>>6)
			sb.WriteByte(0x80 | b[0]&0x3f)
			b = b[1:]
		}
	}
	return sb.String()
}

// latin1Bytes undoes latin1String; a char above U+00FF is an error. An
// all-ASCII s is its own bytes, returned without a copy: the caller must
// not write to them.
func latin1Bytes(s string) ([]byte, error) {
	i := asciiPrefixString(s)
	if i == len(s) {
		return unsafe.Slice(unsafe.StringData(s), len(s)), nil
	}
	out := make([]byte, 0, len(s))
	for len(s) > 0 {
		i := asciiPrefixString(s)
		out = append(out, s[:i]...)
		s = s[i:]
		for len(s) > 0 && s[0] >= utf8.RuneSelf {
			if s[0]&0xfe != 0xc2 || len(s) < 2 || s[1]&0xc0 != 0x80 {
				return nil, fmt.Errorf("byte %d: not a latin1 char", len(out))
			}
			out = append(out, s[0]<<6|s[1]&0x3f)
			s = s[2:]
		}
	}
	return out, nil
}

// asciiPrefix is the length of b's leading run of ASCII bytes.
func asciiPrefix(b []byte) int {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		if binary.LittleEndian.Uint64(b[i:])&highBits != 0 {
			break
		}
	}
	for ; i < len(b) && b[i] < utf8.RuneSelf; i++ {
	}
	return i
}

func asciiPrefixString(s string) int {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		if le64(s, i)&highBits != 0 {
			break
		}
	}
	for ; i < len(s) && s[i] < utf8.RuneSelf; i++ {
	}
	return i
}

// le64 reads s[i:i+8] as a little-endian number (one load once compiled).
func le64(s string, i int) uint64 {
	_ = s[i+7]
	return uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
		uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
}
