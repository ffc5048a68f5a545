package compose

import (
	"fmt"
	"strings"
)

// A wasi:io/streams function as WASI 0.2 defines it: the guest's import
// may list any of these (every 0.2.x release has the same ones).
type streamFunc struct {
	resource string // input-stream or output-stream
	params   string // after self, in WAT
	result   string // in WAT, with $E standing for the stream-error type
	pollable bool   // returns own<pollable>
}

var streamFuncs = map[string]streamFunc{
	"[method]input-stream.read":                             {"input-stream", `(param "len" u64)`, `(result (list u8) (error $E))`, false},
	"[method]input-stream.blocking-read":                    {"input-stream", `(param "len" u64)`, `(result (list u8) (error $E))`, false},
	"[method]input-stream.skip":                             {"input-stream", `(param "len" u64)`, `(result u64 (error $E))`, false},
	"[method]input-stream.blocking-skip":                    {"input-stream", `(param "len" u64)`, `(result u64 (error $E))`, false},
	"[method]input-stream.subscribe":                        {"input-stream", ``, `(own $P)`, true},
	"[method]output-stream.check-write":                     {"output-stream", ``, `(result u64 (error $E))`, false},
	"[method]output-stream.write":                           {"output-stream", `(param "contents" (list u8))`, `(result (error $E))`, false},
	"[method]output-stream.blocking-write-and-flush":        {"output-stream", `(param "contents" (list u8))`, `(result (error $E))`, false},
	"[method]output-stream.flush":                           {"output-stream", ``, `(result (error $E))`, false},
	"[method]output-stream.blocking-flush":                  {"output-stream", ``, `(result (error $E))`, false},
	"[method]output-stream.subscribe":                       {"output-stream", ``, `(own $P)`, true},
	"[method]output-stream.write-zeroes":                    {"output-stream", `(param "len" u64)`, `(result (error $E))`, false},
	"[method]output-stream.blocking-write-zeroes-and-flush": {"output-stream", `(param "len" u64)`, `(result (error $E))`, false},
	"[method]output-stream.splice":                          {"output-stream", `(param "src" (borrow $input-stream)) (param "len" u64)`, `(result u64 (error $E))`, false},
	"[method]output-stream.blocking-splice":                 {"output-stream", `(param "src" (borrow $input-stream)) (param "len" u64)`, `(result u64 (error $E))`, false},
}

// importName is the plain name under which the re-exporter imports f.
func importName(f string) string {
	f = strings.TrimPrefix(f, "[method]")
	return "f-" + strings.ReplaceAll(f, ".", "-")
}

// reexporter is the WAT of a component that imports the streams types and
// the functions of api under plain names and exports them under their
// wasi:io/streams names: the instance the guest gets. (An instance made
// from exports cannot carry [method] functions: the component model gives
// a resource its name through a component's own imports and exports, so
// the validator only accepts one made by a component.)
//
// When the guest is retyped, the adapted functions take and return string
// where WASI has list<u8>.
func reexporter(api []export, retyped bool) ([]byte, error) {
	var funcs []string
	types := map[string]bool{}
	for _, e := range api {
		switch e.sort {
		case sortType:
			switch e.name {
			case "error", "pollable", "input-stream", "output-stream", "stream-error":
				types[e.name] = true
			default:
				return nil, notApplicable("wasi:io/streams type %s is not one of WASI 0.2's", e.name)
			}
		case sortFunc:
			if _, ok := streamFuncs[e.name]; !ok {
				return nil, notApplicable("wasi:io/streams function %s is not one of WASI 0.2's", e.name)
			}
			funcs = append(funcs, e.name)
		}
	}
	for _, t := range []string{"error", "input-stream", "output-stream", "stream-error"} {
		if !types[t] {
			return nil, notApplicable("wasi:io/streams exports no type %s", t)
		}
	}
	for _, f := range funcs {
		if streamFuncs[f].pollable && !types["pollable"] {
			return nil, notApplicable("wasi:io/streams has %s but exports no type pollable", f)
		}
	}
	var b strings.Builder
	b.WriteString("(component\n")
	res := []string{"error", "input-stream", "output-stream"}
	if types["pollable"] {
		res = append(res, "pollable")
	}
	for _, r := range res {
		fmt.Fprintf(&b, "  (import %q (type $%s (sub resource)))\n", r, r)
	}
	b.WriteString("  (type $stream-error' (variant (case \"last-operation-failed\" (own $error)) (case \"closed\")))\n")
	b.WriteString("  (import \"stream-error\" (type $stream-error (eq $stream-error')))\n")
	sig := func(name, prefix, errType, pollable string) string {
		f := streamFuncs[name]
		params := strings.ReplaceAll(f.params, "$input-stream", "$"+prefix+"input-stream")
		result := strings.NewReplacer("$E", errType, "$P", pollable).Replace(f.result)
		if isRead(Adapted[name]) && retyped {
			params = strings.ReplaceAll(params, "(list u8)", "string")
			result = strings.ReplaceAll(result, "(list u8)", "string")
		}
		return fmt.Sprintf(`(param "self" (borrow $%s%s)) %s (result %s)`, prefix, f.resource, params, result)
	}
	for i, name := range funcs {
		fmt.Fprintf(&b, "  (import %q (func $f%d %s))\n", importName(name), i, sig(name, "", "$stream-error", "$pollable"))
	}
	for _, r := range res {
		fmt.Fprintf(&b, "  (export $x-%s %q (type $%s))\n", r, r, r)
	}
	b.WriteString("  (type $x-stream-error' (variant (case \"last-operation-failed\" (own $x-error)) (case \"closed\")))\n")
	b.WriteString("  (export $x-stream-error \"stream-error\" (type $x-stream-error'))\n")
	for i, name := range funcs {
		fmt.Fprintf(&b, "  (export %q (func $f%d) (func %s))\n", name, i, sig(name, "x-", "$x-stream-error", "$x-pollable"))
	}
	b.WriteString(")\n")
	return []byte(b.String()), nil
}
