package bridge

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/nats-io/nkeys"
)

// LinkDefinition is wasmCloud's InterfaceLinkDefinition as a provider
// receives it: configs resolved to values, secrets sealed for the
// provider's xkey (PROVIDER.md, section 2).
type LinkDefinition struct {
	SourceID      string            `json:"source_id"`
	Target        string            `json:"target"`
	Name          string            `json:"name"`
	WitNamespace  string            `json:"wit_namespace"`
	WitPackage    string            `json:"wit_package"`
	Interfaces    []string          `json:"interfaces"`
	SourceConfig  map[string]string `json:"source_config"`
	TargetConfig  map[string]string `json:"target_config"`
	SourceSecrets []byte            `json:"source_secrets"`
	TargetSecrets []byte            `json:"target_secrets"`
}

// UnmarshalJSON reads the secrets as wasmCloud (serde) writes bytes: a
// JSON array of numbers, or null.
func (l *LinkDefinition) UnmarshalJSON(b []byte) error {
	type plain LinkDefinition
	var raw struct {
		plain
		SourceSecrets *[]int `json:"source_secrets"`
		TargetSecrets *[]int `json:"target_secrets"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*l = LinkDefinition(raw.plain)
	var err error
	if l.SourceSecrets, err = byteArray("source_secrets", raw.SourceSecrets); err != nil {
		return err
	}
	l.TargetSecrets, err = byteArray("target_secrets", raw.TargetSecrets)
	return err
}

// MarshalJSON writes the secrets as JSON arrays of numbers, as a host does.
func (l LinkDefinition) MarshalJSON() ([]byte, error) {
	type plain LinkDefinition
	return json.Marshal(struct {
		plain
		SourceSecrets []int `json:"source_secrets"`
		TargetSecrets []int `json:"target_secrets"`
	}{plain(l), ints(l.SourceSecrets), ints(l.TargetSecrets)})
}

func byteArray(field string, v *[]int) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	out := make([]byte, len(*v))
	for i, n := range *v {
		if n < 0 || n > 255 {
			return nil, fmt.Errorf("%s[%d] = %d is not a byte", field, i, n)
		}
		out[i] = byte(n)
	}
	return out, nil
}

func ints(b []byte) []int {
	if b == nil {
		return nil
	}
	out := make([]int, len(b))
	for i, c := range b {
		out[i] = int(c)
	}
	return out
}

func (l LinkDefinition) validate() error {
	var errs []error
	if l.SourceID == "" {
		errs = append(errs, errors.New("source_id is empty"))
	}
	if l.Target == "" {
		errs = append(errs, errors.New("target is empty"))
	}
	if l.WitNamespace == "" || l.WitPackage == "" {
		errs = append(errs, errors.New("wit_namespace and wit_package must be set"))
	}
	return errors.Join(errs...)
}

// Link is one link of the provider, secrets opened.
type Link struct {
	Definition LinkDefinition
	// Config is the provider's side of the link: target_config when the
	// provider is the target, source_config when it is the source.
	Config map[string]string
	// Secrets are the provider's side's secrets, opened with its xkey.
	Secrets map[string]SecretValue
}

// ErrNoLink is what Links.Target returns for a caller with no link.
var ErrNoLink = errors.New("no link")

// Links holds the provider's links: the ones it is the target of, keyed
// by the calling component (source_id), and the ones it is the source of,
// keyed by target. It is safe for concurrent use; a served interface
// checks every call against it.
type Links struct {
	self string

	mu      sync.RWMutex
	targets map[string]Link // by source_id: components calling the provider
	sources map[string]Link // by target: components the provider calls
	gone    []func(sourceID string, l Link)
}

// OnTargetDeleted calls f, outside the store's lock, each time a link
// through which a component called the provider is deleted: what a served
// interface keeps per caller can then be dropped.
func (ls *Links) OnTargetDeleted(f func(sourceID string, l Link)) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	ls.gone = append(ls.gone, f)
}

func newLinks(self string) *Links {
	return &Links{self: self, targets: map[string]Link{}, sources: map[string]Link{}}
}

// Target returns the link through which component sourceID may call the
// provider, or an error wrapping ErrNoLink that says how to make one.
func (ls *Links) Target(sourceID string) (Link, error) {
	ls.mu.RLock()
	l, ok := ls.targets[sourceID]
	ls.mu.RUnlock()
	if !ok {
		return Link{}, fmt.Errorf("%w from %q to %q: the call is refused; link the component to the provider (a wadm link trait with target %q)", ErrNoLink, sourceID, ls.self, ls.self)
	}
	return l, nil
}

// Source returns the link through which the provider may call component
// target.
func (ls *Links) Source(target string) (Link, bool) {
	ls.mu.RLock()
	defer ls.mu.RUnlock()
	l, ok := ls.sources[target]
	return l, ok
}

// Sources lists the components that may call the provider, sorted.
func (ls *Links) Sources() []string {
	ls.mu.RLock()
	defer ls.mu.RUnlock()
	return slices.Sorted(maps.Keys(ls.targets))
}

// Len is the number of links held.
func (ls *Links) Len() int {
	ls.mu.RLock()
	defer ls.mu.RUnlock()
	return len(ls.targets) + len(ls.sources)
}

// put stores l, as resolve made it, on the side the provider is on.
func (ls *Links) put(l Link) {
	d := l.Definition
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if d.Target == ls.self {
		ls.targets[d.SourceID] = l
	} else {
		ls.sources[d.Target] = l
	}
}

// del removes the link d names; as upstream, the side is decided by
// comparing source_id with the provider's id. It reports whether there
// was such a link.
func (ls *Links) del(d LinkDefinition) bool {
	ls.mu.Lock()
	m, key := ls.targets, d.SourceID
	target := d.SourceID != ls.self
	if !target {
		m, key = ls.sources, d.Target
	}
	l, ok := m[key]
	delete(m, key)
	gone := slices.Clone(ls.gone)
	ls.mu.Unlock()
	if ok && target {
		for _, f := range gone {
			f(key, l)
		}
	}
	return ok
}

// secretsOpener opens link secrets sealed by the host's xkey for the
// provider's: nil when the host gave no xkeys (hosts before 1.1), and
// then a link with sealed secrets is refused.
type secretsOpener struct {
	provider nkeys.KeyPair
	host     string
}

func providerXKey(h HostData) (nkeys.KeyPair, error) {
	kp, err := nkeys.FromCurveSeed([]byte(h.ProviderXKeyPrivateKey))
	if err != nil {
		return nil, fmt.Errorf("provider_xkey_private_key is not an xkey (curve) seed: %w", err)
	}
	return kp, nil
}

// open returns the secrets in sealed, a sealed JSON map of name to
// SecretValue; nil or empty sealed means none.
func (o *secretsOpener) open(field string, sealed []byte) (map[string]SecretValue, error) {
	if len(sealed) == 0 {
		return nil, nil
	}
	if o == nil {
		return nil, fmt.Errorf("%s: the link carries sealed secrets but the host gave no xkeys to open them (host_xkey_public_key is empty)", field)
	}
	plain, err := o.provider.Open(sealed, o.host)
	if err != nil {
		return nil, fmt.Errorf("%s: cannot open with the provider's xkey and the host's public xkey: %w", field, err)
	}
	var out map[string]SecretValue
	if err := json.Unmarshal(plain, &out); err != nil {
		return nil, fmt.Errorf("%s: opened, but not a JSON map of secrets: %w", field, jsonError(err))
	}
	return out, nil
}

// resolve turns a link definition into the provider's Link.
func resolve(self string, o *secretsOpener, d LinkDefinition) (Link, error) {
	if err := d.validate(); err != nil {
		return Link{}, err
	}
	l := Link{Definition: d}
	var err error
	switch self {
	case d.Target:
		l.Config = d.TargetConfig
		l.Secrets, err = o.open("target_secrets", d.TargetSecrets)
	case d.SourceID:
		l.Config = d.SourceConfig
		l.Secrets, err = o.open("source_secrets", d.SourceSecrets)
	default:
		return Link{}, fmt.Errorf("link %s -> %s does not involve provider %q", d.SourceID, d.Target, self)
	}
	return l, err
}
