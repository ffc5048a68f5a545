package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"unicode/utf8"
)

// ErrTruncated is the error of a decode that ran out of input: the peer
// closed the channel (or the buffer ended) in the middle of a value. On a
// wRPC results channel it usually means the handler failed: wRPC 0.0.1
// reports a failed call by closing the results early.
var ErrTruncated = fmt.Errorf("wire: value ends early: %w", io.ErrUnexpectedEOF)

// ErrTooLarge is the error of a decode whose input, or a length in it, goes
// past the decoder's limit.
var ErrTooLarge = errors.New("wire: value is larger than the limit")

// A Decoder reads encoded values. Its first error sticks: every later call
// returns a zero value, and Err or Finish reports the error, so a caller
// decodes a whole record and checks once.
type Decoder struct {
	buf   []byte
	more  func() ([]byte, error)
	limit int  // bytes still allowed from more
	owned bool // buf is the decoder's own, so a refill may append to it
	off   int  // bytes consumed, for error messages
	err   error
}

// NewDecoder returns a Decoder over b, all the input there is.
func NewDecoder(b []byte) *Decoder { return &Decoder{buf: b} }

// NewStreamDecoder returns a Decoder over first and then whatever more
// returns when the decoder needs bytes it does not have: the next chunk of a
// stream, or io.EOF at its end (any other error ends the decode with that
// error). At most limit bytes, first included, are accepted in all.
func NewStreamDecoder(first []byte, limit int, more func() ([]byte, error)) *Decoder {
	d := &Decoder{buf: first, more: more, limit: limit - len(first)}
	if d.limit < 0 {
		d.fail(fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(first), limit))
	}
	return d
}

// Err is the first error met, or nil.
func (d *Decoder) Err() error { return d.err }

// Finish is Err, or an error when bytes the decoder already holds are left
// over: the input was longer than the values decoded from it.
func (d *Decoder) Finish() error {
	if d.err == nil && len(d.buf) > 0 {
		d.err = fmt.Errorf("wire: %d bytes left over after byte %d", len(d.buf), d.off)
	}
	return d.err
}

func (d *Decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *Decoder) failf(format string, args ...any) {
	d.fail(fmt.Errorf("wire: at byte %d: "+format, append([]any{d.off}, args...)...))
}

// ensure makes n bytes available in d.buf, refilling from the stream; n
// is checked against what may still arrive before anything is read.
func (d *Decoder) ensure(n int) bool {
	if d.err != nil {
		return false
	}
	if len(d.buf) >= n {
		return true
	}
	if d.more == nil {
		d.fail(fmt.Errorf("%w: need %d bytes at byte %d, have %d", ErrTruncated, n, d.off, len(d.buf)))
		return false
	}
	if n-len(d.buf) > d.limit {
		d.fail(fmt.Errorf("%w: need %d bytes at byte %d, at most %d more may arrive", ErrTooLarge, n, d.off, d.limit))
		return false
	}
	for len(d.buf) < n {
		chunk, err := d.more()
		switch {
		case errors.Is(err, io.EOF) || (err == nil && len(chunk) == 0):
			d.fail(fmt.Errorf("%w: need %d bytes at byte %d, the stream ended with %d", ErrTruncated, n, d.off, len(d.buf)))
			return false
		case err != nil:
			d.fail(err)
			return false
		case len(chunk) > d.limit:
			d.fail(fmt.Errorf("%w: the stream sent more than the limit", ErrTooLarge))
			return false
		}
		d.limit -= len(chunk)
		// The first refill copies, since d.buf may alias a message the
		// caller still owns; later ones append to the decoder's own
		// buffer, which grows by doubling, so a value sent a byte per
		// chunk costs linear, not quadratic, copying.
		if !d.owned {
			d.buf = append(make([]byte, 0, len(d.buf)+len(chunk)), d.buf...)
			d.owned = true
		}
		d.buf = append(d.buf, chunk...)
	}
	return true
}

