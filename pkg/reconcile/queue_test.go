package reconcile

import (
	"testing"
	"time"
)

func TestQueueCoalescesAndSerialisesKeys(t *testing.T) {
	t.Parallel()
	q := newQueue(time.Millisecond, time.Second)
	for range 3 {
		q.Add("a")
	}
	q.Add("b")
	if n := q.Len(); n != 2 {
		t.Fatalf("Len after adding a×3, b = %d, want 2", n)
	}
	k, ok := q.Get()
	if !ok || k != "a" {
		t.Fatalf("Get = %q, %t; want a first", k, ok)
	}
	// a is being processed: adding it again must not hand it out twice.
	q.Add("a")
	q.Add("a")
	if k, _ := q.Get(); k != "b" {
		t.Fatalf("Get while a is processing = %q, want b", k)
	}
	if n := q.Len(); n != 0 {
		t.Fatalf("a is waiting (%d) while still being processed", n)
	}
	q.Done("a")
	if n := q.Len(); n != 1 {
		t.Fatalf("Len after Done(a) = %d, want 1 (the re-add, coalesced)", n)
	}
	if k, _ := q.Get(); k != "a" {
		t.Fatalf("Get after Done = %q, want a again", k)
	}
	q.Done("a")
	q.Done("b")
	if n := q.Len(); n != 0 {
		t.Fatalf("Len when idle = %d", n)
	}
	q.ShutDown()
	if _, ok := q.Get(); ok {
		t.Fatal("Get after ShutDown returned a key")
	}
}

func TestQueueAddAfterKeepsEarliest(t *testing.T) {
	t.Parallel()
	q := newQueue(time.Millisecond, time.Second)
	defer q.ShutDown()
	q.AddAfter("k", time.Hour)
	q.AddAfter("k", 5*time.Millisecond)
	got := make(chan string, 1)
	go func() {
		k, _ := q.Get()
		got <- k
	}()
	select {
	case k := <-got:
		if k != "k" {
			t.Fatalf("Get = %q", k)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the 5ms AddAfter was postponed by the 1h one")
	}
}

func TestQueueBackoffIsCappedAndJittered(t *testing.T) {
	t.Parallel()
	q := newQueue(100*time.Millisecond, 30*time.Second)
	tests := []struct {
		failures int
		nominal  time.Duration
	}{
		{0, 100 * time.Millisecond},
		{1, 200 * time.Millisecond},
		{4, 1600 * time.Millisecond},
		{8, 25600 * time.Millisecond},
		{9, 30 * time.Second},
		{40, 30 * time.Second},
		{100, 30 * time.Second},
	}
	for _, tt := range tests {
		for range 50 {
			d := q.backoff(tt.failures)
			if d < tt.nominal/2 || d > tt.nominal {
				t.Fatalf("backoff(%d) = %s, want within [%s, %s]", tt.failures, d, tt.nominal/2, tt.nominal)
			}
		}
	}
	q.AddRateLimited("x")
	q.AddRateLimited("x")
	if n := q.Failures("x"); n != 2 {
		t.Fatalf("Failures = %d, want 2", n)
	}
	q.Forget("x")
	if n := q.Failures("x"); n != 0 {
		t.Fatalf("Failures after Forget = %d", n)
	}
	q.ShutDown()
}
