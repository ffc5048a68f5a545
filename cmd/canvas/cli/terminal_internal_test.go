package cli

import (
	"bytes"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
)

// What reaches a terminal has every control character escaped, whatever
// the Write boundaries; text, tabs and newlines pass as they are.
func TestTerminalWriterEscapesControls(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"plain text\tand a tab\n", "plain text\tand a tab\n"},
		{"héllo ✓ 🙂", "héllo ✓ 🙂"},
		{"\x1b]52;c;cm0gLXJmIC8K\x07", `\u001b]52;c;cm0gLXJmIC8K\u0007`}, // OSC 52: write the clipboard
		{"red \x1b[31mALERT\x1b[0m", `red \u001b[31mALERT\u001b[0m`},
		{"over\rwrite", `over\u000dwrite`},
		{"del\x7f c1 \u009b2J", `del\u007f c1 \u009b2J`},
		{"bad \xff byte", `bad \xff byte`},
	} {
		var b bytes.Buffer
		w := &terminalWriter{raw: &b}
		// One byte at a time too: a rune split across Writes.
		for _, chunks := range [][]string{{tt.in}, splitBytes(tt.in)} {
			b.Reset()
			for _, c := range chunks {
				if n, err := w.Write([]byte(c)); n != len(c) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", c, n, err)
				}
			}
			if b.String() != tt.want {
				t.Errorf("%q in %d writes: got %q, want %q", tt.in, len(chunks), b.String(), tt.want)
			}
		}
	}
}

func splitBytes(s string) []string {
	out := make([]string, len(s))
	for i := range len(s) {
		out[i] = s[i : i+1]
	}
	return out
}

// Pipes and files get the bytes as they are: scripts read exact output.
func TestForTerminalLeavesPipesAlone(t *testing.T) {
	var b bytes.Buffer
	if forTerminal(&b) != &b {
		t.Error("a buffer was wrapped")
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	if got := forTerminal(w); got != w {
		t.Errorf("a pipe was wrapped: %T", got)
	}
	if tw := (&terminalWriter{raw: &b}); !isTerminal(tw) || rawOf(tw) != &b {
		t.Error("the wrapper is not seen as the terminal it writes to")
	}
}

// Loggers write from many goroutines at once (canvas up, canvas node).
func TestTerminalWriterConcurrent(t *testing.T) {
	var b testkit.Buffer
	w := &terminalWriter{raw: &b}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				if _, err := w.Write([]byte("line \x1b[2J\n")); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if got, want := strings.Count(b.String(), "line \\u001b[2J\n"), 8*200; got != want {
		t.Errorf("%d whole escaped lines, want %d", got, want)
	}
}
