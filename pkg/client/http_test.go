package client

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wasmcanvas/wasmcanvas/pkg/api/wire"
)

// TestHTTPBoundsTheReply: a server answering a reply without end (a
// broken canvasd, a wrong --server) is cut off at the client's bound,
// saying so, instead of being read into memory whole; a reply within it
// is read.
func TestHTTPBoundsTheReply(t *testing.T) {
	t.Parallel()
	const bound = 1 << 20
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", wire.ContentTypeJSON)
		if r.URL.Query().Get("namespace") == "small" {
			_, _ = io.WriteString(w, `{"items":[{"metadata":{"name":"a","namespace":"small"}}]}`)
			return
		}
		_, _ = io.WriteString(w, `{"items":[{"metadata":{"name":"`)
		chunk := strings.Repeat("x", 64<<10)
		for range 8 * bound / len(chunk) { // bounded: a client without the bound reads it all
			if _, err := io.WriteString(w, chunk); err != nil {
				return
			}
		}
	}))
	t.Cleanup(hs.Close)
	c, err := NewHTTP(hs.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	c.maxReply = bound
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)

	if items, err := c.List(ctx, "small"); err != nil || len(items) != 1 || items[0].Metadata.Name != "a" {
		t.Fatalf("a small reply: %v, %v", items, err)
	}
	_, err = c.List(ctx, "endless")
	if err == nil || !strings.Contains(err.Error(), "the reply is larger than 1048576 bytes") {
		t.Fatalf("an endless reply: err = %v, want it cut off at the bound", err)
	}
}

// TestHTTPWatchEndsWhenTheServerFallsSilent: a watch stream that stops
// sending anything, keep-alives included (a stalled server or proxy),
// ends with ErrWatchEnded so the caller watches again, instead of
// waiting on it until ctx ends.
func TestHTTPWatchEndsWhenTheServerFallsSilent(t *testing.T) {
	t.Parallel()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", wire.ContentTypeSSE)
		_, _ = io.WriteString(w, "event: BOOKMARK\ndata: {\"type\":\"BOOKMARK\"}\n\n")
		http.NewResponseController(w).Flush()
		<-r.Context().Done() // silent from here on
	}))
	t.Cleanup(hs.Close)
	c, err := NewHTTP(hs.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	c.idle = 200 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	var got []string
	err = c.Watch(ctx, "", "", func(ev wire.WatchEvent) error {
		got = append(got, ev.Type)
		return nil
	})
	if !errors.Is(err, ErrWatchEnded) || !strings.Contains(err.Error(), "nothing from the server") || strings.Join(got, ",") != wire.WatchBookmark {
		t.Fatalf("err = %v after %v, want ErrWatchEnded saying the server fell silent after the bookmark", err, got)
	}
}
