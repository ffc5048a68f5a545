package enforce

import (
	"testing"
	"time"

	"github.com/wasmcanvas/wasmcanvas/pkg/auth"
)

// TestCallerCacheStopsAtTokenExpiry: a verified caller is reused for the
// cache's TTL, but never past the expiry of the token that proved it.
func TestCallerCacheStopsAtTokenExpiry(t *testing.T) {
	clock := time.Unix(1000, 0)
	c := newCallerCache(5*time.Second, func() time.Time { return clock })
	short := [32]byte{1}
	long := [32]byte{2}
	c.put(short, auth.Principal{Subject: "s", Expires: clock.Add(time.Second)})
	c.put(long, auth.Principal{Subject: "l", Expires: clock.Add(time.Hour)})
	clock = clock.Add(2 * time.Second)
	if _, ok := c.get(short); ok {
		t.Fatal("a caller whose token expired was still served from the cache")
	}
	if p, ok := c.get(long); !ok || p.Subject != "l" {
		t.Fatal("a caller within the TTL and its token's life was not cached")
	}
	clock = clock.Add(4 * time.Second)
	if _, ok := c.get(long); ok {
		t.Fatal("a caller was served past the cache's TTL")
	}
}
