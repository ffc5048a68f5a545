package observerpc

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/wasmcanvas/wasmcanvas/pkg/wrpc/wire"
)

// The WIT is the source of truth: these tests read wit/observe.wit and
// check that every function of it is served, with params and results
// encoded exactly as its types say, so a function added to the WIT without
// a handler, or a handler that reads a type differently, fails here.

type witFunc struct {
	iface, name    string
	params, result []string // types; result empty for none
}

// witTypes are the WIT's named types.
type witTypes map[string]witType

// witType is "record", "enum" or "variant" and the fields or cases, each
// "name" or "name:type".
type witType struct {
	kind  string
	items []string
}

func (ts witTypes) get(t *testing.T, ty string) witType {
	t.Helper()
	def, ok := ts[ty]
	if !ok {
		t.Fatalf("WIT type %q: unknown to this test", ty)
	}
	return def
}

var (
	rePackage   = regexp.MustCompile(`^package\s+(\S+);`)
	reInterface = regexp.MustCompile(`^interface\s+([a-z][a-z0-9-]*)\s*\{`)
	reType      = regexp.MustCompile(`^(record|enum|variant)\s+([a-z][a-z0-9-]*)\s*\{`)
	reFunc      = regexp.MustCompile(`^([a-z][a-z0-9-]*):\s*func\((.*)\)\s*(?:->\s*(.+))?;$`)
	reItem      = regexp.MustCompile(`^([a-z][a-z0-9-]*)\s*(?::\s*(.+?)|\((.+)\))?,?$`)
)

// parseWIT reads the subset of WIT the file uses: one declaration a line,
// a type's fields or cases one a line.
func parseWIT(t *testing.T) (pkg string, fns []witFunc, types witTypes) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "..", "..", "wit", "observe.wit"))
	if err != nil {
		t.Fatal(err)
	}
	types = witTypes{}
	var iface, typ string
	for _, line := range strings.Split(string(src), "\n") {
		line, _, _ = strings.Cut(line, "//")
		line = strings.TrimSpace(line)
		if m := rePackage.FindStringSubmatch(line); m != nil {
			pkg = m[1]
		} else if m := reInterface.FindStringSubmatch(line); m != nil {
			iface = m[1]
		} else if m := reType.FindStringSubmatch(line); m != nil {
			typ = m[2]
			types[typ] = witType{kind: m[1]}
		} else if line == "}" {
			if typ == "" {
				iface = ""
			}
			typ = ""
		} else if m := reItem.FindStringSubmatch(line); typ != "" && m != nil {
			e := types[typ]
			e.items = append(e.items, strings.TrimSuffix(m[1]+":"+m[2]+m[3], ":"))
			types[typ] = e
		} else if m := reFunc.FindStringSubmatch(line); m != nil && iface != "" {
			f := witFunc{iface: iface, name: m[1]}
			for _, p := range splitTop(m[2]) {
				_, ty, _ := strings.Cut(p, ":")
				f.params = append(f.params, strings.TrimSpace(ty))
			}
			if m[3] != "" {
				f.result = []string{m[3]}
			}
			fns = append(fns, f)
		}
	}
	return pkg, fns, types
}

