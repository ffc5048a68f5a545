package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

// source is one input document: its display name (a path, or "<stdin>"),
// the directory relative file:// references resolve against, and its bytes.
type source struct {
	name string
	dir  string
	data []byte
}

// manifestExts are the file endings read from a directory.
var manifestExts = map[string]bool{".yaml": true, ".yml": true, ".json": true}

// readSources expands -f arguments: "-" is standard input, a directory
// yields its .yaml/.yml/.json files (recursively with recursive set), a
// file is read as is. Files larger than oda.MaxFileSize are refused before
// they are read whole.
func readSources(stdin io.Reader, args []string, recursive bool) ([]source, error) {
	if len(args) == 0 {
		return nil, usageErrorf("no input: pass -f FILE, -f DIR or -f - (standard input)")
	}
	var out []source
	for _, a := range args {
		if a == "-" {
			data, err := readLimited(stdin, "<stdin>")
			if err != nil {
				return nil, err
			}
			wd, _ := os.Getwd()
			out = append(out, source{name: "<stdin>", dir: wd, data: data})
			continue
		}
		st, err := os.Stat(a)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", a, errors.Unwrap(err))
		}
		if !st.IsDir() {
			s, err := readFileSource(a)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
			continue
		}
		var files []string
		err = filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if p != a && !recursive {
					return filepath.SkipDir
				}
				return nil
			}
			if manifestExts[strings.ToLower(filepath.Ext(p))] {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("reading directory %s: %w", a, err)
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("%s: no .yaml, .yml or .json files (use -R to descend into subdirectories)", a)
		}
		sort.Strings(files)
		for _, f := range files {
			s, err := readFileSource(f)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
	}
	return out, nil
}

func readFileSource(path string) (source, error) {
	f, err := os.Open(path)
	if err != nil {
		return source{}, fmt.Errorf("%s: %w", path, errors.Unwrap(err))
	}
	defer f.Close()
	data, err := readLimited(f, path)
	if err != nil {
		return source{}, err
	}
	abs, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return source{}, fmt.Errorf("%s: %w", path, err)
	}
	return source{name: path, dir: abs, data: data}, nil
}

// readLimited reads at most oda.MaxFileSize+1 bytes, so a huge file is
// recognised without holding it in memory; the size error itself is
// reported by oda.Parse with the file name.
func readLimited(r io.Reader, name string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, oda.MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return data, nil
}
