package observe

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode"
)

// The WIT in wit/observe.wit is the source of truth; these tests read it
// with a parser for the subset it uses and check Recorder and the Go types
// against it, so neither can change alone.

type witFunc struct {
	name   string
	params [][2]string // name, type
	result string      // "" for none
}

type witType struct {
	kind   string      // record, enum, variant
	fields [][2]string // record fields; enum and variant cases (type "" when none)
}

type witFile struct {
	pkg        string
	interfaces map[string][]witFunc
	types      map[string]witType
	worlds     map[string][]string // "import x" / "export x"
}

func tokenize(src string) []string {
	var toks []string
	for _, line := range strings.Split(src, "\n") {
		if i := strings.Index(line, "//"); i >= 0 {
			line = line[:i]
		}
		for i := 0; i < len(line); {
			c := rune(line[i])
			switch {
			case unicode.IsSpace(c):
				i++
			case strings.HasPrefix(line[i:], "->"):
				toks = append(toks, "->")
				i += 2
			case strings.ContainsRune("{}()<>,:;=", c):
				toks = append(toks, string(c))
				i++
			default:
				j := i
				for j < len(line) && !unicode.IsSpace(rune(line[j])) && !strings.ContainsRune("{}()<>,:;=", rune(line[j])) && !strings.HasPrefix(line[j:], "->") {
					j++
				}
				toks = append(toks, line[i:j])
				i = j
			}
		}
	}
	return toks
}

type parser struct {
	toks []string
	pos  int
	err  error
}

func (p *parser) next() string {
	if p.pos >= len(p.toks) {
		if p.err == nil {
			p.err = fmt.Errorf("unexpected end of file")
		}
		return ""
	}
	p.pos++
	return p.toks[p.pos-1]
}

func (p *parser) peek() string {
	if p.pos >= len(p.toks) {
		return ""
	}
	return p.toks[p.pos]
}

func (p *parser) expect(want string) {
	if got := p.next(); got != want && p.err == nil {
		p.err = fmt.Errorf("token %d: got %q, want %q", p.pos, got, want)
	}
}

// typ reads a type such as list<key-value> or result<_, error> as text.
func (p *parser) typ() string {
	t := p.next()
	if p.peek() != "<" {
		return t
	}
	p.next()
	args := []string{p.typ()}
	for p.peek() == "," {
		p.next()
		args = append(args, p.typ())
	}
	p.expect(">")
	return t + "<" + strings.Join(args, ", ") + ">"
}

func (p *parser) skipTo(tok string) {
	for p.err == nil && p.next() != tok {
	}
}

func parseWIT(src string) (*witFile, error) {
	p := &parser{toks: tokenize(src)}
	f := &witFile{interfaces: map[string][]witFunc{}, types: map[string]witType{}, worlds: map[string][]string{}}
	for p.err == nil && p.peek() != "" {
		switch kw := p.next(); kw {
		case "package":
			for p.err == nil && p.peek() != ";" {
				f.pkg += p.next()
			}
			p.expect(";")
		case "interface":
			name := p.next()
			p.expect("{")
			f.interfaces[name] = nil
			for p.err == nil && p.peek() != "}" {
				switch item := p.next(); item {
				case "use":
					p.skipTo(";")
				case "record", "enum", "variant":
					tname := p.next()
					t := witType{kind: item}
					p.expect("{")
					for p.err == nil && p.peek() != "}" {
						field := [2]string{p.next(), ""}
						switch {
						case item == "record":
							p.expect(":")
							field[1] = p.typ()
						case item == "variant" && p.peek() == "(":
							p.next()
							field[1] = p.typ()
							p.expect(")")
						}
						t.fields = append(t.fields, field)
						if p.peek() == "," {
							p.next()
						}
					}
					p.expect("}")
					f.types[tname] = t
				default:
					fn := witFunc{name: item}
					p.expect(":")
					p.expect("func")
					p.expect("(")
					for p.err == nil && p.peek() != ")" {
						pname := p.next()
						p.expect(":")
						fn.params = append(fn.params, [2]string{pname, p.typ()})
						if p.peek() == "," {
							p.next()
						}
					}
					p.expect(")")
					if p.peek() == "->" {
						p.next()
						fn.result = p.typ()
					}
					p.expect(";")
					f.interfaces[name] = append(f.interfaces[name], fn)
				}
			}
			p.expect("}")
		case "world":
			name := p.next()
			p.expect("{")
			for p.err == nil && p.peek() != "}" {
				dir := p.next()
				f.worlds[name] = append(f.worlds[name], dir+" "+p.next())
				p.expect(";")
			}
			p.expect("}")
		default:
			return nil, fmt.Errorf("token %d: unexpected %q", p.pos, kw)
		}
	}
	return f, p.err
}

func readObserveWIT(t *testing.T) *witFile {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "..", "wit", "observe.wit"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := parseWIT(string(src))
	if err != nil {
		t.Fatalf("wit/observe.wit: %v", err)
	}
	return f
}