// take consumes n bytes that ensure made available.
func (d *Decoder) take(n int) []byte {
	p := d.buf[:n:n]
	d.buf = d.buf[n:]
	d.off += n
	return p
}

// maxLen is the largest length the rest of the input can hold, one byte
// per element at least.
func (d *Decoder) maxLen() int {
	if d.more == nil {
		return len(d.buf)
	}
	return len(d.buf) + d.limit
}

func (d *Decoder) byte1() byte {
	if !d.ensure(1) {
		return 0
	}
	return d.take(1)[0]
}

// uleb reads an unsigned LEB128 of at most bits bits; redundant leading
// bytes are accepted up to the width's byte count, set bits beyond the
// width are not.
func (d *Decoder) uleb(bits uint) uint64 { return d.leb(bits, false) }

// sleb reads a signed LEB128 of at most bits bits, sign-extended.
func (d *Decoder) sleb(bits uint) int64 { return int64(d.leb(bits, true)) }

func (d *Decoder) leb(bits uint, signed bool) uint64 {
	maxBytes := (bits + 6) / 7
	var x uint64
	for i := range maxBytes {
		c := d.byte1()
		if d.err != nil {
			return 0
		}
		s := 7 * i
		if i == maxBytes-1 && !lastLEBByteFits(c, bits-s, signed) {
			if signed {
				d.failf("LEB128 overflows an s%d", bits)
			} else {
				d.failf("LEB128 overflows a u%d", bits)
			}
			return 0
		}
		x |= uint64(c&0x7f) << s
		if c&0x80 == 0 {
			if signed && s+7 < 64 && c&0x40 != 0 {
				x |= ^uint64(0) << (s + 7)
			}
			return x
		}
	}
	return x // not reached: the last byte either returns or fails
}

// lastLEBByteFits reports whether c, the last byte a LEB128 of its width
// may have, carries no more than the r value bits left: unsigned, the bits
// above them are zero; signed, they all equal the sign bit (bit r-1).
func lastLEBByteFits(c byte, r uint, signed bool) bool {
	if c&0x80 != 0 {
		return false
	}
	if !signed {
		return c>>r == 0
	}
	hi := c >> (r - 1)
	return hi == 0 || hi == 0x7f>>(r-1)
}

// Bool decodes a bool; a byte other than 0x00 or 0x01 is an error.
func (d *Decoder) Bool() bool {
	off := d.off
	switch c := d.byte1(); {
	case d.err != nil:
		return false
	case c <= 1:
		return c == 1
	default:
		d.fail(fmt.Errorf("wire: at byte %d: bool is 0x%02x, want 0x00 or 0x01", off, c))
		return false
	}
}

// U8 decodes a u8.
func (d *Decoder) U8() uint8 { return d.byte1() }

// S8 decodes an s8.
func (d *Decoder) S8() int8 { return int8(d.byte1()) }

// U16 decodes a u16.
func (d *Decoder) U16() uint16 { return uint16(d.uleb(16)) }

// U32 decodes a u32.
func (d *Decoder) U32() uint32 { return uint32(d.uleb(32)) }

// U64 decodes a u64.
func (d *Decoder) U64() uint64 { return d.uleb(64) }

// S16 decodes an s16.
func (d *Decoder) S16() int16 { return int16(d.sleb(16)) }

// S32 decodes an s32.
func (d *Decoder) S32() int32 { return int32(d.sleb(32)) }

// S64 decodes an s64.
func (d *Decoder) S64() int64 { return d.sleb(64) }

// F32 decodes an f32.
func (d *Decoder) F32() float32 {
	if !d.ensure(4) {
		return 0
	}
	return math.Float32frombits(binary.LittleEndian.Uint32(d.take(4)))
}

// F64 decodes an f64.
func (d *Decoder) F64() float64 {
	if !d.ensure(8) {
		return 0
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(d.take(8)))
}

