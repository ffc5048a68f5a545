package wasi

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// countingReader counts the reads that reach it.
type countingReader struct {
	r     io.Reader
	reads int
}

func (c *countingReader) Read(p []byte) (int, error) {
	c.reads++
	return c.r.Read(p)
}

// TestReaderStreamBlockingReadsKeepTheRest: a blocking read of 4 bytes
// takes what the reader has (up to readChunk) and serves the next reads
// from it, in order, then the reader's end.
func TestReaderStreamBlockingReadsKeepTheRest(t *testing.T) {
	src := strings.Repeat("0123456789", 100) // 1,000 bytes, one read
	cr := &countingReader{r: strings.NewReader(src)}
	s := NewReaderStream(cr)
	var got []byte
	for {
		b, err := s.Read(context.Background(), 4, true, nil)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(b) == 0 || len(b) > 4 {
			t.Fatalf("read of 4 gave %d bytes", len(b))
		}
		got = append(got, b...)
	}
	if string(got) != src {
		t.Fatalf("got %d bytes back, out of order or changed", len(got))
	}
	if cr.reads > 3 {
		t.Errorf("%d reads reached the reader for 250 blocking reads of 4 bytes, want the first to take all", cr.reads)
	}

	// A reader that errs after its data: the data first, then the error.
	s = NewReaderStream(iotest.DataErrReader(strings.NewReader("abcdef")))
	if b, err := s.Read(context.Background(), 2, true, nil); err != nil || string(b) != "ab" {
		t.Fatalf("first read: %q, %v", b, err)
	}
	if b, err := s.Read(context.Background(), 10, true, nil); err != nil || string(b) != "cdef" {
		t.Fatalf("second read: %q, %v", b, err)
	}
	if _, err := s.Read(context.Background(), 10, true, nil); !errors.Is(err, io.EOF) {
		t.Fatalf("third read: %v, want EOF", err)
	}
}
