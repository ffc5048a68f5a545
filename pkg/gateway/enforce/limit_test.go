package enforce

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestMemoryCounterExpires: a key's count starts afresh after its TTL, a
// key without TTL never does, and expired keys are swept once the map
// grows.
func TestMemoryCounterExpires(t *testing.T) {
	ctx := context.Background()
	clock := time.Unix(0, 0)
	c := NewMemoryCounter()
	c.now = func() time.Time { return clock }
	for want := int64(1); want <= 3; want++ {
		if n, _ := c.Count(ctx, "w", time.Second); n != want {
			t.Fatalf("count %d, want %d", n, want)
		}
	}
	c.Count(ctx, "forever", 0)
	clock = clock.Add(2 * time.Second)
	if n, _ := c.Count(ctx, "w", time.Second); n != 1 {
		t.Errorf("after the TTL: count %d, want 1", n)
	}
	if n, _ := c.Count(ctx, "forever", 0); n != 2 {
		t.Errorf("no TTL: count %d, want 2", n)
	}
	for i := range 2000 {
		c.Count(ctx, fmt.Sprint(i), time.Second)
	}
	clock = clock.Add(2 * time.Second)
	for i := range 2000 {
		c.Count(ctx, fmt.Sprint("new", i), time.Second)
	}
	if len(c.entries) > 2100 {
		t.Errorf("%d entries: expired ones were not swept", len(c.entries))
	}
}
