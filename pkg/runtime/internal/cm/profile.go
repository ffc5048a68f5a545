package cm

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Profile adds up where the stores made while it is active spend their
// time: instantiation, export calls, teardown, and every host function and
// resource destructor the guest called into, by name. The guest's own time
// is an export call's time less its host calls'.
//
// # Notes
//
//   - One profile is active per process at a time (StartProfile replaces
//     the previous one); a store takes the profile active when it is made,
//     and adds its counts when it closes, so host calls share no lock.
//   - Off (the default), it costs a host call one nil check.
type Profile struct {
	mu sync.Mutex
	// opened counts the stores made while it was active, stores those of
	// them closed.
	opened, stores int64
	phases         map[string]*Stat
	calls          map[string]*Stat
}

// Stat is a count and the time it took.
type Stat struct {
	Name  string
	Count int64
	Total time.Duration
}

// Profile phases.
const (
	PhaseInstantiate = "instantiate"
	PhaseCall        = "call"
	PhaseTeardown    = "teardown"
)

var activeProfile atomic.Pointer[Profile]

// StartProfile makes a profile active and returns it.
func StartProfile() *Profile {
	p := &Profile{phases: map[string]*Stat{}, calls: map[string]*Stat{}}
	activeProfile.Store(p)
	return p
}

// Stop makes p inactive (stores made before go on adding to it until they
// close).
func (p *Profile) Stop() { activeProfile.CompareAndSwap(p, nil) }

// Settle waits until every store made while p was active has closed (a
// request's instance may be torn down after its response went out), or
// until timeout; it reports whether they all did.
func (p *Profile) Settle(timeout time.Duration) bool {
	for deadline := time.Now().Add(timeout); ; time.Sleep(time.Millisecond) {
		p.mu.Lock()
		done := p.stores >= p.opened
		p.mu.Unlock()
		if done {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// Snapshot returns the stores closed so far, the phases and the host calls,
// the calls most expensive first.
func (p *Profile) Snapshot() (stores int64, phases, calls []Stat) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, name := range phaseNames {
		if s := p.phases[name]; s != nil {
			phases = append(phases, *s)
		}
	}
	for _, s := range p.calls {
		calls = append(calls, *s)
	}
	slices.SortFunc(calls, func(a, b Stat) int {
		return cmp.Or(cmp.Compare(b.Total, a.Total), cmp.Compare(a.Name, b.Name))
	})
	return p.stores, phases, calls
}

// Indices of storeProfile.phases, in phaseNames' order.
const (
	phaseInstantiate = iota
	phaseCall
	phaseTeardown
)

var phaseNames = [...]string{PhaseInstantiate, PhaseCall, PhaseTeardown}

// storeProfile is one store's share of a Profile. Calls are keyed by the
// host function, named only when merged: a host call allocates nothing.
type storeProfile struct {
	into   *Profile
	phases [len(phaseNames)]Stat
	calls  map[*hostFunc]*Stat
}

func newStoreProfile() *storeProfile {
	p := activeProfile.Load()
	if p == nil {
		return nil
	}
	p.mu.Lock()
	p.opened++
	p.mu.Unlock()
	return &storeProfile{into: p, calls: map[*hostFunc]*Stat{}}
}

func (sp *storeProfile) phase(i int, d time.Duration) {
	sp.phases[i].Count++
	sp.phases[i].Total += d
}

func (sp *storeProfile) call(f *hostFunc, d time.Duration) {
	s := sp.calls[f]
	if s == nil {
		s = &Stat{}
		sp.calls[f] = s
	}
	s.Count++
	s.Total += d
}

// merge adds the store's counts to its profile.
func (sp *storeProfile) merge() {
	p := sp.into
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stores++
	for i, name := range phaseNames {
		if sp.phases[i].Count == 0 {
			continue
		}
		add(p.phases, name, sp.phases[i])
	}
	for f, s := range sp.calls {
		add(p.calls, f.fullName(), *s)
	}
}

func add(m map[string]*Stat, name string, s Stat) {
	t := m[name]
	if t == nil {
		t = &Stat{Name: name}
		m[name] = t
	}
	t.Count += s.Count
	t.Total += s.Total
}
