package translate

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"sort"
	"sync"

	"github.com/wasmcanvas/wasmcanvas/pkg/wadm"
)

// Version is the manifest version translate assigns: "v-" and the first 12
// hex digits of a SHA-256 over the manifest's content (every field but the
// version annotation), so an unchanged Component never produces a new wadm
// version and any change to the manifest does.
//
// The digest walks the manifest directly instead of hashing its JSON: the
// JSON encoder costs most of a translation, and the walk allocates nothing.
// Every field is written length-prefixed and in a fixed order, so distinct
// manifests cannot collide by concatenation.
func Version(m *wadm.Manifest) string {
	bp := digestBufs.Get().(*[]byte)
	d := digest{b: (*bp)[:0]}
	defer func() { *bp = d.b; digestBufs.Put(bp) }()
	d.str(m.APIVersion)
	d.str(m.Kind)
	d.str(m.Metadata.Name)
	d.strMap(m.Metadata.Annotations, wadm.AnnotationVersion)
	d.strMap(m.Metadata.Labels, "")
	d.num(len(m.Spec.Components))
	for i := range m.Spec.Components {
		d.component(&m.Spec.Components[i])
	}
	d.num(len(m.Spec.Policies))
	for _, p := range m.Spec.Policies {
		d.str(p.Name)
		d.str(p.Type)
		d.strMap(p.Properties, "")
	}
	sum := sha256.Sum256(d.b)
	return "v-" + hex.EncodeToString(sum[:6])
}

// digestBufs recycles digest buffers: a translation is a few KiB of them.
var digestBufs = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

// digest collects the encoding in one buffer and hashes it once: many
// small writes into the hash cost more than the copying.
type digest struct {
	b []byte
}

func (d *digest) num(n int) {
	d.b = binary.BigEndian.AppendUint64(d.b, uint64(n))
}

func (d *digest) str(s string) {
	d.num(len(s))
	d.b = append(d.b, s...)
}

func (d *digest) flag(b bool) {
	if b {
		d.num(1)
	} else {
		d.num(0)
	}
}

// strMap writes a map in key order, leaving out the key skip. A nil map and
// an empty one differ (wadm treats config without properties as external).
func (d *digest) strMap(m map[string]string, skip string) {
	d.flag(m != nil)
	keys := make([]string, 0, len(m))
	for k := range m {
		if k != skip {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	d.num(len(keys))
	for _, k := range keys {
		d.str(k)
		d.str(m[k])
	}
}

func (d *digest) strs(list []string) {
	d.num(len(list))
	for _, s := range list {
		d.str(s)
	}
}

func (d *digest) configs(list []wadm.ConfigProperty) {
	d.num(len(list))
	for _, c := range list {
		d.str(c.Name)
		d.strMap(c.Properties, "")
	}
}

func (d *digest) secrets(list []wadm.SecretProperty) {
	d.num(len(list))
	for _, s := range list {
		d.str(s.Name)
		d.str(s.Properties.Policy)
		d.str(s.Properties.Key)
		d.str(s.Properties.Field)
		d.str(s.Properties.Version)
	}
}

func (d *digest) component(c *wadm.Component) {
	d.str(c.Name)
	d.str(c.Type)
	p := c.Properties
	d.str(p.Image)
	d.flag(p.Application != nil)
	if p.Application != nil {
		d.str(p.Application.Name)
		d.str(p.Application.Component)
	}
	d.str(p.ID)
	d.configs(p.Config)
	d.secrets(p.Secrets)
	d.num(len(c.Traits))
	for _, t := range c.Traits {
		d.trait(t)
	}
}

func (d *digest) trait(t wadm.Trait) {
	d.str(t.Type)
	switch {
	case t.Scaler != nil:
		d.num(1)
		d.num(t.Scaler.Instances)
		d.num(len(t.Scaler.Spread))
		for _, s := range t.Scaler.Spread {
			d.str(s.Name)
			d.strMap(s.Requirements, "")
			d.flag(s.Weight != nil)
			if s.Weight != nil {
				d.num(*s.Weight)
			}
		}
	case t.Link != nil:
		d.num(2)
		l := t.Link
		d.str(l.Namespace)
		d.str(l.Package)
		d.strs(l.Interfaces)
		d.str(l.Name)
		d.flag(l.Source != nil)
		if l.Source != nil {
			d.configs(l.Source.Config)
			d.secrets(l.Source.Secrets)
		}
		d.str(l.Target.Name)
		d.configs(l.Target.Config)
		d.secrets(l.Target.Secrets)
		d.flag(l.Target.BareName)
		d.configs(l.SourceConfig)
		d.configs(l.TargetConfig)
	default:
		// Custom traits are rare (translate writes none): their JSON is
		// deterministic (sorted map keys), so hash that.
		d.num(3)
		data, err := json.Marshal(t.Custom)
		if err != nil {
			data = []byte(err.Error())
		}
		d.str(string(data))
	}
}
