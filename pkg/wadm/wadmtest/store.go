package wadmtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wasmcanvas/wasmcanvas/pkg/wadm"
)

// record is one application with its versions in creation order. The value
// format is the double's own; only the bucket and key follow wadm.
type record struct {
	Lattice  string          `json:"lattice"`
	Name     string          `json:"name"`
	Versions []storedVersion `json:"versions"`
	Deployed string          `json:"deployed_version,omitempty"`
}

type storedVersion struct {
	Version  string         `json:"version"`
	Manifest *wadm.Manifest `json:"manifest"`
}

func (r *record) current() *storedVersion {
	if len(r.Versions) == 0 {
		return nil
	}
	return &r.Versions[len(r.Versions)-1]
}

func (r *record) find(version string) *storedVersion {
	for i := range r.Versions {
		if r.Versions[i].Version == version {
			return &r.Versions[i]
		}
	}
	return nil
}

func (r *record) deployedManifest() *wadm.Manifest {
	if r.Deployed == "" {
		return nil
	}
	if v := r.find(r.Deployed); v != nil {
		return v.Manifest
	}
	return nil
}

// errConflict: another writer changed the record since it was read.
var errConflict = errors.New("wadmtest: record changed concurrently")

// store keeps records; rev 0 means "absent" for get and "create" for set.
type store interface {
	get(ctx context.Context, name string) (*record, uint64, error)
	set(ctx context.Context, r *record, rev uint64) error
	del(ctx context.Context, name string) error
	list(ctx context.Context) ([]*record, error)
}

type memStore struct {
	mu   sync.Mutex
	recs map[string][]byte
	revs map[string]uint64
	next uint64
}

func newMemStore() *memStore {
	return &memStore{recs: map[string][]byte{}, revs: map[string]uint64{}}
}

func (m *memStore) get(_ context.Context, name string) (*record, uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.recs[name]
	if !ok {
		return nil, 0, nil
	}
	r, err := decodeRecord(b)
	return r, m.revs[name], err
}

func (m *memStore) set(_ context.Context, r *record, rev uint64) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.revs[r.Name] != rev {
		return errConflict
	}
	m.next++
	m.recs[r.Name], m.revs[r.Name] = b, m.next
	return nil
}

func (m *memStore) del(_ context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.recs, name)
	delete(m.revs, name)
	return nil
}

func (m *memStore) list(_ context.Context) ([]*record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	names := make([]string, 0, len(m.recs))
	for n := range m.recs {
		names = append(names, n)
	}
	slices.Sort(names)
	out := make([]*record, 0, len(names))
	for _, n := range names {
		r, err := decodeRecord(m.recs[n])
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// kvStore keeps records in the wadm_manifests bucket under
// `{lattice}-{name}`, so a double restarted on the same NATS sees them.
type kvStore struct {
	kv      jetstream.KeyValue
	lattice string
}

func (k *kvStore) key(name string) string { return k.lattice + "-" + name }

func (k *kvStore) get(ctx context.Context, name string) (*record, uint64, error) {
	e, err := k.kv.Get(ctx, k.key(name))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	r, err := decodeRecord(e.Value())
	if err != nil {
		return nil, 0, err
	}
	// `{lattice}-{name}` is ambiguous when lattices contain '-'; the record
	// says which lattice wrote it.
	if r.Lattice != k.lattice || r.Name != name {
		return nil, 0, nil
	}
	return r, e.Revision(), nil
}

func (k *kvStore) set(ctx context.Context, r *record, rev uint64) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if rev == 0 {
		_, err = k.kv.Create(ctx, k.key(r.Name), b)
	} else {
		_, err = k.kv.Update(ctx, k.key(r.Name), b, rev)
	}
	if errors.Is(err, jetstream.ErrKeyExists) {
		return fmt.Errorf("%w: %w", errConflict, err)
	}
	return err
}

func (k *kvStore) del(ctx context.Context, name string) error {
	return k.kv.Delete(ctx, k.key(name))
}

func (k *kvStore) list(ctx context.Context) ([]*record, error) {
	lister, err := k.kv.ListKeys(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = lister.Stop() }()
	var names []string
	for key := range lister.Keys() {
		if name, ok := strings.CutPrefix(key, k.lattice+"-"); ok {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	var out []*record
	for _, n := range names {
		r, _, err := k.get(ctx, n)
		if err != nil {
			return nil, err
		}
		if r != nil {
			out = append(out, r)
		}
	}
	return out, nil
}

func decodeRecord(b []byte) (*record, error) {
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("wadmtest: stored record: %w", err)
	}
	return &r, nil
}
