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
		if _, err := reexporter(g.streamsAPI); err != nil {
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
		if _, err := reexporter(tc.api); !errors.Is(err, ErrNotApplicable) || !strings.Contains(err.Error(), tc.why) {
			t.Errorf("%s: %v, want %q", name, err, tc.why)
		}
	}
}

func TestLatin1Strings(t *testing.T) {
	bin := make([]byte, 1<<16)
	for i := range bin {
		bin[i] = byte(i*7 + i>>8)
	}
	for name, data := range map[string][]byte{"binary": bin, "text": []byte(strings.Repeat(`{"id":"42","name":"Fibre 1G"},`, 2000)), "empty": nil} {
		s := Latin1String(data)
		if n := len([]rune(s)); n != len(data) {
			t.Fatalf("%s: %d chars for %d bytes", name, n, len(data))
		}
		for i, r := range []rune(s) {
			if r != rune(data[i]) {
				t.Fatalf("%s: char %d is %U, want %U", name, i, r, data[i])
			}
		}
		back, err := Latin1Bytes(s)
		if err != nil || string(back) != string(data) {
			t.Fatalf("%s: round trip: %v", name, err)
		}
	}
	for _, bad := range []string{"ok ☃", "\xc3", "\xc2\x41", "\xff"} {
		if _, err := Latin1Bytes(bad); err == nil {
			t.Errorf("%q was taken for latin1", bad)
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
		if _, err := reexporter(g.streamsAPI); err == nil {
			g.wrap(wasm, nil, nil, nil)
		}
	})
}
