package cm

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// wasmtimeGoModule is the module whose headers wasmtime_api.h is written
// from (and whose static library engine.go links).
const wasmtimeGoModule = "github.com/bytecodealliance/wasmtime-go/v39"

// TestWasmtimeAPIMatchesUpstream proves wasmtime_api.h says what the
// upstream headers say, with the C compiler cgo uses:
//
//   - one translation unit includes the upstream headers, references every
//     name our header declares (so each exists upstream), then includes our
//     header without its type bodies: a prototype, typedef or macro that
//     differs is a compile error;
//   - the same layout program is built once against the upstream headers
//     and once against ours; for every struct and union we define, its size
//     and alignment and each member's offset, size and scalar type must
//     print the same.
func TestWasmtimeAPIMatchesUpstream(t *testing.T) {
	t.Parallel()
	ours, err := os.ReadFile("wasmtime_api.h")
	if err != nil {
		t.Fatal(err)
	}
	api := parseAPIHeader(t, string(ours))
	if len(api.funcs) < 50 || len(api.types) < 10 || len(api.macros) < 20 {
		t.Fatalf("parsed only %d functions, %d typedefs, %d macros from wasmtime_api.h: fix parseAPIHeader",
			len(api.funcs), len(api.types), len(api.macros))
	}
	upstream := wasmtimeInclude(t)
	cc := cCompiler(t)
	dir := t.TempDir()
	here, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	includes := []string{"-I" + upstream, "-I" + here}

	var decls strings.Builder
	decls.WriteString("#include <wasmtime.h>\n")
	for _, m := range api.macros {
		fmt.Fprintf(&decls, "#ifndef %[1]s\n#error \"%[1]s is not defined upstream\"\n#endif\n", m)
	}
	for i, ty := range api.types {
		fmt.Fprintf(&decls, "typedef %s cm_upstream_has_%d;\n", ty, i)
	}
	decls.WriteString("void cm_upstream_has_funcs(void) {\n")
	for _, f := range api.funcs {
		fmt.Fprintf(&decls, "  (void)&%s;\n", f)
	}
	decls.WriteString("}\n#define CM_WASMTIME_DECLS_ONLY\n#include \"wasmtime_api.h\"\n")
	compileC(t, cc, dir, "decls.c", decls.String(), append(includes, "-fsyntax-only"))

	upstreamLayout := runLayout(t, cc, dir, "upstream", "#include <wasmtime.h>", api.bodies, includes)
	ourLayout := runLayout(t, cc, dir, "ours", `#include "wasmtime_api.h"`, api.bodies, includes)
	if upstreamLayout != ourLayout {
		up, our := strings.Split(upstreamLayout, "\n"), strings.Split(ourLayout, "\n")
		for i := range up {
			if i < len(our) && up[i] != our[i] {
				t.Errorf("wasmtime_api.h: %s, upstream %s", our[i], up[i])
			}
		}
	}
}

// apiHeader is what wasmtime_api.h declares.
type apiHeader struct {
	macros []string
	types  []string   // typedef names
	funcs  []string   // function names
	bodies []typeBody // typedefs with a struct or union body
}

type typeBody struct {
	name    string
	members []string
}

var (
	defineRE = regexp.MustCompile(`(?m)^#define\s+(\w+)`)
	identRE  = regexp.MustCompile(`[A-Za-z_]\w*`)
	funcRE   = regexp.MustCompile(`(\w+)\s*\(`)
	fnPtrRE  = regexp.MustCompile(`\(\s*\*\s*(\w+)\s*\)`)
)

// parseAPIHeader reads the declarations of wasmtime_api.h. It relies on
// the header's own conventions: only line comments, one declaration per
// statement, type bodies one member a line.
func parseAPIHeader(t *testing.T, src string) apiHeader {
	t.Helper()
	var api apiHeader
	var code strings.Builder
	for line := range strings.Lines(src) {
		trimmed := strings.TrimSpace(line)
		if m := defineRE.FindStringSubmatch(trimmed); m != nil && !strings.HasSuffix(m[1], "_H") {
			api.macros = append(api.macros, m[1])
		}
		if i := strings.Index(line, "//"); i >= 0 {
			line = line[:i] + "\n"
		}
		if strings.HasPrefix(trimmed, "#") {
			continue
		}
		code.WriteString(line)
	}
	for _, decl := range splitTopLevel(code.String()) {
		decl = strings.Join(strings.Fields(decl), " ")
		switch {
		case decl == "":
		case strings.HasPrefix(decl, "typedef"):
			open, close := strings.Index(decl, "{"), strings.LastIndex(decl, "}")
			var name string
			switch {
			case open >= 0:
				name = lastIdent(decl[close:])
				api.bodies = append(api.bodies, typeBody{name: name, members: members(decl[open+1 : close])})
			case fnPtrRE.MatchString(decl):
				name = fnPtrRE.FindStringSubmatch(decl)[1]
			default:
				name = lastIdent(decl)
			}
			api.types = append(api.types, name)
		case strings.Contains(decl, "("):
			api.funcs = append(api.funcs, funcRE.FindStringSubmatch(decl)[1])
		case strings.HasPrefix(decl, "struct "):
			// A forward declaration of a tag: used by the declarations after it.
		default:
			t.Fatalf("wasmtime_api.h: cannot classify %q: keep the header to typedefs, prototypes and macros", decl)
		}
	}
	return api
}

