package compose

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
	"unsafe"
)

// readBytes undoes ReadString.
func readBytes(t testing.TB, s string) []byte {
	if s == "" {
		t.Fatal("a read string has no tag")
	}
	b, tag := []byte(s[:len(s)-1]), s[len(s)-1]
	switch tag {
	case tagPlain:
		return b
	case tagPacked:
		for i, c := range b {
			if c >= utf8.RuneSelf {
				t.Fatalf("packed char %d is 0x%02x", i, c)
			}
		}
		n, err := unpackedLen(len(b))
		if err != nil {
			t.Fatal(err)
		}
		out := make([]byte, n)
		if err := unpack(out, b); err != nil {
			t.Fatal(err)
		}
		return out
	}
	t.Fatalf("tag %d", tag)
	return nil
}

// TestPackRoundTrips packs every length up to 100 of binary bytes (two
// rounds of four groups and every tail), and checks the packed form is
// ASCII, packedLen long, and unpacks.
func TestPackRoundTrips(t *testing.T) {
	src := make([]byte, 100)
	for i := range src {
		src[i] = byte(0xff - i*37)
	}
	for n := range len(src) + 1 {
		b := src[:n]
		// ReadString may take b's spare capacity for its tag: give it a
		// copy, with room for the tag on odd lengths.
		c := make([]byte, n, n+n%2)
		copy(c, b)
		s, _ := ReadString(c, nil)
		if len(s) != packedLen(n)+1 {
			t.Fatalf("%d bytes: %d chars, want %d and a tag", n, len(s), packedLen(n))
		}
		if back := readBytes(t, s); !bytes.Equal(back, b) {
			t.Fatalf("%d bytes: unpacked %x, want %x", n, back, b)
		}
	}
}

// TestPackLayout pins the layout the adapter's WAT shares: 7 bits a
// char, low bits first.
func TestPackLayout(t *testing.T) {
	p := make([]byte, 8)
	pack(p, []byte{0xff, 0, 0, 0, 0, 0, 0x80})
	if want := []byte{0x7f, 0x01, 0, 0, 0, 0, 0, 0x40}; !bytes.Equal(p, want) {
		t.Fatalf("packed %x, want %x", p, want)
	}
	p = p[:2]
	pack(p, []byte{0x81})
	if want := []byte{0x01, 0x01}; !bytes.Equal(p, want) {
		t.Fatalf("packed %x, want %x", p, want)
	}
}

func TestReadStringTags(t *testing.T) {
	for _, c := range []struct {
		in  []byte
		tag byte
	}{{nil, tagPlain}, {[]byte("plain ☃"), tagPlain}, {[]byte{0x80, 0xff, 0, 'a'}, tagPacked}, {[]byte("\xc3"), tagPacked}} {
		s, _ := ReadString(c.in, nil)
		if s[len(s)-1] != c.tag || !utf8.ValidString(s) {
			t.Fatalf("%q: tag %d, valid UTF-8 %v", c.in, s[len(s)-1], utf8.ValidString(s))
		}
		if back := readBytes(t, s); !bytes.Equal(back, c.in) {
			t.Fatalf("%q: back %q", c.in, back)
		}
	}
}

// FuzzPack checks any bytes come back from their read string, that the
// string is UTF-8 (wasmtime refuses anything else), and that unpack
// refuses or takes any bytes without panicking.
func FuzzPack(f *testing.F) {
	f.Add([]byte("0123456789abcdef"))
	f.Add([]byte{0x80, 0xff, 0x00})
	f.Add([]byte(strings.Repeat("\xfe", 15)))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, _ := ReadString(bytes.Clone(b), nil)
		if !utf8.ValidString(s) {
			t.Fatalf("%x: read string %x is not UTF-8", b, s)
		}
		if back := readBytes(t, s); !bytes.Equal(back, b) {
			t.Fatalf("%x: back %x", b, back)
		}
		if n, err := unpackedLen(len(b)); err == nil {
			if err := unpack(make([]byte, n), b); err == nil && packedLen(n) != len(b) {
				t.Fatalf("%x unpacked to %d bytes", b, n)
			}
		}
	})
}

func TestUnpackRefuses(t *testing.T) {
	// The last is a char above 0x7f in the first four groups, which
	// unpack takes together.
	for _, bad := range []string{"a", "abcdefgh1", "\x80b", "abcdefg\xff", "\x7f\x7f", "\x00\x02", strings.Repeat("a", 21) + "\x80" + strings.Repeat("a", 18)} {
		n, err := unpackedLen(len(bad))
		if err == nil {
			err = unpack(make([]byte, n), []byte(bad))
		}
		if err == nil {
			t.Errorf("%q unpacked", bad)
		}
	}
	if err := unpack(make([]byte, 3), []byte("ab")); err == nil {
		t.Error("unpack took a dst of the wrong length")
	}
}

func TestWriteBytes(t *testing.T) {
	bin := []byte{0x80, 0xff, 0, 'a', 0xfe, 1, 2, 3, 4, 5, 6, 7, 8}
	p := make([]byte, packedLen(len(bin)))
	pack(p, bin)
	for _, c := range []struct {
		s      string
		packed bool
		want   []byte
	}{{"plain", false, []byte("plain")}, {"", true, []byte{}}, {string(p), true, bin}} {
		got, err := WriteBytes(c.s, c.packed, nil)
		if err != nil || !bytes.Equal(got, c.want) {
			t.Fatalf("%q packed %v: %x, %v; want %x", c.s, c.packed, got, err, c.want)
		}
	}
	// A scratch buffer with room holds the bytes; one without is not used.
	scratch := make([]byte, 3, 64)
	if got, err := WriteBytes(string(p), true, scratch); err != nil || !bytes.Equal(got, bin) || &got[0] != &scratch[:1][0] {
		t.Fatalf("with room in scratch: %x, %v; want %x in scratch", got, err, bin)
	}
	small := make([]byte, 0, 4)
	if got, err := WriteBytes(string(p), true, small); err != nil || !bytes.Equal(got, bin) || cap(got) == cap(small) {
		t.Fatalf("with too little room: %x, %v; want %x elsewhere", got, err, bin)
	}
	if got, err := WriteBytes("abcdefgh1", true, nil); err == nil {
		t.Fatalf("a packed string of a last group of one char unpacked to %x", got)
	}
}

// ReadString packs into the scratch buffer it is given when it has
// room, hands back the one it used, and leaves scratch alone for UTF-8.
func TestReadStringReuses(t *testing.T) {
	bin := []byte{0x80, 0xff, 0, 'a', 0xfe, 1, 2, 3, 4}
	scratch := make([]byte, 0, 64)
	s, used := ReadString(bytes.Clone(bin), scratch)
	if back := readBytes(t, s); !bytes.Equal(back, bin) || &used[:1][0] != &scratch[:1][0] || unsafe.StringData(s) != &scratch[:1][0] {
		t.Fatalf("with room: back %x, packed in scratch %v", back, &used[:1][0] == &scratch[:1][0])
	}
	s, used = ReadString(bytes.Clone(bin), make([]byte, 0, 2))
	if back := readBytes(t, s); !bytes.Equal(back, bin) || cap(used) < packedLen(len(bin))+1 {
		t.Fatalf("without room: back %x, used cap %d", back, cap(used))
	}
	s, used = ReadString([]byte("text"), scratch)
	if back := readBytes(t, s); string(back) != "text" || &used[:1][0] != &scratch[:1][0] {
		t.Fatalf("UTF-8: back %q, scratch kept %v", back, &used[:1][0] == &scratch[:1][0])
	}
}