// goName is the Go spelling of a WIT name: counter-add is CounterAdd,
// parent-span-id is ParentSpanID.
func goName(wit string) string {
	var b strings.Builder
	for _, part := range strings.Split(wit, "-") {
		if part == "id" {
			b.WriteString("ID")
			continue
		}
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

// goTypes are the Go types of the WIT's named types.
var goTypes = map[string]reflect.Type{
	"key-value":     reflect.TypeFor[KeyValue](),
	"trace-context": reflect.TypeFor[TraceContext](),
	"span-kind":     reflect.TypeFor[SpanKind](),
	"span-status":   reflect.TypeFor[SpanStatus](),
	"span":          reflect.TypeFor[Span](),
	"level":         reflect.TypeFor[Level](),
	"error":         reflect.TypeFor[*Error](),
}

// variantCases are the Go enums naming each WIT variant's cases.
var variantCases = map[string]reflect.Type{
	"error":       reflect.TypeFor[ErrorKind](),
	"span-status": reflect.TypeFor[StatusCode](),
}

func goTypeOf(t *testing.T, wit string) reflect.Type {
	t.Helper()
	switch {
	case wit == "string":
		return reflect.TypeFor[string]()
	case wit == "u64":
		return reflect.TypeFor[uint64]()
	case wit == "f64":
		return reflect.TypeFor[float64]()
	case strings.HasPrefix(wit, "list<"):
		return reflect.SliceOf(goTypeOf(t, strings.TrimSuffix(strings.TrimPrefix(wit, "list<"), ">")))
	case strings.HasPrefix(wit, "option<"):
		return reflect.PointerTo(goTypeOf(t, strings.TrimSuffix(strings.TrimPrefix(wit, "option<"), ">")))
	}
	if g, ok := goTypes[wit]; ok {
		return g
	}
	t.Fatalf("WIT type %q has no Go type in goTypes; add it there and in package observe", wit)
	return nil
}

// goResults is a WIT result as Go returns it: result<T, error> is (T,
// error), option<T> is (T, bool).
func goResults(t *testing.T, wit string) []reflect.Type {
	errType := reflect.TypeFor[error]()
	switch {
	case wit == "":
		return nil
	case wit == "result<_, error>":
		return []reflect.Type{errType}
	case strings.HasPrefix(wit, "result<") && strings.HasSuffix(wit, ", error>"):
		return []reflect.Type{goTypeOf(t, strings.TrimSuffix(strings.TrimPrefix(wit, "result<"), ", error>")), errType}
	case strings.HasPrefix(wit, "option<"):
		return []reflect.Type{goTypeOf(t, strings.TrimSuffix(strings.TrimPrefix(wit, "option<"), ">")), reflect.TypeFor[bool]()}
	}
	t.Fatalf("WIT result %q: no Go mapping", wit)
	return nil
}

func TestRecorderMatchesWIT(t *testing.T) {
	t.Parallel()
	f := readObserveWIT(t)
	if f.pkg != "wasmcanvas:observe@0.2.0" {
		t.Errorf("package %q; a version change must be made here too (and in the bridge and translate)", f.pkg)
	}
	rec := reflect.TypeFor[Recorder]()
	seen := map[string]bool{}
	for _, iface := range []string{"metrics", "tracing", "logging"} {
		fns, ok := f.interfaces[iface]
		if !ok || len(fns) == 0 {
			t.Errorf("interface %s: missing or without functions", iface)
		}
		for _, fn := range fns {
			m, ok := rec.MethodByName(goName(fn.name))
			if !ok {
				t.Errorf("%s.%s: Recorder has no method %s", iface, fn.name, goName(fn.name))
				continue
			}
			seen[m.Name] = true
			want := []reflect.Type{reflect.TypeFor[context.Context](), reflect.TypeFor[Source]()}
			for _, p := range fn.params {
				want = append(want, goTypeOf(t, p[1]))
			}
			var got []reflect.Type
			for i := range m.Type.NumIn() {
				got = append(got, m.Type.In(i))
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s.%s: Recorder.%s takes %v, the WIT says %v", iface, fn.name, m.Name, got, want)
			}
			got = nil
			for i := range m.Type.NumOut() {
				got = append(got, m.Type.Out(i))
			}
			if want := goResults(t, fn.result); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s.%s: Recorder.%s returns %v, the WIT says %v", iface, fn.name, m.Name, got, want)
			}
		}
	}
	for i := range rec.NumMethod() {
		if name := rec.Method(i).Name; !seen[name] {
			t.Errorf("Recorder.%s is in no WIT interface", name)
		}
	}
	if got := fmt.Sprint(f.worlds["observed"]); got != "[import metrics import tracing import logging]" {
		t.Errorf("world observed = %s", got)
	}
}

func TestTypesMatchWIT(t *testing.T) {
	t.Parallel()
	f := readObserveWIT(t)
	for name, wt := range f.types {
		switch wt.kind {
		case "record":
			g := goTypeOf(t, name)
			if g.NumField() != len(wt.fields) {
				t.Errorf("record %s has %d fields, Go %s %d", name, len(wt.fields), g, g.NumField())
				continue
			}
			for i, fld := range wt.fields {
				gf := g.Field(i)
				if gf.Name != goName(fld[0]) || gf.Type != goTypeOf(t, fld[1]) {
					t.Errorf("record %s field %d: WIT %s: %s, Go %s %s", name, i, fld[0], fld[1], gf.Name, gf.Type)
				}
			}
		case "enum", "variant":
			g := goTypeOf(t, name)
			if wt.kind == "variant" {
				g = variantCases[name]
			}
			for i := range len(wt.fields) + 1 {
				v := reflect.New(g).Elem()
				v.SetInt(int64(i))
				got := v.Interface().(fmt.Stringer).String()
				if i < len(wt.fields) && got != wt.fields[i][0] {
					t.Errorf("%s %s case %d: WIT %q, Go %s(%d) is %q", wt.kind, name, i, wt.fields[i][0], g, i, got)
				}
				if i == len(wt.fields) && !strings.HasPrefix(got, "unknown") {
					t.Errorf("%s %s: Go %s has a case %q past the WIT's", wt.kind, name, g, got)
				}
			}
		}
	}
	if len(f.types) != len(goTypes) {
		t.Errorf("the WIT has %d named types, goTypes %d", len(f.types), len(goTypes))
	}
}
