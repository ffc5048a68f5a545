package up

import (
	"fmt"
	"os"
)

// artefactRoots are o.ArtefactRoots or, when none are given, the directory
// canvas up runs in (so the quick start's file:// paths, which the CLI
// makes absolute, load) and the state directory. o.StateDir is absolute.
func (o Options) artefactRoots() ([]string, error) {
	if len(o.ArtefactRoots) > 0 {
		return o.ArtefactRoots, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return nil, fmt.Errorf("artefact roots: the working directory: %w (name the roots with --artefact-root)", err)
	}
	return []string{wd, o.StateDir}, nil
}
