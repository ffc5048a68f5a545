package compose

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// The tests here are pure (no wasmtime, so the fuzzer runs fast); the
// runtime's tests encode, load and serve wrapped components.

// artefacts are real components: the hand-written echo and, when built,
// the TMF620 example made by componentize-js.
func artefacts(t testing.TB) map[string][]byte {
	out := map[string][]byte{}
	for name, path := range map[string]string{
		"echo":           "../../testdata/echo-http.wasm",
		"productcatalog": "../../../../examples/productcatalog/build/productcatalog.wasm",
	} {
		b, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) && name == "productcatalog" {
			continue // `make examples` builds it
		}
		if err != nil {
			t.Fatal(err)
		}
		out[name] = b
	}
	return out
}

func TestReadRealComponents(t *testing.T) {
	for name, wasm := range artefacts(t) {
		g, err := read(wasm)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if im := g.imports[g.streams]; !strings.HasPrefix(im.name, "wasi:io/streams@0.2.") || im.sort != sortInstance {
			t.Fatalf("%s: streams import %+v", name, im)
		}
		if len(g.exports) != 1 || !strings.HasPrefix(g.exports[0].name, "wasi:http/incoming-handler@0.2.") || g.exports[0].sort != sortInstance {
			t.Fatalf("%s: exports %+v", name, g.exports)
		}
		if !g.hasType("input-stream") || !g.hasType("stream-error") || g.hasType("[method]input-stream.blocking-read") {
			t.Fatalf("%s: streams API %+v", name, g.streamsAPI)
		}
		if _, err := reexporter(g.streamsAPI, false); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
}

func TestNotApplicable(t *testing.T) {
	echo := artefacts(t)["echo"]
	for name, tc := range map[string]struct {
		wasm []byte
		why  string
	}{
		"text":             {[]byte(`(component)`), "not a component binary"},
		"core module":      {[]byte("\x00asm\x01\x00\x00\x00"), "not a component binary"},
		"empty":            {nil, "not a component binary"},
		"truncated":        {echo[:len(echo)/2], "unexpected end"},
		"preamble only":    {echo[:8], "no module or component after the imports"},
		"section too long": {append(append([]byte{}, echo[:8]...), 7, 0xff, 0xff, 0xff, 0x0f), "unexpected end"},
		"huge vector":      {append(append([]byte{}, echo[:8]...), 7, 5, 0xff, 0xff, 0xff, 0xff, 0x0f), "vector of 4294967295 elements in 0 bytes"},
		"deep types":       {append(append(append([]byte{}, echo[:8]...), 7, 201, 1, 1), deep(100)...), "nested deeper than 64"},
		"no streams":       {append(append([]byte{}, echo[:8]...), 1, 8, 0, 'a', 's', 'm', 1, 0, 0, 0), "no wasi:io/streams@0.2 import"},
	} {
		_, err := read(tc.wasm)
		if !errors.Is(err, ErrNotApplicable) || !strings.Contains(err.Error(), tc.why) {
			t.Errorf("%s: %v, want not applicable: %s", name, err, tc.why)
		}
	}
}

// deep is n instance types, each the only type of the one before, then
// padding: a type section body of 2n+... bytes.
func deep(n int) []byte {
	var b []byte
	for range n {
		b = append(b, 0x42, 0x01, 0x01)
	}
	return b
}

func TestReexporterRefusesWhatWASIDoesNotHave(t *testing.T) {
	base := []export{{"error", sortType}, {"input-stream", sortType}, {"output-stream", sortType}, {"stream-error", sortType}}
	for name, tc := range map[string]struct {
		api []export
		why string
	}{
		"unknown func":       {append(base[:4:4], export{"[method]input-stream.peek", sortFunc}), "is not one of WASI 0.2's"},
		"unknown type":       {append(base[:4:4], export{"fd", sortType}), "is not one of WASI 0.2's"},
		"no error type":      {base[1:], "exports no type error"},
		"subscribe, no poll": {append(base[:4:4], export{"[method]input-stream.subscribe", sortFunc}), "exports no type pollable"},
	} {
		if _, err := reexporter(tc.api, false); !errors.Is(err, ErrNotApplicable) || !strings.Contains(err.Error(), tc.why) {
			t.Errorf("%s: %v, want %q", name, err, tc.why)
		}
	}
}

// FuzzRead feeds the decoder mutations of a real component: it refuses or
// reads them, and never panics.
func FuzzRead(f *testing.F) {
	echo := artefacts(f)["echo"]
	f.Add(echo)
	f.Add(echo[:5000])
	f.Fuzz(func(t *testing.T, wasm []byte) {
		g, err := read(wasm)
		if err != nil {
			if !errors.Is(err, ErrNotApplicable) {
				t.Fatalf("error not marked: %v", err)
			}
			return
		}
		if g.prefix > len(wasm) || g.streams < 0 || g.streams >= len(g.imports) {
			t.Fatalf("read inconsistent: prefix %d of %d, streams %d of %d", g.prefix, len(wasm), g.streams, len(g.imports))
		}
		if _, err := reexporter(g.streamsAPI, false); err == nil {
			g.wrap(wasm, wasm, false, nil, nil, nil)
		}
		if ps, err := g.retype(wasm); err == nil {
			out, err := apply(wasm, ps)
			if err != nil {
				t.Fatalf("retype's patches do not apply: %v", err)
			}
			g.wrap(wasm, out, true, nil, nil, nil)
		} else if !errors.Is(err, ErrNotApplicable) {
			t.Fatalf("error not marked: %v", err)
		}
	})
}

// TestRetypeRealComponents retypes the echo and the TMF620 example: one
// type patch (read's result) and one per lower of an adapted read; the result reads again, and its streams type no
// longer has the list<u8> (a second retype refuses it).
func TestRetypeRealComponents(t *testing.T) {
	for name, wasm := range artefacts(t) {
		g, err := read(wasm)
		if err != nil {
			t.Fatal(err)
		}
		ps, err := g.retype(wasm)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		types := 0
		for _, p := range ps {
			if string(p.with) == string(stringType) {
				types++
			} else if p.with[len(p.with)-1] != 0x02 {
				t.Fatalf("%s: patch %+v is neither a type nor latin1+utf16", name, p)
			}
		}
		if types != 1 || len(ps) < 2 {
			t.Fatalf("%s: %d type patches of %d, want 1 and a lower for each read: %+v", name, types, len(ps), ps)
		}
		out, err := apply(wasm, ps)
		if err != nil {
			t.Fatal(err)
		}
		g2, err := read(out)
		if err != nil {
			t.Fatalf("%s: retyped: %v", name, err)
		}
		if _, err := g2.retypeStreams(out); !errors.Is(err, ErrNotApplicable) || !strings.Contains(err.Error(), "does not") {
			t.Fatalf("%s: the retyped streams type retypes again: %v", name, err)
		}
		if same, err := apply(wasm, nil); err != nil || string(same) != string(wasm) {
			t.Fatalf("%s: no patches changed the bytes (%v)", name, err)
		}
	}
}

func TestApplyPatches(t *testing.T) {
	echo := artefacts(t)["echo"]
	if _, err := apply(echo, []patch{{off: 100, n: 4}, {off: 102, n: 1}}); err == nil || !strings.Contains(err.Error(), "overlap") {
		t.Errorf("overlapping patches: %v", err)
	}
	if _, err := apply(echo, []patch{{off: len(echo) + 5, n: 1}}); err == nil || !strings.Contains(err.Error(), "past the last section") {
		t.Errorf("patch past the end: %v", err)
	}
	if _, err := apply(echo, []patch{{off: 9, n: 1}}); err == nil || !strings.Contains(err.Error(), "crosses a section") {
		t.Errorf("patch over a section's size: %v", err)
	}
	// A patch that grows a section re-encodes its size.
	out, err := apply(echo, []patch{{off: len(echo) - 1, n: 1, with: []byte{echo[len(echo)-1], 0, 0}}})
	if err != nil || len(out) != len(echo)+2 {
		t.Fatalf("%d bytes, %v", len(out), err)
	}
	if _, err := read(out[:len(out)-2]); err == nil {
		t.Fatal("the size was not re-encoded: the section still ends where it did")
	}
}

func TestLowerOptionsLatin1(t *testing.T) {
	for name, tc := range map[string]struct {
		opts []byte // the vector, from its length
		want []byte
	}{
		"utf8 given":   {[]byte{3, 0x03, 0x00, 0x04, 0x01, 0x00}, []byte{3, 0x03, 0x00, 0x04, 0x01, 0x02}},
		"no encoding":  {[]byte{2, 0x03, 0x00, 0x04, 0x01}, []byte{3, 0x02, 0x03, 0x00, 0x04, 0x01}},
		"already set":  {[]byte{1, 0x02}, []byte{1, 0x02}},
		"memory alone": {[]byte{1, 0x03, 0x05}, []byte{2, 0x02, 0x03, 0x05}},
	} {
		r := &reader{b: tc.opts}
		o := r.canonOpts()
		if r.err != nil || r.off != len(tc.opts) {
			t.Fatalf("%s: %v, %d of %d bytes", name, r.err, r.off, len(tc.opts))
		}
		p := o.latin1()
		got := append(append(append([]byte(nil), tc.opts[:p.off]...), p.with...), tc.opts[p.off+p.n:]...)
		if string(got) != string(tc.want) {
			t.Errorf("%s: % x, want % x", name, got, tc.want)
		}
	}
	r := &reader{b: []byte{1, 0x09}}
	if r.canonOpts(); r.err == nil {
		t.Error("an unknown option was read")
	}
}
