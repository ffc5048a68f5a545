package compose

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkPack packs and unpacks 64 KiB of random bytes, as a read and a
// write of Interface do for bytes that are not UTF-8.
func BenchmarkPack(b *testing.B) {
	src := make([]byte, 64<<10)
	rand.NewChaCha8([32]byte{1}).Read(src)
	packed := make([]byte, packedLen(len(src)))
	b.Run("pack", func(b *testing.B) {
		b.SetBytes(int64(len(src)))
		for b.Loop() {
			pack(packed, src)
		}
	})
	b.Run("unpack", func(b *testing.B) {
		b.SetBytes(int64(len(src)))
		for b.Loop() {
			if err := unpack(src, packed); err != nil {
				b.Fatal(err)
			}
		}
	})
}
