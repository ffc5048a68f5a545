package identityrpc

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/wasmcanvas/wasmcanvas/internal/tokentest"
	"github.com/wasmcanvas/wasmcanvas/pkg/wrpc"
	"github.com/wasmcanvas/wasmcanvas/pkg/wrpc/wire"
)

// wit/identity.wit is the source of truth: these tests read it and check
// that each of its functions is served, with the params and results
// encoded as its types say, so a function added to the WIT without a
// handler, or a handler that reads a type differently, fails here.

// identityWIT is what the tests read of wit/identity.wit: the package,
// the functions of interface tokens (name, param types, result type) and
// the record and variant types (field or case types, in order; a case
// without payload is "").
type identityWIT struct {
	pkg   string
	funcs [][3]string
	types map[string][]string
}

var (
	witPackage = regexp.MustCompile(`(?m)^package\s+(\S+);`)
	witFunc    = regexp.MustCompile(`(?m)^\s*([a-z][a-z0-9-]*):\s*func\(([^)]*)\)\s*->\s*(.+);$`)
	witType    = regexp.MustCompile(`(?s)(?:record|variant)\s+([a-z][a-z0-9-]*)\s*\{(.*?)\}`)
	witMember  = regexp.MustCompile(`(?m)^\s*[a-z][a-z0-9-]*(?::\s*([^,\n]+)|\(([^)]+)\))?,`)
)

func readIdentityWIT(t *testing.T) identityWIT {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "wit", "identity.wit"))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for l := range strings.Lines(string(b)) {
		code, _, _ := strings.Cut(l, "//")
		lines = append(lines, strings.TrimRight(code, " \t\n"))
	}
	src := strings.Join(lines, "\n")
	w := identityWIT{types: map[string][]string{}}
	if m := witPackage.FindStringSubmatch(src); m != nil {
		w.pkg = m[1]
	}
	for _, m := range witType.FindAllStringSubmatch(src, -1) {
		for _, mm := range witMember.FindAllStringSubmatch(m[2], -1) {
			w.types[m[1]] = append(w.types[m[1]], strings.TrimSpace(mm[1]+mm[2]))
		}
	}
	for _, m := range witFunc.FindAllStringSubmatch(src, -1) {
		_, ty, _ := strings.Cut(m[2], ":")
		w.funcs = append(w.funcs, [3]string{m[1], strings.TrimSpace(ty), strings.TrimSpace(m[3])})
	}
	if len(w.funcs) < 2 || len(w.types["claims"]) != 5 || len(w.types["error"]) != 2 {
		t.Fatalf("read %q from wit/identity.wit; the parser lost something", w)
	}
	return w
}

func TestEveryWITFunctionIsServed(t *testing.T) {
	t.Parallel()
	w := readIdentityWIT(t)
	if w.pkg != Package {
		t.Errorf("wit/identity.wit is %s, the bridge serves %s: change Package and Instance with the WIT", w.pkg, Package)
	}
	var wit, served []string
	for _, f := range w.funcs {
		wit = append(wit, f[0])
	}
	for _, f := range functions {
		served = append(served, f.name)
	}
	if !slices.Equal(wit, served) {
		t.Errorf("the WIT's functions %q, the served ones %q", wit, served)
	}
	if got := w.types["error"]; !slices.Equal(got, []string{"string", "string"}) || len(errorCases) != len(got) {
		t.Errorf("the WIT's error cases carry %q, the bridge encodes %d cases of string", got, len(errorCases))
	}
}

// TestParamsAndResultsFollowTheWIT calls each WIT function over NATS with
// params encoded from its WIT types and decodes the answer exactly as its
// WIT result type: the ok side for good arguments, the error side for
// bad ones.
func TestParamsAndResultsFollowTheWIT(t *testing.T) {
	w := readIdentityWIT(t)
	f := newFixture(t)
	good := map[string]string{
		"access-token": "tmf620-billing",
		"verify":       f.iss.Sign(t, tokentest.Token{Subject: "alice", Audience: []string{audience}, Roles: []string{"a", "b"}}),
	}
	for _, fn := range w.funcs {
		for _, ok := range []bool{true, false} {
			arg := good[fn[0]]
			if !ok {
				arg = ""
			}
			var p wire.Encoder
			if fn[1] != "string" {
				t.Fatalf("%s takes a %s; this test encodes strings only", fn[0], fn[1])
			}
			p.Str(arg)
			res, err := f.rpc.Invoke(context.Background(), Instance("tokens"), fn[0], p.Bytes(), nats.Header{wrpc.HeaderSourceID: {shop}})
			if err != nil {
				t.Fatalf("%s: %v", fn[0], err)
			}
			d := wire.NewDecoder(res)
			if gotOK := decodeWIT(t, d, w.types, fn[2]); gotOK != ok {
				t.Errorf("%s(%.20q) answered ok=%v, want %v", fn[0], arg, gotOK, ok)
			}
			if err := d.Finish(); err != nil {
				t.Fatalf("%s: results % x are not a %s: %v", fn[0], res, fn[2], err)
			}
		}
	}
}

// witScalars read the WIT's scalar types.
var witScalars = map[string]func(*wire.Decoder){
	"string": func(d *wire.Decoder) { d.Str() },
	"u64":    func(d *wire.Decoder) { d.U64() },
}

// decodeWIT reads a value of WIT type ty and, for a result, reports
// whether it was the ok side.
func decodeWIT(t *testing.T, d *wire.Decoder, types map[string][]string, ty string) bool {
	t.Helper()
	if read, ok := witScalars[ty]; ok {
		read(d)
		return true
	}
	switch {
	case strings.HasPrefix(ty, "list<"):
		for range d.ListLen() {
			decodeWIT(t, d, types, strings.TrimSuffix(strings.TrimPrefix(ty, "list<"), ">"))
		}
	case strings.HasPrefix(ty, "result<"):
		okTy, errTy, _ := strings.Cut(strings.TrimSuffix(strings.TrimPrefix(ty, "result<"), ">"), ",")
		ok := d.Result()
		side := strings.TrimSpace(errTy)
		if ok {
			side = okTy
		}
		decodeWIT(t, d, types, side)
		return ok
	case ty == "error": // a variant: the case, then its payload
		members := types[ty]
		if c := d.Case(uint32(len(members))); d.Err() == nil && members[c] != "" {
			decodeWIT(t, d, types, members[c])
		}
	default:
		members, ok := types[ty]
		if !ok {
			t.Fatalf("WIT type %q: unknown to this test", ty)
		}
		for _, m := range members {
			decodeWIT(t, d, types, m)
		}
	}
	return true
}
