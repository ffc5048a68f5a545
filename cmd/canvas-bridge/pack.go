package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/wasmcanvas/wasmcanvas/pkg/bridge/par"
	"github.com/wasmcanvas/wasmcanvas/pkg/translate"
	"github.com/wasmcanvas/wasmcanvas/pkg/version"
)

const packUsage = `canvas-bridge pack: write the provider archive (PAR) a wasmCloud 1.x host
accepts canvas-bridge in: a gzipped tar of claims.jwt and one binary per
target ({arch}-{os}.bin), the claims signed with the account key in --keys.

The keys file is created (0600) with new keys when absent; the seeds in it
are never printed. Keep it to sign later versions with the same identity.

Usage:
  canvas-bridge pack --out FILE --keys FILE [--target TRIPLE=BINARY]...

Without --target the archive holds this binary for the platform it runs on.

Flags:
`

func pack(args []string, stderr io.Writer) int {
	fs := pflag.NewFlagSet("canvas-bridge pack", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, packUsage)
		fs.PrintDefaults()
	}
	out := fs.String("out", "", "archive to write, e.g. bin/canvas-bridge.par.gz")
	keyFile := fs.String("keys", "", "signing keys file (created 0600 when absent)")
	targets := fs.StringArray("target", nil, "TRIPLE=BINARY, e.g. aarch64-linux=bin/linux-arm64/canvas-bridge (repeatable)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "canvas-bridge pack: %v (see --help)\n", err)
		return 2
	}
	if *out == "" || *keyFile == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "canvas-bridge pack: --out and --keys are required, and no argument (see --help)")
		return 2
	}
	a, err := archive(*targets)
	if err == nil {
		err = writeArchive(*out, *keyFile, a)
	}
	if err != nil {
		fmt.Fprintln(stderr, "canvas-bridge pack:", oneLine(err))
		return 1
	}
	fmt.Fprintf(stderr, "canvas-bridge pack: wrote %s (%d targets)\n", *out, len(a.Targets))
	return 0
}

func archive(targets []string) (par.Archive, error) {
	a := par.Archive{Name: translate.BridgeName, Vendor: "wasmcanvas", Version: version.Version, Targets: map[string][]byte{}}
	if len(targets) == 0 {
		self, err := os.Executable()
		if err != nil {
			return a, err
		}
		t, err := par.Target(runtime.GOOS, runtime.GOARCH)
		if err != nil {
			return a, err
		}
		targets = []string{t + "=" + self}
	}
	for _, tb := range targets {
		t, path, ok := strings.Cut(tb, "=")
		if !ok {
			return a, fmt.Errorf("--target %q: want TRIPLE=BINARY", tb)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return a, fmt.Errorf("--target %s: %w", t, err)
		}
		a.Targets[t] = b
	}
	return a, nil
}

// writeArchive writes the archive next to out and renames it into place,
// so a host never pulls half an archive.
func writeArchive(out, keyFile string, a par.Archive) error {
	keys, err := par.LoadOrCreateKeys(keyFile)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if _, err := par.Write(&buf, a, keys, time.Now()); err != nil {
		return err
	}
	if _, _, err := par.Read(bytes.NewReader(buf.Bytes()), time.Now()); err != nil {
		return fmt.Errorf("the archive written does not verify: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), ".par-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(buf.Bytes())
	if err == nil {
		err = tmp.Chmod(0o644) // an archive is public; CreateTemp made it 0600
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), out)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
	}
	return err
}
