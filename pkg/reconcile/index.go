package reconcile

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
	"github.com/wasmcanvas/wasmcanvas/pkg/store"
	"github.com/wasmcanvas/wasmcanvas/pkg/translate"
)

// index is the controller's view of the desired Components, kept from the
// desired-state watch, for the questions a pass asks about other
// Components: which expose a specification URL (dependent-API resolution),
// which depend on one (whom to wake when a provider changes), and which
// claim an ingress path (path claims). Reconcile reads it instead of
// listing the store, so one pass costs the same at 10 or 10,000
// Components.
//
// It is level-triggered like the rest of the loop: every (re)start of the
// watch replays the whole store into it, and when the replay ends the
// entries it did not hold are dropped as deleted. Reconcile waits until the
// first replay is done. Every change returns the keys it concerns (the
// other claimants of a path, the dependents of a URL) for the caller to
// enqueue.
//
// A Component keeps the paths its application may still serve: a deleted
// one until its application is gone (release, after cleanup), an updated
// one the paths it dropped until its new version is deployed (settle).
type index struct {
	// routes is the Component's ingress route table as translate derives
	// it (nil when it does not translate: it cannot serve anything).
	routes func(*oda.Component) []translate.IngressRoute

	mu      sync.Mutex
	entries map[string]*indexEntry
	// providers and dependents map a specification URL to the keys whose
	// exposed (dependent) APIs name it.
	providers, dependents map[string]map[string]struct{}
	// claims maps a canonical path to the keys whose routes claim it.
	claims map[string]map[string]struct{}
	// replayed holds the keys the running replay has delivered; nil when
	// no replay is running.
	replayed map[string]bool

	synced     chan struct{}
	syncedOnce sync.Once
}

// indexEntry is what the index keeps of one Component.
type indexEntry struct {
	order claimOrder
	// approx: order.rev is the revision a replay delivered, not the one
	// the Component was created at (the index did not see it created);
	// refine corrects it from the key's history where it matters.
	approx bool
	// rev is the revision of the stored version the entry reflects.
	rev uint64
	// deleting: the Component is gone from the desired store; the entry
	// only keeps its held paths until release.
	deleting bool
	// claims are the routes of the stored version; held are paths that an
	// earlier version (or the deleted Component) claimed and whose
	// application may still serve them: they stay the Component's until
	// settle (the new version is deployed) or release (the application is
	// gone), so the next claimant never deploys beside it.
	claims, held []pathClaim
	// exposes maps each specification URL it exposes to the names of the
	// status entries (oda.APIStatus.Name) of the APIs exposing it.
	exposes map[string][]string
	depends []string
}

// paths are the paths the Component claims or still holds.
func (e *indexEntry) paths() []pathClaim {
	if len(e.held) == 0 {
		return e.claims
	}
	return slices.Concat(e.claims, e.held)
}

// pathClaim is one route of a Component: the path (canonical) and the
// exposed API serving it.
type pathClaim struct{ path, api string }

// claimOrder orders the claimants of a path: the Component created first
// owns it. First is by metadata.creationTimestamp (the API server sets it
// on create and keeps it on update; whole seconds), then by the store
// revision the Component was created at (seen live, or read from the key's
// history after a restart), then by key, for a total order.
type claimOrder struct {
	created time.Time
	rev     uint64
	key     string
}

func (a claimOrder) compare(b claimOrder) int {
	return cmp.Or(a.created.Compare(b.created), cmp.Compare(a.rev, b.rev), strings.Compare(a.key, b.key))
}

// orderOf is the claim order of a stored Component as the store gives it.
func orderOf(key string, c *oda.Component, rev uint64) claimOrder {
	created, _ := time.Parse(time.RFC3339, c.Metadata.CreationTimestamp) // unset or foreign: zero, then by revision
	return claimOrder{created: created, rev: rev, key: key}
}

// claimConflict is a route of a Component whose path another Component
// claimed first.
type claimConflict struct {
	claim pathClaim
	// owner is the key of the Component that holds the path, ownerAPI
	// its exposed API serving it.
	owner, ownerAPI string
}

// reason is the Failed status's failureReason; both backends show it, as
// reconcile refuses the claim before either sees the manifest.
func (cc *claimConflict) reason() string {
	owner := displayKey(cc.owner)
	return fmt.Sprintf("path %q of exposed API %q is already claimed by Component %s (its exposed API %q), created before this one: "+
		"give exposed API %q another path, or delete Component %s", cc.claim.path, cc.claim.api, owner, cc.ownerAPI, cc.claim.api, owner)
}

