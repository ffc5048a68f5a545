package client

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/wasmcanvas/wasmcanvas/pkg/api/wire"
)

func TestReadSSE(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		stream  string
		want    []string // event types, with the object's name
		wantErr string
	}{
		{"initial state, bookmark, change",
			"event: ADDED\ndata: {\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\"}}}\n\n" +
				"event: BOOKMARK\ndata: {\"type\":\"BOOKMARK\"}\n\n" +
				": keep-alive\n\n" +
				"event: MODIFIED\ndata: {\"type\":\"MODIFIED\",\n" + "data: \"object\":{\"metadata\":{\"name\":\"a\"}}}\n\n",
			[]string{"ADDED a", "BOOKMARK", "MODIFIED a"}, ""},
		{"CRLF line ends", "data: {\"type\":\"BOOKMARK\"}\r\n\r\n", []string{"BOOKMARK"}, ""},
		{"empty stream", "", nil, ""},
		{"not JSON", "data: {oops\n\n", nil, "undecodable event"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			err := readSSE(strings.NewReader(tc.stream), func(ev wire.WatchEvent) error {
				s := ev.Type
				if ev.Object != nil {
					s += " " + ev.Object.Metadata.Name
				}
				got = append(got, s)
				return nil
			})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if !errors.Is(err, ErrWatchEnded) {
				t.Fatalf("err = %v, want ErrWatchEnded at the end of the stream", err)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("events %q, want %q", got, tc.want)
			}
		})
	}
}

func TestReadSSEStopsOnCallbackError(t *testing.T) {
	t.Parallel()
	stop := errors.New("enough")
	n := 0
	err := readSSE(strings.NewReader(strings.Repeat("data: {\"type\":\"BOOKMARK\"}\n\n", 3)), func(wire.WatchEvent) error {
		n++
		return stop
	})
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("err %v after %d events, want the callback's error after 1", err, n)
	}
}

// TestReadSSEBrokenStream: a stream cut mid-way (canvasd died, the
// connection reset) ends like a closed one, so the caller watches again.
func TestReadSSEBrokenStream(t *testing.T) {
	t.Parallel()
	stream := io.MultiReader(strings.NewReader("data: {\"type\":\"BOOKMARK\"}\n\ndata: {\"ty"), iotest.ErrReader(io.ErrUnexpectedEOF))
	n := 0
	err := readSSE(stream, func(wire.WatchEvent) error { n++; return nil })
	if !errors.Is(err, ErrWatchEnded) || !errors.Is(err, io.ErrUnexpectedEOF) || n != 1 {
		t.Errorf("err %v after %d events, want ErrWatchEnded wrapping the read error after 1", err, n)
	}
}

// FuzzReadSSE: any stream ends in an error or ErrWatchEnded, never a
// panic or a silent nil.
func FuzzReadSSE(f *testing.F) {
	f.Add([]byte("event: ADDED\ndata: {\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\"}}}\n\n"))
	f.Add([]byte(": keep-alive\n\ndata: {\"type\":\"BOOKMARK\"}\r\n\r\n"))
	f.Add([]byte("data: {\"type\":\n" + "data: \"DELETED\"}\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		err := readSSE(strings.NewReader(string(data)), func(wire.WatchEvent) error { return nil })
		if err == nil {
			t.Fatal("readSSE returned nil: a stream always ends in ErrWatchEnded or an error")
		}
	})
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// endless repeats s.
type endless string

func (e endless) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		n += copy(p[n:], e)
	}
	return n, nil
}

// TestReadSSEBoundsAnEvent: an event that never ends (data lines without
// the blank line), or one giant line, is refused once it passes
// maxEventSize, saying so, instead of being read into memory whole; the
// caller does not watch again into the same.
func TestReadSSEBoundsAnEvent(t *testing.T) {
	t.Parallel()
	for name, stream := range map[string]io.Reader{
		"data lines without end": endless("data: " + strings.Repeat("x", 1000) + "\n"),
		"one giant line":         io.MultiReader(strings.NewReader("data: "), endless("x")),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := &countingReader{r: io.LimitReader(stream, 4*maxEventSize)}
			err := readSSE(r, func(wire.WatchEvent) error { return nil })
			if err == nil || errors.Is(err, ErrWatchEnded) || !strings.Contains(err.Error(), "more than") {
				t.Fatalf("err = %v, want the event refused as too large", err)
			}
			if r.n > maxEventSize*9/8 {
				t.Errorf("read %d bytes before refusing an event of more than %d", r.n, maxEventSize)
			}
		})
	}
}
