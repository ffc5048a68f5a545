package wasihttp

import (
	"bufio"
	"io"
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
