package cm

import "testing"

// A small pool's decommit batch cannot hold every free memory slot, and a
// large one keeps the 64-region batch.
func TestDecommitBatch(t *testing.T) {
	for _, c := range []struct{ n, want uint32 }{{1, 1}, {2, 1}, {16, 10}, {100, 62}, {128, 64}, {4096, 64}} {
		got := decommitBatch(c.n)
		if got != c.want {
			t.Errorf("decommitBatch(%d) = %d, want %d", c.n, got, c.want)
		}
		if slots := c.n * poolMemoriesPerComponent; got*2 > slots && got > 1 {
			t.Errorf("decommitBatch(%d) = %d: over half of the pool's %d memory slots", c.n, got, slots)
		}
	}
}
