package wasi

import (
	"errors"
	"fmt"
	"strings"

	"github.com/wasmcanvas/wasmcanvas/pkg/runtime/internal/cm"
	"github.com/wasmcanvas/wasmcanvas/pkg/runtime/internal/compose"
)

// Definer fills one linker instance with an interface's resources and
// functions.
type Definer func(li *cm.LinkerInstance) error

// Interfaces are the WASI interfaces this package implements, keyed by
// unversioned name.
func Interfaces() map[string]Definer {
	return map[string]Definer{
		"wasi:io/error":                  defineError,
		"wasi:io/poll":                   definePoll,
		"wasi:io/streams":                defineStreams,
		compose.Interface:                defineBulkStreams,
		"wasi:clocks/monotonic-clock":    defineMonotonic,
		"wasi:clocks/wall-clock":         defineWall,
		"wasi:random/random":             defineRandom,
		"wasi:random/insecure":           defineInsecure,
		"wasi:random/insecure-seed":      defineInsecureSeed,
		"wasi:cli/environment":           defineEnvironment,
		"wasi:cli/exit":                  defineExit,
		"wasi:cli/stdin":                 defineStdin,
		"wasi:cli/stdout":                defineStdout,
		"wasi:cli/stderr":                defineStderr,
		"wasi:cli/terminal-input":        defineTerminal("terminal-input", TypeTerminalInput),
		"wasi:cli/terminal-output":       defineTerminal("terminal-output", TypeTerminalOutput),
		"wasi:cli/terminal-stdin":        defineNoTerminal("get-terminal-stdin"),
		"wasi:cli/terminal-stdout":       defineNoTerminal("get-terminal-stdout"),
		"wasi:cli/terminal-stderr":       defineNoTerminal("get-terminal-stderr"),
		"wasi:filesystem/types":          defineFilesystemTypes,
		"wasi:filesystem/preopens":       definePreopens,
		"wasi:sockets/network":           defineNetwork,
		"wasi:sockets/instance-network":  defineInstanceNetwork,
		"wasi:sockets/tcp":               defineSocketType("tcp-socket", TypeTCPSocket),
		"wasi:sockets/udp":               defineUDP,
		"wasi:sockets/tcp-create-socket": defineCreateSocket("create-tcp-socket"),
		"wasi:sockets/udp-create-socket": defineCreateSocket("create-udp-socket"),
		"wasi:sockets/ip-name-lookup":    defineNameLookup,
		"wasi:logging/logging":           defineLogging,
		"wasi:config/runtime":            defineConfig,
		"wasi:config/store":              defineConfig,
		// Keyed by exact version: draft2 changed the signatures.
		"wasi:keyvalue/store@0.2.0-draft":   defineKeyValueStore,
		"wasi:keyvalue/atomics@0.2.0-draft": defineKeyValueAtomics,
	}
}

// stubTypeBase numbers the resource types of imports nobody implements.
const stubTypeBase = 1 << 20

// Link defines every instance comp imports under its exact (versioned)
// name: with the implementation from defs when its exact or else its
// unversioned name is there, and with functions that trap (plus placeholder resource types) for
// whatever that leaves out, so components that import more than they use
// still instantiate. (wasmtime's define-unknown-imports-as-traps cannot
// complete a partly defined instance in this version of the C API.)
func Link(l *cm.Linker, comp *cm.Component, defs ...map[string]Definer) error {
	stub := uint32(stubTypeBase)
	for _, imp := range comp.ImportedInstances() {
		base, _, _ := strings.Cut(imp.Name, "@")
		var def Definer
		for _, d := range defs {
			if def = d[imp.Name]; def != nil {
				break
			}
			if def = d[base]; def != nil {
				break
			}
		}
		err := l.Define(imp.Name, func(li *cm.LinkerInstance) error {
			if def != nil {
				if err := def(li); err != nil {
					return err
				}
			}
			for _, r := range imp.Resources {
				if !li.Defined(r) {
					stub++
					if err := li.Resource(r, stub, nil); err != nil {
						return err
					}
				}
			}
			for _, f := range imp.Funcs {
				if !li.Defined(f) {
					if err := li.Trap(f); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("link %s: %w", imp.Name, err)
		}
	}
	return nil
}

// fn defines a host function with one result.
func fn(li *cm.LinkerInstance, name string, f func(c *Ctx, args []cm.Value) (cm.Value, error)) error {
	return li.Func(name, hostFunc(name, f))
}

// fnBorrowing is fn for a function that keeps none of its string
// arguments past its return (cm.FuncBorrowing).
func fnBorrowing(li *cm.LinkerInstance, name string, f func(c *Ctx, args []cm.Value) (cm.Value, error)) error {
	return li.FuncBorrowing(name, hostFunc(name, f))
}

func hostFunc(name string, f func(c *Ctx, args []cm.Value) (cm.Value, error)) cm.HostFunc {
	return func(s *cm.Store, args, results []cm.Value) error {
		c := FromStore(s)
		v, err := f(c, args)
		if err != nil {
			return err
		}
		if c.full != nil {
			return c.full
		}
		if len(results) != 1 {
			return fmt.Errorf("%s: guest expects %d results, host gives 1 (WIT version mismatch)", name, len(results))
		}
		results[0] = v
		return nil
	}
}

// fn0 defines a host function without results.
func fn0(li *cm.LinkerInstance, name string, f func(c *Ctx, args []cm.Value) error) error {
	return li.Func(name, func(s *cm.Store, args, results []cm.Value) error {
		c := FromStore(s)
		if err := f(c, args); err != nil {
			return err
		}
		return c.full
	})
}

// Fn and Fn0 are fn and fn0 for other host packages.
func Fn(li *cm.LinkerInstance, name string, f func(c *Ctx, args []cm.Value) (cm.Value, error)) error {
	return fn(li, name, f)
}

// Fn0 defines a host function without results.
func Fn0(li *cm.LinkerInstance, name string, f func(c *Ctx, args []cm.Value) error) error {
	return fn0(li, name, f)
}

// all joins definition errors.
func all(errs ...error) error { return errors.Join(errs...) }

// All joins definition errors (for other host packages).
func All(errs ...error) error { return errors.Join(errs...) }