// splitTopLevel splits C code at the semicolons outside braces.
func splitTopLevel(code string) []string {
	var out []string
	depth, start := 0, 0
	for i, r := range code {
		switch r {
		case '{':
			depth++
		case '}':
			depth--
		case ';':
			if depth == 0 {
				out = append(out, code[start:i])
				start = i + 1
			}
		}
	}
	return out
}

// members names the members of a struct or union body: the last identifier
// of each statement (an anonymous struct's members count as the outer
// type's, as offsetof sees them).
func members(body string) []string {
	var out []string
	for stmt := range strings.SplitSeq(body, ";") {
		if name := lastIdent(stmt); name != "" && name != "struct" && name != "union" {
			out = append(out, name)
		}
	}
	return out
}

func lastIdent(s string) string {
	ids := identRE.FindAllString(s, -1)
	if len(ids) == 0 {
		return ""
	}
	return ids[len(ids)-1]
}

// runLayout builds and runs a program that prints the layout of bodies
// as the header included by include defines them, one line per fact.
func runLayout(t *testing.T, cc []string, dir, name, include string, bodies []typeBody, includes []string) string {
	t.Helper()
	var src strings.Builder
	fmt.Fprintf(&src, `#include <stddef.h>
#include <stdio.h>
%s
#define SCALAR(x) _Generic((x), _Bool: "bool", char: "char", signed char: "int8", \
	unsigned char: "uint8", short: "int16", unsigned short: "uint16", int: "int", \
	unsigned int: "uint", long: "long", unsigned long: "ulong", long long: "int64", \
	unsigned long long: "uint64", float: "float", double: "double", default: "other")
#define TYPE(T) printf(#T " size %%zu align %%zu\n", sizeof(T), _Alignof(T))
#define MEMBER(T, m) printf(#T "." #m " offset %%zu size %%zu type %%s\n", \
	offsetof(T, m), sizeof(((T *)0)->m), SCALAR(((T *)0)->m))
int main(void) {
`, include)
	for _, b := range bodies {
		fmt.Fprintf(&src, "  TYPE(%s);\n", b.name)
		for _, m := range b.members {
			fmt.Fprintf(&src, "  MEMBER(%s, %s);\n", b.name, m)
		}
	}
	src.WriteString("  return 0;\n}\n")
	bin := filepath.Join(dir, name)
	compileC(t, cc, dir, name+".c", src.String(), append(slices.Clone(includes), "-o", bin))
	out, err := exec.Command(bin).CombinedOutput()
	if err != nil {
		t.Fatalf("run %s layout program: %v\n%s", name, err, out)
	}
	return string(out)
}

// compileC writes src to dir/file and compiles it with warnings as errors.
func compileC(t *testing.T, cc []string, dir, file, src string, args []string) {
	t.Helper()
	path := filepath.Join(dir, file)
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(cc[0], slices.Concat(cc[1:], []string{"-std=c11", "-Werror"}, args, []string{path})...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("wasmtime_api.h does not match the upstream headers: %s: %v\n%s", cmd, err, out)
	}
}

// wasmtimeInclude is the upstream include directory inside the module
// cache, found the way the go command resolves go.mod.
func wasmtimeInclude(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", wasmtimeGoModule).Output()
	if err != nil {
		t.Fatalf("locate %s (run go mod download): %v", wasmtimeGoModule, err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "build", "include")
	if _, err := os.Stat(filepath.Join(dir, "wasmtime.h")); err != nil {
		t.Fatalf("upstream headers of %s: %v (run go mod download)", wasmtimeGoModule, err)
	}
	return dir
}

// cCompiler is the C compiler cgo uses, with its arguments.
func cCompiler(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("go", "env", "CC").Output()
	if err != nil {
		t.Fatalf("go env CC: %v", err)
	}
	cc := strings.Fields(string(out))
	if len(cc) == 0 {
		t.Fatal("go env CC is empty: cgo needs a C compiler")
	}
	return cc
}

// TestProfilerValues checks cm.h's CM_PROFILING_* and CM_OPT_LEVEL_* against
// the enums in the upstream wasmtime/config.h, which wasmtime_api.h cannot
// restate.
func TestProfilerValues(t *testing.T) {
	t.Parallel()
	here, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	src := `#include <wasmtime.h>
#define CM_WASMTIME_DECLS_ONLY
#include "cm.h"
_Static_assert(CM_PROFILING_NONE == WASMTIME_PROFILING_STRATEGY_NONE, "CM_PROFILING_NONE");
_Static_assert(CM_PROFILING_JITDUMP == WASMTIME_PROFILING_STRATEGY_JITDUMP, "CM_PROFILING_JITDUMP");
_Static_assert(CM_PROFILING_PERFMAP == WASMTIME_PROFILING_STRATEGY_PERFMAP, "CM_PROFILING_PERFMAP");
_Static_assert(CM_OPT_LEVEL_NONE == WASMTIME_OPT_LEVEL_NONE, "CM_OPT_LEVEL_NONE");
`
	compileC(t, cCompiler(t), t.TempDir(), "profiler.c", src, []string{"-I" + wasmtimeInclude(t), "-I" + here, "-fsyntax-only"})
}