// Char decodes a char: one Unicode scalar value in UTF-8.
func (d *Decoder) Char() rune {
	if !d.ensure(1) {
		return 0
	}
	n := 1
	switch c := d.buf[0]; {
	case c >= 0xf0:
		n = 4
	case c >= 0xe0:
		n = 3
	case c >= 0xc0:
		n = 2
	}
	if !d.ensure(n) {
		return 0
	}
	r, size := utf8.DecodeRune(d.buf[:n])
	if (r == utf8.RuneError && size <= 1) || size != n {
		d.failf("char is not a Unicode scalar value in UTF-8: % x", d.buf[:n])
		return 0
	}
	d.take(n)
	return r
}

// Str decodes a string; invalid UTF-8 is an error.
func (d *Decoder) Str() string {
	p := d.lenPrefixed()
	if d.err != nil {
		return ""
	}
	if !utf8.Valid(p) {
		d.failf("string is not valid UTF-8")
		return ""
	}
	return string(p)
}

// ByteList decodes a list<u8> into a new slice.
func (d *Decoder) ByteList() []byte {
	p := d.lenPrefixed()
	if d.err != nil {
		return nil
	}
	return append([]byte(nil), p...)
}

func (d *Decoder) lenPrefixed() []byte {
	n := d.ListLen()
	if d.err != nil {
		return nil
	}
	if !d.ensure(n) {
		return nil
	}
	return d.take(n)
}

// ListLen decodes the element count of a list<T>; the caller decodes that
// many elements next. A count larger than the bytes that can still arrive
// is an error. On a stream that is up to the stream's limit, bytes a peer
// may never send, and an element may take many times its encoded byte in
// Go: preallocate at most PreallocMax elements and let append grow the
// rest as they decode.
func (d *Decoder) ListLen() int {
	off := d.off
	n := d.uleb(32)
	if d.err != nil {
		return 0
	}
	if n > uint64(d.maxLen()) {
		d.fail(fmt.Errorf("%w: at byte %d: a length of %d with at most %d bytes left", ErrTooLarge, off, n, d.maxLen()))
		return 0
	}
	return int(n)
}

// PreallocMax is the most elements a caller should preallocate for a
// ListLen count; see ListLen.
const PreallocMax = 64

// Option decodes the tag of an option<T>: true for some, when T follows.
func (d *Decoder) Option() bool { return d.tag("option") == 1 }

// Result decodes the tag of a result<T, E>: true for ok. The side's payload,
// if it has one, follows.
func (d *Decoder) Result() bool { return d.tag("result") == 0 }

func (d *Decoder) tag(what string) byte {
	off := d.off
	c := d.byte1()
	if d.err == nil && c > 1 {
		d.fail(fmt.Errorf("wire: at byte %d: %s tag is 0x%02x, want 0x00 or 0x01", off, what, c))
		return 0
	}
	return c
}

// Case decodes the case index of a variant or an enum with n cases; an
// index of n or more is an error.
func (d *Decoder) Case(n uint32) uint32 {
	off := d.off
	i := d.U32()
	if d.err == nil && i >= n {
		d.fail(fmt.Errorf("wire: at byte %d: case %d of a type with %d cases", off, i, n))
		return 0
	}
	return i
}

// Flags decodes a flags value of n flags (at most 64); a set bit beyond
// flag n-1 is an error.
func (d *Decoder) Flags(n int) uint64 {
	size := flagsSize(n)
	if !d.ensure(size) {
		return 0
	}
	off := d.off
	var bits uint64
	for i, c := range d.take(size) {
		bits |= uint64(c) << (8 * i)
	}
	if n < 64 && bits>>n != 0 {
		d.fail(fmt.Errorf("wire: at byte %d: flags 0x%x set a bit beyond the %d flags", off, bits, n))
		return 0
	}
	return bits
}
