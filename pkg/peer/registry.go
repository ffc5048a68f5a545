package peer

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wasmcanvas/wasmcanvas/pkg/api/wire"
)

// DefaultTTL is how long a registration lasts without being renewed; a
// registering canvas renews every DefaultInterval.
const DefaultTTL = 90 * time.Second

// Limits of what the registry holds. Its routes are unauthenticated (as
// the reference canvas's in-cluster service), so whoever reaches them
// must not be able to fill the canvas's memory: at most MaxRegistrations
// services (a canvas registers one per API it exposes), each a body of at
// most MaxServiceBytes (a Service is a few hundred bytes).
const (
	MaxRegistrations = 10_000
	MaxServiceBytes  = 16 << 10
)

// ErrRegistryFull is Put's error for a new service when MaxRegistrations
// unexpired ones are held.
var ErrRegistryFull = errors.New("the registry is full")

// Registry holds the APIs other canvases registered here. Safe for
// concurrent use.
type Registry struct {
	ttl      time.Duration
	now      func() time.Time
	onChange func(specs []string)

	mu       sync.Mutex
	services map[string]registered
}

type registered struct {
	svc     wire.Service
	expires time.Time
}

// NewRegistry makes a Registry whose entries last ttl (DefaultTTL when 0)
// after their last registration. onChange (may be nil) is called, outside
// the lock, with the specification URLs whose registrations changed.
func NewRegistry(ttl time.Duration, onChange func(specs []string)) *Registry {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	return &Registry{ttl: ttl, now: time.Now, onChange: onChange, services: map[string]registered{}}
}

// TTL is how long a registration lasts after its last renewal.
func (r *Registry) TTL() time.Duration { return r.ttl }

// SetOnChange sets the change callback (the daemon builds the registry
// before the controller it wakes).
func (r *Registry) SetOnChange(f func(specs []string)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.onChange = f
}

// Put registers svc (or renews it) and says whether it is new. The
// service must have an id, a specification URL characteristic and, when
// active, a url.
func (r *Registry) Put(svc wire.Service) (created bool, err error) {
	if err := checkService(svc); err != nil {
		return false, err
	}
	r.mu.Lock()
	old, had := r.services[svc.ID]
	var gone []wire.Service
	if !had && len(r.services) >= MaxRegistrations {
		gone = r.expireLocked()
		if len(r.services) >= MaxRegistrations {
			r.mu.Unlock()
			return false, fmt.Errorf("service %q: %w: %d registrations, at most %d (one expires %s after its last renewal)", svc.ID, ErrRegistryFull, len(r.services), MaxRegistrations, r.ttl)
		}
	}
	r.services[svc.ID] = registered{svc: svc, expires: r.now().Add(r.ttl)}
	f := r.onChange
	r.mu.Unlock()
	if f != nil && (len(gone) > 0 || !had || !sameService(old.svc, svc)) {
		f(specsOf(append(gone, old.svc, svc)...))
	}
	return !had, nil
}

func checkService(svc wire.Service) error {
	var errs []string
	if svc.ID == "" {
		errs = append(errs, "id: required (the registering canvas's stable id of the API)")
	}
	if specOf(svc.ServiceCharacteristic) == "" {
		errs = append(errs, fmt.Sprintf("serviceCharacteristic: needs %q (or %q), the API's specification URL dependents match", wire.CharOASSpecification, wire.CharSpecification))
	}
	if svc.State == wire.ServiceActive && wire.CharacteristicValue(svc.ServiceCharacteristic, wire.CharURL) == "" {
		errs = append(errs, fmt.Sprintf("serviceCharacteristic: an active service needs %q, where it is served", wire.CharURL))
	}
	if len(errs) > 0 {
		return fmt.Errorf("service %q: %s", svc.ID, strings.Join(errs, "; "))
	}
	return nil
}

func sameService(a, b wire.Service) bool {
	return a.State == b.State && slices.Equal(a.ServiceCharacteristic, b.ServiceCharacteristic)
}

func specsOf(svcs ...wire.Service) []string {
	var out []string
	seen := map[string]bool{} // a set: up to MaxRegistrations services expire at once
	for _, s := range svcs {
		if u := specOf(s.ServiceCharacteristic); u != "" && !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	return out
}

// specOf is the specification URL a service or resource is matched by.
func specOf(chars []wire.Characteristic) string {
	if u := wire.CharacteristicValue(chars, wire.CharOASSpecification); u != "" {
		return strings.TrimSpace(u)
	}
	return strings.TrimSpace(wire.CharacteristicValue(chars, wire.CharSpecification))
}

// Delete removes a registration; false when there was none.
func (r *Registry) Delete(id string) bool {
	r.mu.Lock()
	old, had := r.services[id]
	delete(r.services, id)
	f := r.onChange
	r.mu.Unlock()
	if had && f != nil {
		f(specsOf(old.svc))
	}
	return had
}

// List returns the live registrations by id.
func (r *Registry) List() []wire.Service {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	out := []wire.Service{}
	for _, e := range r.services {
		if now.Before(e.expires) {
			out = append(out, e.svc)
		}
	}
	slices.SortFunc(out, func(a, b wire.Service) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Expire drops registrations past their time and reports their
// specification URLs to onChange; the daemon calls it periodically.
func (r *Registry) Expire() {
	r.mu.Lock()
	gone := r.expireLocked()
	f := r.onChange
	r.mu.Unlock()
	if len(gone) > 0 && f != nil {
		f(specsOf(gone...))
	}
}

// expireLocked drops the expired registrations and returns them; r.mu is
// held.
func (r *Registry) expireLocked() []wire.Service {
	now := r.now()
	var gone []wire.Service
	for id, e := range r.services {
		if !now.Before(e.expires) {
			gone = append(gone, e.svc)
			delete(r.services, id)
		}
	}
	return gone
}

// lookup finds a registration for spec: the first active one by id, or
// else the first inactive one (to say why it is not ready).
// One pass over the map, copying nothing: it runs for every dependent API
// reconcile resolves here, against up to MaxRegistrations.
func (r *Registry) lookup(spec string) (svc wire.Service, found bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	active := false
	for _, e := range r.services {
		s := e.svc
		if !now.Before(e.expires) || specOf(s.ServiceCharacteristic) != spec {
			continue
		}
		isActive := s.State == wire.ServiceActive
		switch {
		case !found, isActive && !active, isActive == active && s.ID < svc.ID:
			svc, found, active = s, true, isActive
		}
	}
	return svc, found
}
