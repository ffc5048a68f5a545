package peer

import "time"

// SetClock makes r read the time from now.
func SetClock(r *Registry, now func() time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.now = now
}

// Seen is how many specification URLs p remembers its peers listed.
func Seen(p *Peers) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, st := range p.state {
		n += len(st.seen)
	}
	return n
}
