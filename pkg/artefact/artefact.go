package artefact

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
)

// MaxSize bounds an artefact, in bytes.
const MaxSize = 512 << 20

// The binary header of a WebAssembly component: the \0asm magic, then the
// encoding version and the layer (0 a core module, 1 a component), each
// two bytes little-endian. ComponentVersion is the encoding the pinned
// wasmtime reads.
const (
	headerSize       = 8
	ComponentVersion = 0x0d
	layerModule      = 0
	layerComponent   = 1
)

var magic = []byte("\x00asm")

// Wasm is an artefact that was read and looks like a component binary.
type Wasm struct {
	// Source names it in messages: the file's path (later an OCI
	// reference).
	Source string
	Bytes  []byte
	SHA256 [sha256.Size]byte
}

// Digest is the artefact's digest as OCI writes it (sha256:<hex>).
func (w *Wasm) Digest() string { return "sha256:" + hex.EncodeToString(w.SHA256[:]) }

// Read reads an artefact of size bytes from r, hashing it as it streams
// in. Nothing past the 8-byte header is read unless the header names a
// WebAssembly component, and never more than size bytes: a reader with
// more (a file that grew) is refused.
func Read(source string, r io.Reader, size int64) (*Wasm, error) {
	if size > MaxSize {
		return nil, fmt.Errorf("artefact %s is %d bytes, more than the %d-byte limit", source, size, MaxSize)
	}
	if size < headerSize {
		return nil, fmt.Errorf("artefact %s (%d bytes) is not a WebAssembly component: it is shorter than the 8-byte \\0asm header", source, size)
	}
	h := sha256.New()
	tr := io.TeeReader(r, h)
	buf := make([]byte, size)
	if _, err := io.ReadFull(tr, buf[:headerSize]); err != nil {
		return nil, changed(source, size, err)
	}
	if why := checkHeader(buf[:headerSize]); why != "" {
		return nil, fmt.Errorf("artefact %s (%d bytes) is not a WebAssembly component: %s", source, size, why)
	}
	if _, err := io.ReadFull(tr, buf[headerSize:]); err != nil {
		return nil, changed(source, size, err)
	}
	var extra [1]byte
	if n, _ := io.ReadFull(r, extra[:]); n > 0 {
		return nil, fmt.Errorf("artefact %s grew past its %d bytes while it was read; deploy it again once it is written", source, size)
	}
	w := &Wasm{Source: source, Bytes: buf}
	h.Sum(w.SHA256[:0])
	return w, nil
}

func changed(source string, size int64, err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("artefact %s ended before its %d bytes (it changed while it was read); deploy it again once it is written", source, size)
	}
	return fmt.Errorf("read artefact %s: %w", source, err)
}

// checkHeader says why h is not the header of a component binary this
// canvas runs, in words that quote none of its bytes ("" when it is).
// Text, a WAT file included, never reaches wasmtime: its parser's errors
// echo the line they stop at.
func checkHeader(h []byte) string {
	if string(h[:4]) != string(magic) {
		return `it does not start with the \0asm header (give a component binary; WAT text and other files are not read)`
	}
	version, layer := binary.LittleEndian.Uint16(h[4:6]), binary.LittleEndian.Uint16(h[6:8])
	switch {
	case layer == layerModule:
		return "it is a core WebAssembly module (wrap it as a component with `wasm-tools component new`)"
	case layer != layerComponent:
		return "its header names no known WebAssembly layer"
	case version != ComponentVersion:
		return fmt.Sprintf("it is encoded in component version %d; this canvas runs version %d", version, ComponentVersion)
	}
	return ""
}

// offsetPattern finds the byte offset in wasmtime's (wasmparser's) binary
// decoding errors: "... (at offset 0x1f)".
var offsetPattern = regexp.MustCompile(`at offset 0x([0-9a-f]+)`)

// CompileFailure turns a runtime's refusal to compile w into an error of
// its own: the artefact's name, size and digest, and the byte offset the
// compiler named, if any. It never carries the compiler's text, which
// may quote the bytes, and does not wrap err.
func (w *Wasm) CompileFailure(err error) error {
	where := ""
	if m := offsetPattern.FindAllStringSubmatch(err.Error(), -1); m != nil {
		off, perr := strconv.ParseUint(m[len(m)-1][1], 16, 63)
		if perr == nil && off <= uint64(len(w.Bytes)) {
			where = fmt.Sprintf(" at byte offset %#x", off)
		}
	}
	return fmt.Errorf("artefact %s is not a valid Wasm component (%d bytes, %s): wasmtime refused it%s; `wasm-tools validate %s` says why",
		w.Source, len(w.Bytes), w.Digest(), where, w.Source)
}