// displayKey writes key {namespace}.{name} as kubectl names objects,
// namespace/name.
func displayKey(key string) string {
	k, err := oda.ParseKey(key)
	if err != nil {
		return key
	}
	return k.Display()
}

// claimPath is the form in which two paths are the same claim: the
// gateway routes a path with and without its trailing slash alike.
func claimPath(p string) string {
	if t := strings.TrimRight(p, "/"); t != "" {
		return t
	}
	return "/"
}

func newIndex(routes func(*oda.Component) []translate.IngressRoute) *index {
	return &index{
		routes:     routes,
		entries:    map[string]*indexEntry{},
		providers:  map[string]map[string]struct{}{},
		dependents: map[string]map[string]struct{}{},
		claims:     map[string]map[string]struct{}{},
		synced:     make(chan struct{}),
	}
}

// errIndexNotLoaded: Reconcile ran before the desired-state watch replayed
// the store once (Run not running, or NATS unreachable so far).
var errIndexNotLoaded = errors.New("the controller has not loaded the desired Components yet (is Run running and NATS reachable?)")

// wait blocks until the first replay is done or ctx ends.
func (x *index) wait(ctx context.Context) error {
	select {
	case <-x.synced:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", errIndexNotLoaded, ctx.Err())
	}
}

// entryOf builds the entry of a stored Component (outside the lock:
// translation is the expensive part).
func (x *index) entryOf(e store.Entry[oda.Component]) *indexEntry {
	c := e.Value
	c.Metadata.Namespace, c.Metadata.Name = e.Namespace, e.Name
	key := e.Key().String()
	ent := &indexEntry{order: orderOf(key, &c, e.Revision), rev: e.Revision, exposes: map[string][]string{}}
	for _, r := range x.routes(&c) {
		ent.claims = append(ent.claims, pathClaim{path: claimPath(r.Path), api: r.API})
	}
	for _, apis := range c.Spec.ExposedAPIsByFunction() {
		for _, a := range apis {
			for _, s := range a.Specification {
				u := strings.TrimSpace(s.URL)
				name := c.Metadata.Name + "-" + strings.ToLower(a.Name) + majorSuffix(s.Version, s.URL)
				ent.exposes[u] = append(ent.exposes[u], name)
			}
		}
	}
	for _, l := range c.Spec.DependentAPIsByFunction() {
		for _, d := range l {
			for _, s := range d.Specification {
				ent.depends = append(ent.depends, strings.TrimSpace(s.URL))
			}
		}
	}
	return ent
}

// put records a stored Component and returns the other keys whose pass
// may now decide differently.
func (x *index) put(e store.Entry[oda.Component]) []string {
	key := e.Key().String()
	ent := x.entryOf(e)
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.replayed != nil {
		x.replayed[key] = true
	}
	old := x.entries[key]
	var wake map[string]struct{}
	if old == nil || old.deleting || !sameForOthers(old, ent) {
		wake = map[string]struct{}{}
	}
	switch {
	case old != nil && !old.deleting:
		// The same Component updated: it keeps its place in line.
		ent.order.rev, ent.approx = old.order.rev, old.approx
	case x.replayed != nil:
		ent.approx = true
	}
	if old != nil {
		ent.held = stillHeld(ent.claims, old.claims, old.held)
	}
	x.unlink(key, old, wake)
	x.entries[key] = ent
	x.link(key, ent, wake)
	return keysExcept(wake, key)
}

// stillHeld returns the paths of earlier that claims no longer names.
func stillHeld(claims []pathClaim, earlier ...[]pathClaim) []pathClaim {
	var out []pathClaim
	for _, l := range earlier {
		for _, e := range l {
			if !slices.ContainsFunc(claims, func(c pathClaim) bool { return c.path == e.path }) &&
				!slices.ContainsFunc(out, func(c pathClaim) bool { return c.path == e.path }) {
				out = append(out, e)
			}
		}
	}
	return out
}

// touch marks key as replayed without changing its entry (its latest
// value does not decode: Reconcile reports that, and the index keeps what
// it knew).
func (x *index) touch(key string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.replayed != nil {
		x.replayed[key] = true
	}
}

// sameForOthers says whether two entries of one Component look the same to
// other Components: same claims, same exposed APIs.
func sameForOthers(a, b *indexEntry) bool {
	return a.order.created.Equal(b.order.created) && slices.Equal(a.claims, b.claims) && slices.Equal(a.held, b.held) &&
		maps.EqualFunc(a.exposes, b.exposes, slices.Equal[[]string])
}

// remove marks a Component deleted: it no longer provides APIs, but holds
// its paths until release.
func (x *index) remove(key string) []string {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.replayed != nil {
		x.replayed[key] = true
	}
	return x.removeLocked(key)
}

