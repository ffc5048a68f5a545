package oda

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// The decoded document is kept as a JSON-like tree (map[string]any, []any,
// string, int64, float64, bool, nil): the schema validator reads it, the
// converters rewrite it, and encoding/json turns it into typed values. Each
// value's position is kept beside it, keyed by JSON pointer, so any error
// found later (schema, conversion, semantics) points back at file:line.

// position is where a value sits in the source file.
type position struct {
	keyLine int // line of the mapping key naming the value (0 for list items and the root)
	line    int // line of the value itself
}

// tree is one decoded document.
type tree struct {
	file  string
	root  any
	pos   map[string]position
	errs  ErrorList
	nodes int // nodes produced so far, bounding alias expansion
	// open holds the anchored collections being converted, so an alias
	// inside its own anchor (an infinite document) is an error, not a loop.
	open map[*yaml.Node]bool
}

const (
	// maxNodes bounds the values a document may expand to; YAML aliases
	// can make a small file expand exponentially ("billion laughs"). The
	// largest upstream example has about 150.
	maxNodes = 100_000
)

// pointer renders tokens as a JSON pointer (RFC 6901).
func pointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		t = strings.ReplaceAll(t, "~", "~0")
		b.WriteString(strings.ReplaceAll(t, "/", "~1"))
	}
	return b.String()
}

