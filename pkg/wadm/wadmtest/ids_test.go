package wadmtest

import (
	"regexp"
	"testing"
	"time"
)

func TestULIDShapeAndOrder(t *testing.T) {
	t.Parallel()
	shape := regexp.MustCompile(`^[0-7][0-9A-HJKMNP-TV-Z]{25}$`)
	base := time.UnixMilli(1_700_000_000_000)
	prev := ""
	for i := range 50 {
		id := newULID(base.Add(time.Duration(i) * time.Millisecond))
		if !shape.MatchString(id) {
			t.Fatalf("ULID %q has the wrong shape", id)
		}
		if id[:10] <= prev {
			t.Fatalf("ULID time part not increasing: %q after %q", id[:10], prev)
		}
		prev = id[:10]
	}
	// The time part of a known instant, computed outside this code: 1700000000000 ms
	// in Crockford base32 is 01HF7YAT00.
	if got := newULID(base)[:10]; got != "01HF7YAT00" {
		t.Fatalf("time part = %s, want 01HF7YAT00", got)
	}
	if u := newUUID(); !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(u) {
		t.Fatalf("UUID %q is not a version 4 UUID", u)
	}
}