func (x *index) removeLocked(key string) []string {
	old := x.entries[key]
	if old == nil || old.deleting {
		return nil
	}
	wake := map[string]struct{}{}
	x.unlink(key, old, wake)
	held := stillHeld(nil, old.claims, old.held)
	if len(held) == 0 {
		delete(x.entries, key)
		return keysExcept(wake, key)
	}
	ent := &indexEntry{order: old.order, deleting: true, held: held}
	x.entries[key] = ent
	x.link(key, ent, nil)
	return keysExcept(wake, key)
}

// settle drops the paths key held from an earlier version once the current
// one is deployed (or nothing is), and returns the claimants that may take
// them over. rev is the revision of the version the caller saw deployed:
// a pass that read an older one (the Component changed since) or a newer
// one (the index has not seen it yet) settles nothing, as the version it
// saw may still serve what the index holds; the pass of the revision the
// index has settles.
func (x *index) settle(key string, rev uint64) []string {
	x.mu.Lock()
	defer x.mu.Unlock()
	old := x.entries[key]
	if old == nil || old.deleting || old.rev != rev || len(old.held) == 0 {
		return nil
	}
	wake := map[string]struct{}{}
	for _, c := range old.held {
		addAll(wake, x.claims[c.path])
		deleteFrom(x.claims, c.path, key)
	}
	old.held = nil
	return keysExcept(wake, key)
}

// release drops the claims of a deleted Component once its application is
// gone and returns the claimants that may take its paths over. A key the
// index holds as live (its delete not seen yet) is kept.
func (x *index) release(key string) []string {
	x.mu.Lock()
	defer x.mu.Unlock()
	old := x.entries[key]
	if old == nil || !old.deleting {
		return nil
	}
	wake := map[string]struct{}{}
	x.unlink(key, old, wake)
	delete(x.entries, key)
	return keysExcept(wake, key)
}

// contested returns the keys whose place in line is approximate and
// matters: they share a path with another claimant.
func (x *index) contested() []string {
	x.mu.Lock()
	defer x.mu.Unlock()
	var out []string
	for key, ent := range x.entries {
		if !ent.approx {
			continue
		}
		for _, c := range ent.paths() {
			if len(x.claims[c.path]) > 1 {
				out = append(out, key)
				break
			}
		}
	}
	slices.Sort(out)
	return out
}

// refine sets key's place in line to rev, the revision its history says it
// was created at, and returns the claimants to wake when that moved it.
func (x *index) refine(key string, rev uint64) []string {
	x.mu.Lock()
	defer x.mu.Unlock()
	ent := x.entries[key]
	if ent == nil || ent.deleting || !ent.approx {
		return nil
	}
	ent.approx = false
	if rev == 0 || rev == ent.order.rev {
		return nil
	}
	ent.order.rev = rev
	wake := map[string]struct{}{}
	for _, c := range ent.paths() {
		addAll(wake, x.claims[c.path])
	}
	return keysExcept(wake, key)
}

// creationRevision is the revision of the first write after the last
// delete in a key's kept history (the oldest kept write when the history
// no longer reaches the creation); 0 when the key is deleted.
func creationRevision(history []store.Event[oda.Component]) uint64 {
	var rev uint64
	for _, ev := range history {
		switch ev.Kind {
		case store.EventDelete:
			rev = 0
		case store.EventPut:
			if rev == 0 {
				rev = ev.Revision
			}
		}
	}
	return rev
}

// beginReplay starts collecting the keys a (re)started watch replays.
func (x *index) beginReplay() {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.replayed = map[string]bool{}
}

// endReplay drops, as deleted, the Components the replay did not hold
// (deleted while the watch was down, their delete markers gone) and
// returns them with the keys to wake; the first call marks the index
// loaded.
func (x *index) endReplay() (gone, wake []string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for key, ent := range x.entries {
		if !ent.deleting && !x.replayed[key] {
			gone = append(gone, key)
			wake = append(wake, x.removeLocked(key)...)
		}
	}
	x.replayed = nil
	x.syncedOnce.Do(func() { close(x.synced) })
	return gone, wake
}

// unlink takes ent (the entry of key, may be nil) out of the maps and adds
// the keys concerned to wake (nil: wake nobody).
func (x *index) unlink(key string, ent *indexEntry, wake map[string]struct{}) {
	if ent != nil {
		x.mark(key, ent, deleteFrom, wake)
	}
}

// link puts ent (the entry of key) into the maps and adds the keys
// concerned to wake (nil: wake nobody).
func (x *index) link(key string, ent *indexEntry, wake map[string]struct{}) {
	x.mark(key, ent, addTo, wake)
}