var plainKey = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$-]*$`)

// displayPath renders tokens as a field path (spec.exposedAPIs[0].port),
// using root to tell list indexes from keys. Keys that are not identifiers
// (labels, annotations) are written as ["key"].
func displayPath(root any, tokens []string) string {
	var b strings.Builder
	cur := root
	for _, t := range tokens {
		switch v := cur.(type) {
		case []any:
			b.WriteString("[" + t + "]")
			if i, err := strconv.Atoi(t); err == nil && i >= 0 && i < len(v) {
				cur = v[i]
			} else {
				cur = nil
			}
			continue
		case map[string]any:
			cur = v[t]
		case nil:
			// Unknown (the tree is still being built): numbers are indexes.
			if _, err := strconv.Atoi(t); err == nil {
				b.WriteString("[" + t + "]")
				continue
			}
		default:
			cur = nil
		}
		if plainKey.MatchString(t) {
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(t)
		} else {
			b.WriteString("[" + strconv.Quote(t) + "]")
		}
	}
	return b.String()
}

// lookup returns the value at tokens, and whether it exists.
func lookup(root any, tokens []string) (any, bool) {
	cur := root
	for _, t := range tokens {
		switch v := cur.(type) {
		case map[string]any:
			next, ok := v[t]
			if !ok {
				return nil, false
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(t)
			if err != nil || i < 0 || i >= len(v) {
				return nil, false
			}
			cur = v[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// line returns the best known line for tokens: the value's own line, else
// (for a missing field) the line of the nearest ancestor that exists.
func (t *tree) line(tokens []string, preferKey bool) int {
	for n := len(tokens); n >= 0; n-- {
		p, ok := t.pos[pointer(tokens[:n])]
		if !ok {
			continue
		}
		// A missing field is reported at its parent's key, where it
		// belongs; an unknown field at its own key.
		if (preferKey || n < len(tokens)) && p.keyLine > 0 {
			return p.keyLine
		}
		return p.line
	}
	return 0
}

func (t *tree) fail(line int, tokens []string, msg, fix string) {
	t.errs = append(t.errs, FieldError{File: t.file, Line: line, Path: displayPath(t.root, tokens), Msg: msg, Fix: fix})
}

// readTree checks that data is one YAML (or JSON) document of text and
// decodes it. It returns nil when there is nothing to validate further; the
// errors are in the returned list either way.
func readTree(file string, data []byte) (*tree, ErrorList) {
	t := &tree{file: file, pos: map[string]position{}}
	if len(data) > MaxFileSize {
		t.errs = append(t.errs, FieldError{File: file,
			Msg: fmt.Sprintf("file is %d bytes, more than the %d (4 MiB) a Component file may have", len(data), MaxFileSize),
			Fix: "pass the Component manifest itself, not an archive or a log"})
		return nil, t.errs
	}
	if i := bytes.IndexByte(data, 0); i >= 0 || !utf8.Valid(data) {
		if i < 0 {
			i = invalidUTF8At(data)
		}
		t.errs = append(t.errs, FieldError{File: file, Line: 1 + bytes.Count(data[:i], []byte("\n")),
			Msg: fmt.Sprintf("not a text file: byte 0x%02x at offset %d is not UTF-8 text", data[i], i),
			Fix: "pass a YAML or JSON Component manifest"})
		return nil, t.errs
	}
	docs, err := documents(data)
	if err != nil {
		t.errs = append(t.errs, yamlSyntaxError(file, err))
		return nil, t.errs
	}
	switch len(docs) {
	case 0:
		t.errs = append(t.errs, FieldError{File: file, Line: 1, Msg: "file holds no document",
			Fix: "write one ODA Component (apiVersion: oda.tmforum.org/v1, kind: Component, metadata, spec)"})
		return nil, t.errs
	case 1:
	default:
		t.errs = append(t.errs, FieldError{File: file, Line: docs[1].Line,
			Msg: fmt.Sprintf("file holds %d YAML documents; a Component file holds exactly one", len(docs)),
			Fix: "split the file at each '---', one Component per file"})
		return nil, t.errs
	}
	t.root = t.value(docs[0], nil, 0, 0)
	if len(t.errs) > 0 {
		return nil, t.errs
	}
	return t, nil
}

func invalidUTF8At(data []byte) int {
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return 0
}

// documents returns the content node of each non-empty document. Empty
// documents (a stray leading or trailing '---', comments only) are skipped,
// as kubectl skips them.
func documents(data []byte) ([]*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var out []*yaml.Node
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if len(doc.Content) == 0 {
			continue
		}
		n := doc.Content[0]
		if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" && n.Value == "" {
			continue
		}
		out = append(out, n)
	}
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parserProblem tells the yaml.v3 parser's problems from its scanner's.
func parserProblem(msg string) bool {
	switch msg {
	case "did not find expected ',' or ']'", "did not find expected ',' or '}'", "did not find expected '-' indicator",
		"did not find expected <document start>", "did not find expected key", "did not find expected node content":
		return true
	}
	return false
}

func yamlSyntaxError(file string, err error) FieldError {
	msg := err.Error()
	fe := FieldError{File: file, Fix: "fix the YAML syntax (indentation, quoting, ':' after each key)"}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		fe.Line, _ = strconv.Atoi(m[1])
		msg = m[2]
		if parserProblem(msg) {
			// yaml.v3 reports the parser's marks 0-based (its scanner's
			// 1-based); the mark is where the unfinished block or flow
			// collection began.
			fe.Line++
			msg += " (in the collection that starts here)"
		}
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	fe.Msg = "invalid YAML: " + msg
	return fe
}

// value converts n to the tree; tokens is its location, keyLine the line of
// the key that names it.
func (t *tree) value(n *yaml.Node, tokens []string, keyLine, depth int) any {
	t.nodes++
	if t.nodes > maxNodes {
		if t.nodes == maxNodes+1 {
			t.fail(n.Line, tokens, fmt.Sprintf("document expands to more than %d values (YAML aliases?)", maxNodes), "write the values out instead of aliasing large nodes")
		}
		return nil
	}
	if depth > MaxDepth {
		t.fail(n.Line, tokens, fmt.Sprintf("nested more than %d levels deep", MaxDepth), "a Component is never this deep; check the indentation")
		return nil
	}
	line := n.Line
	for n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			t.fail(line, tokens, "alias to an unknown anchor", "define the anchor (&name) before its alias (*name)")
			return nil
		}
		if t.open[n.Alias] {
			t.fail(line, tokens, fmt.Sprintf("alias *%s is inside its own anchor (an infinite document)", n.Value), "write the value out")
			return nil
		}
		n = n.Alias
	}
	if n.Anchor != "" && (n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode) {
		if t.open == nil {
			t.open = map[*yaml.Node]bool{}
		}
		t.open[n] = true
		defer delete(t.open, n)
	}
	t.pos[pointer(tokens)] = position{keyLine: keyLine, line: line}
	switch n.Kind {
	case yaml.ScalarNode:
		return t.scalar(n, tokens, line)
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for i, item := range n.Content {
			if t.nodes > maxNodes {
				break
			}
			out = append(out, t.value(item, append(tokens[:len(tokens):len(tokens)], strconv.Itoa(i)), 0, depth+1))
		}
		return out
	case yaml.MappingNode:
		out := map[string]any{}
		t.mapping(n, tokens, depth, out, map[string]int{}, false)
		return out
	default:
		t.fail(line, tokens, "unexpected YAML node", "write plain YAML mappings, lists and scalars")
		return nil
	}
}

// mapping adds the pairs of n to out. seen holds the line of each key
// already set, for duplicate detection; merged marks keys coming from a
// '<<' merge, which explicit keys may override.
func (t *tree) mapping(n *yaml.Node, tokens []string, depth int, out map[string]any, seen map[string]int, merged bool) {
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		for k.Kind == yaml.AliasNode && k.Alias != nil {
			k = k.Alias
		}
		if k.Kind != yaml.ScalarNode {
			t.fail(k.Line, tokens, "mapping key is not a string", "use plain string keys")
			continue
		}
		if k.ShortTag() == "!!merge" {
			merges = append(merges, v)
			continue
		}
		key := k.Value
		child := append(tokens[:len(tokens):len(tokens)], key)
		if first, dup := seen[key]; dup {
			if !merged {
				t.fail(k.Line, child, fmt.Sprintf("duplicate key %q (first set at line %d)", key, first), "remove one of the two")
			}
			continue
		}
		seen[key] = k.Line
		out[key] = t.value(v, child, k.Line, depth+1)
	}
	// Explicit keys win over merged ones, whatever their order in the file.
	for _, m := range merges {
		for m.Kind == yaml.AliasNode && m.Alias != nil {
			m = m.Alias
		}
		srcs := []*yaml.Node{m}
		if m.Kind == yaml.SequenceNode {
			srcs = m.Content
		}
		for _, s := range srcs {
			for s.Kind == yaml.AliasNode && s.Alias != nil {
				s = s.Alias
			}
			if t.open[s] || s == n {
				t.fail(s.Line, tokens, "'<<' merges a mapping into itself (an infinite document)", "write the keys out")
				continue
			}
			if s.Kind != yaml.MappingNode {
				t.fail(s.Line, tokens, "'<<' merges only mappings", "merge a mapping or a list of mappings")
				continue
			}
			t.nodes += len(s.Content)
			if t.nodes > maxNodes {
				return
			}
			t.mapping(s, tokens, depth+1, out, seen, true)
		}
	}
}

func (t *tree) scalar(n *yaml.Node, tokens []string, line int) any {
	switch tag := n.ShortTag(); tag {
	case "!!str", "!!timestamp", "!!binary":
		// A timestamp stays the text it was written as: Kubernetes reads
		// YAML through JSON, where dates are strings.
		return n.Value
	case "!!null":
		return nil
	case "!!bool":
		b, err := strconv.ParseBool(n.Value)
		if err != nil {
			t.fail(line, tokens, fmt.Sprintf("invalid boolean %q", n.Value), "write true or false")
			return nil
		}
		return b
	case "!!int":
		i, err := strconv.ParseInt(n.Value, 0, 64)
		if err == nil {
			return i
		}
		if errors.Is(err, strconv.ErrRange) {
			t.fail(line, tokens, fmt.Sprintf("integer %s is out of range", n.Value), "use a value that fits in 64 bits")
			return nil
		}
		t.fail(line, tokens, fmt.Sprintf("invalid integer %q", n.Value), "write a decimal integer")
		return nil
	case "!!float":
		f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			t.fail(line, tokens, fmt.Sprintf("number %q is not a finite JSON number", n.Value), "write a finite decimal number")
			return nil
		}
		if f == math.Trunc(f) && (f >= math.MaxInt64 || f < math.MinInt64) {
			// Every number in the ODA CRD is an integer; one this size
			// could only fail later without a line.
			t.fail(line, tokens, fmt.Sprintf("number %s is out of range", n.Value), "use a value that fits in 64 bits")
			return nil
		}
		return f
	default:
		t.fail(line, tokens, fmt.Sprintf("unsupported YAML tag %s", tag), "remove the tag; Components are plain JSON-compatible YAML")
		return nil
	}
}
