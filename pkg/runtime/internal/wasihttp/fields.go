package wasihttp

import (
	"net/http"
	"strings"

	"github.com/wasmcanvas/wasmcanvas/pkg/runtime/internal/cm"
	"github.com/wasmcanvas/wasmcanvas/pkg/runtime/internal/wasi"
)

type field struct {
	name  string
	value []byte
}

// fields is wasi:http fields: ordered entries, names compared without case.
type fields struct {
	entries   []field
	immutable bool
}

// forbidden are the fields the host manages itself (hop-by-hop, framing
// and authority): the set wasmtime-wasi-http forbids by default. A guest
// setting one gets header-error.forbidden, and fromHeader drops them so a
// guest that clones incoming fields into its response cannot pass them on.
var forbidden = map[string]bool{
	"connection": true, "keep-alive": true, "proxy-authenticate": true,
	"proxy-authorization": true, "proxy-connection": true,
	"transfer-encoding": true, "upgrade": true, "host": true, "http2-settings": true,
}

// entrySize is what an entry counts against wasi.MaxHeldBytes: its bytes
// and 32 more, as HTTP/2 counts a header field, so a million empty values
// count too.
func entrySize(name string, value []byte) int { return len(name) + len(value) + 32 }

// hold counts entries the guest adds to a fields (wasi.Ctx.Hold).
func hold(c *wasi.Ctx, entries []field) error {
	n := 0
	for _, e := range entries {
		n += entrySize(e.name, e.value)
	}
	return c.Hold("wasi:http fields", n)
}

func headerError(c string) cm.Value { return cm.Result{Err: true, Value: cm.Variant{Case: c}} }

func validName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			return false
		}
	}
	return true
}

func validValue(v []byte) bool {
	for _, c := range v {
		if c == '\r' || c == '\n' || c == 0 {
			return false
		}
	}
	return true
}

// check returns the header-error for a change, or nil.
func (f *fields) check(name string, values ...[]byte) cm.Value {
	if f.immutable {
		return headerError("immutable")
	}
	if !validName(name) {
		return headerError("invalid-syntax")
	}
	if forbidden[strings.ToLower(name)] {
		return headerError("forbidden")
	}
	for _, v := range values {
		if !validValue(v) {
			return headerError("invalid-syntax")
		}
	}
	return nil
}

func (f *fields) get(name string) [][]byte {
	var out [][]byte
	for _, e := range f.entries {
		if strings.EqualFold(e.name, name) {
			out = append(out, e.value)
		}
	}
	return out
}

func (f *fields) remove(name string) {
	kept := f.entries[:0]
	for _, e := range f.entries {
		if !strings.EqualFold(e.name, name) {
			kept = append(kept, e)
		}
	}
	f.entries = kept
}

func (f *fields) clone() *fields {
	return &fields{entries: append([]field(nil), f.entries...)}
}

func fromHeader(h http.Header) *fields {
	f := &fields{}
	for name, vs := range h {
		if forbidden[strings.ToLower(name)] {
			continue
		}
		for _, v := range vs {
			f.entries = append(f.entries, field{name: strings.ToLower(name), value: []byte(v)})
		}
	}
	return f
}

func (f *fields) copyTo(h http.Header, prefix string) {
	for _, e := range f.entries {
		h.Add(prefix+e.name, string(e.value))
	}
}

func bytesList(vs [][]byte) cm.Value {
	out := make(cm.List, len(vs))
	for i, v := range vs {
		out[i] = bytesValue(v)
	}
	return out
}

func bytesValue(b []byte) cm.Value {
	if len(b) == 0 {
		return cm.List(nil)
	}
	return b
}