// splitTop splits s at the commas outside <>.
func splitTop(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, c := range s {
		switch c {
		case '<':
			depth++
		case '>':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	if rest := strings.TrimSpace(s[start:]); rest != "" {
		out = append(out, rest)
	}
	return out
}

func TestEveryWITFunctionIsServed(t *testing.T) {
	t.Parallel()
	pkg, fns, _ := parseWIT(t)
	if pkg != Package {
		t.Errorf("wit/observe.wit is %s, the bridge serves %s: change Package and Instance together with the WIT", pkg, Package)
	}
	if len(fns) < 8 {
		t.Fatalf("read %d functions from wit/observe.wit; the parser lost some", len(fns))
	}
	var wit, served []string
	for _, f := range fns {
		fallible := len(f.result) == 1 && strings.HasPrefix(f.result[0], "result<") && strings.HasSuffix(f.result[0], ", error>")
		wit = append(wit, fmt.Sprintf("%s.%s fallible=%v", f.iface, f.name, fallible))
	}
	for _, f := range functions {
		served = append(served, fmt.Sprintf("%s.%s fallible=%v", f.iface, f.name, f.fallible))
	}
	if !slices.Equal(wit, served) {
		t.Errorf("the WIT's functions and the served ones differ:\nWIT    %q\nserved %q", wit, served)
	}
}

// Each WIT function, called over NATS with params encoded from its WIT
// types, decodes them exactly and answers results that decode exactly as
// its WIT result type.
func TestParamsAndResultsFollowTheWIT(t *testing.T) {
	t.Parallel()
	_, fns, types := parseWIT(t)
	f := newFixture(t)
	h := (&Client{SourceID: shop}).header()
	for _, fn := range fns {
		t.Run(fn.iface+"."+fn.name, func(t *testing.T) {
			var p wire.Encoder
			for _, ty := range fn.params {
				encodeWIT(t, &p, types, strings.ReplaceAll(fn.name, "-", "_"), ty)
			}
			res, err := f.rpc.Invoke(context.Background(), Instance(fn.iface), fn.name, p.Bytes(), h)
			if err != nil {
				t.Fatalf("params %v: %v", fn.params, err)
			}
			d := wire.NewDecoder(res)
			for _, ty := range fn.result {
				decodeWIT(t, d, types, ty)
			}
			if err := d.Finish(); err != nil {
				t.Fatalf("results % x are not a %v: %v", res, fn.result, err)
			}
		})
	}
}

// encodeWIT writes a sample value of WIT type ty that the Recorder
// accepts (so a call answers the ok side): strings are names starting with
// name, options none, enums and variants their last case.
func encodeWIT(t *testing.T, e *wire.Encoder, types witTypes, name, ty string) {
	t.Helper()
	switch {
	case ty == "string":
		e.Str(fmt.Sprintf("%s_%d", name, e.Len()))
	case ty == "u64":
		e.U64(1)
	case ty == "f64":
		e.F64(0.5)
	case strings.HasPrefix(ty, "list<"):
		e.ListLen(2)
		encodeWIT(t, e, types, name, inner(ty))
		encodeWIT(t, e, types, name, inner(ty))
	case strings.HasPrefix(ty, "option<"):
		e.Option(false) // a some would need a valid trace context: see TestLinkedCalls
	case ty == "trace-context":
		e.Str(caller.Traceparent)
		e.Str("")
	default:
		switch def := types.get(t, ty); def.kind {
		case "record":
			for _, it := range def.items {
				_, fty, _ := strings.Cut(it, ":")
				encodeWIT(t, e, types, name, fty)
			}
		case "enum":
			e.Case(uint32(len(def.items) - 1))
		case "variant":
			last := def.items[len(def.items)-1]
			e.Case(uint32(len(def.items) - 1))
			if _, pty, ok := strings.Cut(last, ":"); ok {
				encodeWIT(t, e, types, name, pty)
			}
		}
	}
}

// decodeWIT reads a value of WIT type ty (result<_, E> included); the
// error side of a result fails the test.
func decodeWIT(t *testing.T, d *wire.Decoder, types witTypes, ty string) {
	t.Helper()
	switch {
	case ty == "string":
		d.Str()
	case ty == "u64":
		d.U64()
	case ty == "f64":
		d.F64()
	case strings.HasPrefix(ty, "list<"):
		for range d.ListLen() {
			decodeWIT(t, d, types, inner(ty))
		}
	case strings.HasPrefix(ty, "option<"):
		if d.Option() {
			decodeWIT(t, d, types, inner(ty))
		}
	case strings.HasPrefix(ty, "result<"):
		sides := splitTop(inner(ty))
		side := sides[1]
		if d.Result() {
			side = sides[0]
		} else if d.Err() == nil {
			t.Errorf("the call answered the error side of %s", ty)
		}
		if side != "_" {
			decodeWIT(t, d, types, side)
		}
	default:
		switch def := types.get(t, ty); def.kind {
		case "record":
			for _, it := range def.items {
				_, fty, _ := strings.Cut(it, ":")
				decodeWIT(t, d, types, fty)
			}
		case "enum":
			d.Case(uint32(len(def.items)))
		case "variant":
			c := d.Case(uint32(len(def.items)))
			if d.Err() == nil {
				if _, pty, ok := strings.Cut(def.items[c], ":"); ok {
					decodeWIT(t, d, types, pty)
				}
			}
		}
	}
}

func inner(ty string) string {
	_, in, _ := strings.Cut(ty, "<")
	return strings.TrimSuffix(in, ">")
}