// mark applies op (addTo or deleteFrom) to key in every map ent names, and
// adds to wake the keys each change concerns: the dependents of the URLs
// it exposes, the claimants of its paths.
func (x *index) mark(key string, ent *indexEntry, op func(map[string]map[string]struct{}, string, string), wake map[string]struct{}) {
	for u := range ent.exposes {
		addAll(wake, x.dependents[u])
		op(x.providers, u, key)
	}
	for _, u := range ent.depends {
		op(x.dependents, u, key)
	}
	for _, c := range ent.paths() {
		addAll(wake, x.claims[c.path])
		op(x.claims, c.path, key)
	}
}

// orderOf is key's place in line: the index's when it holds the Component
// live, else fresh (a pass may read a Component before the watch
// delivers it).
func (x *index) orderOf(key string, fresh claimOrder) claimOrder {
	x.mu.Lock()
	defer x.mu.Unlock()
	if ent := x.entries[key]; ent != nil && !ent.deleting {
		return ent.order
	}
	return fresh
}

// conflict returns the first of routes (key's, as it translates now) whose
// path another Component ahead of key in line claims, nil when key may
// serve them all.
func (x *index) conflict(key string, order claimOrder, routes []translate.IngressRoute) *claimConflict {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, r := range routes {
		c := pathClaim{path: claimPath(r.Path), api: r.API}
		var owner *indexEntry
		var ownerKey string
		for k := range x.claims[c.path] {
			ent := x.entries[k]
			if k == key || ent.order.compare(order) >= 0 {
				continue
			}
			if owner == nil || ent.order.compare(owner.order) < 0 {
				owner, ownerKey = ent, k
			}
		}
		if owner == nil {
			continue
		}
		cc := &claimConflict{claim: c, owner: ownerKey}
		for _, oc := range owner.paths() {
			if oc.path == c.path {
				cc.ownerAPI = oc.api
				break
			}
		}
		return cc
	}
	return nil
}

// provider is a Component exposing APIs a dependent wants: its key and its
// status entry names for them (entry name -> specification URL).
type provider struct {
	key   string
	names map[string]string
}

// providersOf returns the live Components that expose one of urls, in key
// order. A Component exposing an API it depends on provides it to itself:
// the reference canvas's dependent-API operator matches every ready
// ExposedAPI in the cluster, its own Component's included (upstream's
// productcatalog-enhanced-v1 depends on the TMF620 it exposes).
func (x *index) providersOf(urls map[string]bool) []provider {
	x.mu.Lock()
	defer x.mu.Unlock()
	byKey := map[string]map[string]string{}
	for u := range urls {
		for k := range x.providers[u] {
			names := byKey[k]
			if names == nil {
				names = map[string]string{}
				byKey[k] = names
			}
			for _, n := range x.entries[k].exposes[u] {
				names[n] = u
			}
		}
	}
	out := make([]provider, 0, len(byKey))
	for k, names := range byKey {
		out = append(out, provider{key: k, names: names})
	}
	slices.SortFunc(out, func(a, b provider) int { return strings.Compare(a.key, b.key) })
	return out
}

// dependentsOf returns the Components depending on an API key exposes, key
// itself included when it depends on its own API (its pass read its own
// status before writing it, so the next pass resolves the dependency).
func (x *index) dependentsOf(key string) []string {
	x.mu.Lock()
	defer x.mu.Unlock()
	ent := x.entries[key]
	if ent == nil {
		return nil
	}
	wake := map[string]struct{}{}
	for u := range ent.exposes {
		addAll(wake, x.dependents[u])
	}
	return keysExcept(wake, "")
}

// dependentsOfSpecs returns the Components depending on one of specs.
func (x *index) dependentsOfSpecs(specs []string) []string {
	x.mu.Lock()
	defer x.mu.Unlock()
	wake := map[string]struct{}{}
	for _, u := range specs {
		addAll(wake, x.dependents[strings.TrimSpace(u)])
	}
	return keysExcept(wake, "")
}

func addTo(m map[string]map[string]struct{}, k, v string) {
	s := m[k]
	if s == nil {
		s = map[string]struct{}{}
		m[k] = s
	}
	s[v] = struct{}{}
}

func deleteFrom(m map[string]map[string]struct{}, k, v string) {
	if s := m[k]; s != nil {
		delete(s, v)
		if len(s) == 0 {
			delete(m, k)
		}
	}
}

func addAll(dst map[string]struct{}, src map[string]struct{}) {
	if dst == nil {
		return
	}
	for k := range src {
		dst[k] = struct{}{}
	}
}

func keysExcept(set map[string]struct{}, self string) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		if k != self {
			out = append(out, k)
		}
	}
	return out
}