func defineFields(li *cm.LinkerInstance) error {
	get := func(c *wasi.Ctx, v cm.Value) (*fields, error) { return wasi.Get[*fields](c, v) }
	return wasi.All(
		li.Resource("fields", TypeFields, wasi.Drop),
		wasi.Fn(li, "[constructor]fields", func(c *wasi.Ctx, a []cm.Value) (cm.Value, error) {
			return c.Own(TypeFields, &fields{}), nil
		}),
		wasi.Fn(li, "[static]fields.from-list", func(c *wasi.Ctx, a []cm.Value) (cm.Value, error) {
			f := &fields{}
			list, _ := a[0].(cm.List)
			for _, item := range list {
				t := item.(cm.Tuple)
				name := t[0].(string)
				v, err := cm.Bytes(t[1])
				if err != nil {
					return nil, err
				}
				if e := f.check(name, v); e != nil {
					return e, nil
				}
				f.entries = append(f.entries, field{name: name, value: v})
			}
			if err := hold(c, f.entries); err != nil {
				return nil, err
			}
			return cm.Result{Value: c.Own(TypeFields, f)}, nil
		}),
		wasi.Fn(li, "[method]fields.get", func(c *wasi.Ctx, a []cm.Value) (cm.Value, error) {
			f, err := get(c, a[0])
			if err != nil {
				return nil, err
			}
			return bytesList(f.get(a[1].(string))), nil
		}),
		wasi.Fn(li, "[method]fields.has", func(c *wasi.Ctx, a []cm.Value) (cm.Value, error) {
			f, err := get(c, a[0])
			if err != nil {
				return nil, err
			}
			return len(f.get(a[1].(string))) > 0, nil
		}),
		wasi.Fn(li, "[method]fields.set", func(c *wasi.Ctx, a []cm.Value) (cm.Value, error) {
			f, err := get(c, a[0])
			if err != nil {
				return nil, err
			}
			name := a[1].(string)
			list, _ := a[2].(cm.List)
			values := make([][]byte, len(list))
			for i, v := range list {
				if values[i], err = cm.Bytes(v); err != nil {
					return nil, err
				}
			}
			if e := f.check(name, values...); e != nil {
				return e, nil
			}
			added := make([]field, len(values))
			for i, v := range values {
				added[i] = field{name: name, value: v}
			}
			if err := hold(c, added); err != nil {
				return nil, err
			}
			f.remove(name)
			f.entries = append(f.entries, added...)
			return cm.Result{}, nil
		}),
		wasi.Fn(li, "[method]fields.delete", func(c *wasi.Ctx, a []cm.Value) (cm.Value, error) {
			f, err := get(c, a[0])
			if err != nil {
				return nil, err
			}
			if e := f.check(a[1].(string)); e != nil {
				return e, nil
			}
			f.remove(a[1].(string))
			return cm.Result{}, nil
		}),
		wasi.Fn(li, "[method]fields.append", func(c *wasi.Ctx, a []cm.Value) (cm.Value, error) {
			f, err := get(c, a[0])
			if err != nil {
				return nil, err
			}
			v, err := cm.Bytes(a[2])
			if err != nil {
				return nil, err
			}
			if e := f.check(a[1].(string), v); e != nil {
				return e, nil
			}
			added := field{name: a[1].(string), value: v}
			if err := hold(c, []field{added}); err != nil {
				return nil, err
			}
			f.entries = append(f.entries, added)
			return cm.Result{}, nil
		}),
		wasi.Fn(li, "[method]fields.entries", func(c *wasi.Ctx, a []cm.Value) (cm.Value, error) {
			f, err := get(c, a[0])
			if err != nil {
				return nil, err
			}
			out := make(cm.List, len(f.entries))
			for i, e := range f.entries {
				out[i] = cm.Tuple{e.name, bytesValue(e.value)}
			}
			return out, nil
		}),
		wasi.Fn(li, "[method]fields.clone", func(c *wasi.Ctx, a []cm.Value) (cm.Value, error) {
			f, err := get(c, a[0])
			if err != nil {
				return nil, err
			}
			if err := hold(c, f.entries); err != nil {
				return nil, err
			}
			return c.Own(TypeFields, f.clone()), nil
		}),
	)
}
