package peer

import "time"

// SetClock makes r read the time from now.
func SetClock(r *Registry, now func() time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.now = now
}
