package cli

import (
	"fmt"
	"io"
	"sync"
	"unicode/utf8"
)

// terminalWriter writes what the CLI prints to a terminal with every
// control character shown escaped (`\u001b`): much of what it prints comes
// from elsewhere (a host's labels and refusals, a Component's failure
// reason, lattice events), and a terminal would act on an escape sequence
// in it (move the cursor, retitle the window, write the clipboard). Only
// terminals get it: a pipe or a file gets the bytes as they are. The
// CLI's own progress line writes its controls through raw.
type terminalWriter struct {
	raw   io.Writer
	mu    sync.Mutex // loggers write from many goroutines
	carry []byte     // the start of a UTF-8 sequence the last Write split
	buf   []byte
}

// forTerminal wraps w when it is a terminal.
func forTerminal(w io.Writer) io.Writer {
	if isTerminal(w) {
		return &terminalWriter{raw: w}
	}
	return w
}

func (t *terminalWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	in := p
	if len(t.carry) > 0 {
		in = append(t.carry, p...)
		t.carry = nil
	}
	t.buf = t.buf[:0]
	for len(in) > 0 {
		r, size := utf8.DecodeRune(in)
		if r == utf8.RuneError && size <= 1 {
			if !utf8.FullRune(in) && len(in) < utf8.UTFMax {
				t.carry = append([]byte(nil), in...) // the rest of it comes in the next Write
				break
			}
			t.buf = fmt.Appendf(t.buf, `\x%02x`, in[0])
			in = in[1:]
			continue
		}
		if isControl(r) {
			t.buf = fmt.Appendf(t.buf, `\u%04x`, r)
		} else {
			t.buf = append(t.buf, in[:size]...)
		}
		in = in[size:]
	}
	if _, err := t.raw.Write(t.buf); err != nil {
		return 0, err
	}
	return len(p), nil
}

// isControl: C0 but for tab and newline, DEL and C1.
func isControl(r rune) bool {
	return (r < 0x20 && r != '\t' && r != '\n') || (r >= 0x7f && r <= 0x9f)
}

// rawOf is where the CLI writes its own terminal controls.
func rawOf(w io.Writer) io.Writer {
	if t, ok := w.(*terminalWriter); ok {
		return t.raw
	}
	return w
}
