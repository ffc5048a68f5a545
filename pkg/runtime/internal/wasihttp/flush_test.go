package wasihttp

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

// A small response the guest writes and flushes just before handle
// returns goes out whole, with a Content-Length and no chunking.
func TestFlushBeforeReturnIsOneResponse(t *testing.T) {
	t.Parallel()
	s := startEcho(t, 5*time.Second, 64<<20)
	resp, err := client().Post(s.url+"/small", "text/plain", strings.NewReader("hello"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "hello" {
		t.Fatalf("status %d, body %q", resp.StatusCode, body)
	}
	if resp.ContentLength != 5 || len(resp.TransferEncoding) != 0 {
		t.Fatalf("Content-Length %d, Transfer-Encoding %q: want 5 and none (the flush was not delayed)", resp.ContentLength, resp.TransferEncoding)
	}
}

// A flush followed by computation without host calls still reaches the
// client before the handler returns: the delayed flush has a timer.
func TestDelayedFlushReachesClientWhileGuestComputes(t *testing.T) {
	t.Parallel()
	s := startEcho(t, 30*time.Second, 64<<20)
	resp, err := client().Get(s.url + "/compute")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	first, err := br.ReadString('\n')
	if err != nil || first != "first\n" {
		t.Fatalf("first line %q, %v", first, err)
	}
	gotFirst := time.Now()
	rest, err := io.ReadAll(br)
	if err != nil || string(rest) != "second\n" {
		t.Fatalf("rest %q, %v", rest, err)
	}
	// The guest computes for a few hundred milliseconds between the two
	// writes; had the first flush waited for the return, both lines would
	// arrive together.
	if gap := time.Since(gotFirst); gap < 20*time.Millisecond {
		t.Fatalf("the second line came %v after the first: the first flush waited for the guest to finish", gap)
	}
}

// countingWriter records the writes and flushes lazyFlusher makes.
type countingWriter struct {
	header  http.Header
	writes  []int
	flushes int
}

func (c *countingWriter) Header() http.Header {
	if c.header == nil {
		c.header = http.Header{}
	}
	return c.header
}
func (c *countingWriter) WriteHeader(int) {}
func (c *countingWriter) Write(p []byte) (int, error) {
	c.writes = append(c.writes, len(p))
	return len(p), nil
}
func (c *countingWriter) Flush() { c.flushes++ }

// Writes are gathered up to writeBuffer and handed over with the flush,
// the overflow, or the stop before the handler returns; a write as large
// as the buffer goes straight through.
func TestLazyFlusherGathersWrites(t *testing.T) {
	t.Parallel()
	cw := &countingWriter{}
	f := getFlusher(cw, http.NewResponseController(cw))
	chunk := make([]byte, 4<<10)
	for range writeBuffer / len(chunk) {
		if err := f.write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if len(cw.writes) != 0 {
		t.Fatalf("writes %v before the buffer was full, want none", cw.writes)
	}
	if err := f.write(chunk); err != nil { // overflows: the 64 KiB go out
		t.Fatal(err)
	}
	if want := []int{writeBuffer}; !slices.Equal(cw.writes, want) {
		t.Fatalf("writes %v, want %v", cw.writes, want)
	}
	if err := f.request(); err != nil {
		t.Fatal(err)
	}
	f.now() // the guest waits: the 4 KiB left go out, then the flush
	if want := []int{writeBuffer, len(chunk)}; !slices.Equal(cw.writes, want) || cw.flushes != 1 {
		t.Fatalf("writes %v, flushes %d; want %v and 1", cw.writes, cw.flushes, want)
	}
	big := make([]byte, writeBuffer)
	if err := f.write(chunk[:10]); err != nil {
		t.Fatal(err)
	}
	if err := f.write(big); err != nil { // the 10 bytes first, then big whole
		t.Fatal(err)
	}
	if err := f.write(chunk[:7]); err != nil {
		t.Fatal(err)
	}
	f.release() // stop: the 7 bytes go to the server before it finishes
	if want := []int{writeBuffer, len(chunk), 10, writeBuffer, 7}; !slices.Equal(cw.writes, want) {
		t.Fatalf("writes %v, want %v", cw.writes, want)
	}
}

// A status that allows no body has a write refused at once, as net/http
// refuses it, not when the gathered writes would have gone out.
func TestLazyFlusherNoBodyStatus(t *testing.T) {
	t.Parallel()
	errs := make(chan error, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := getFlusher(w, http.NewResponseController(w))
		defer f.release()
		code := http.StatusNoContent
		if r.URL.Path == "/ok" {
			code = http.StatusOK
		}
		w.WriteHeader(code)
		f.status(code)
		errs <- f.write([]byte("body"))
	}))
	t.Cleanup(srv.Close)
	for path, want := range map[string]error{"/none": http.ErrBodyNotAllowed, "/ok": nil} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := <-errs; !errors.Is(got, want) {
			t.Errorf("%s: write: %v, want %v", path, got, want)
		}
	}
}
