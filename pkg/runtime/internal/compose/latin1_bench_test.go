package compose

import (
	"strings"
	"testing"
)

// BenchmarkLatin1 converts 64 KiB of binary and of JSON-like text both
// ways, as Interface's reads (Latin1String) and writes (Latin1Bytes) do.
func BenchmarkLatin1(b *testing.B) {
	bin := make([]byte, 64<<10)
	for i := range bin {
		bin[i] = byte(i*7 + i>>8)
	}
	text := []byte(strings.Repeat(`{"id":"42","name":"Fibre 1G"},`, 2200)[:64<<10])
	for name, data := range map[string][]byte{"binary": bin, "text": text} {
		s := Latin1String(data)
		b.Run(name+"/string", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				Latin1String(data)
			}
		})
		b.Run(name+"/bytes", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := Latin1Bytes(s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
