package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"go.uber.org/zap"

	"github.com/wasmcanvas/wasmcanvas/pkg/latticeadmin"
)

// RunningFile is the file in the node's state directory that holds what
// it runs (Options.RunningFile).
const RunningFile = "running.json"

// runningSet is what a node runs, with the links and named config those
// components need: restored at start, so a node restarted while the
// lattice cannot be reached serves what it served. Secret references are
// kept as the references they are (a backend and a key); no secret value
// is ever in it.
type runningSet struct {
	Components []Component                  `json:"components"`
	Links      []latticeadmin.Link          `json:"links"`
	Config     map[string]map[string]string `json:"config"`
}

// persist writes the running set (on the worker, after a change), with
// a write to a temporary file renamed over the old one.
func (n *Node) persist() {
	if n.opts.RunningFile == "" {
		return
	}
	n.mu.Lock()
	set := runningSet{Components: n.running(), Config: map[string]map[string]string{}}
	ids := map[string]bool{}
	for _, c := range set.Components {
		ids[c.ID] = true
		for _, name := range c.Config {
			if v, ok := n.config[name]; ok {
				set.Config[name] = maps.Clone(v)
			}
		}
	}
	for _, l := range n.links {
		if !ids[l.SourceID] && !ids[l.Target] {
			continue
		}
		set.Links = append(set.Links, l)
		for _, name := range append(slices.Clone(l.SourceConfig), l.TargetConfig...) {
			if v, ok := n.config[name]; ok {
				set.Config[name] = maps.Clone(v)
			}
		}
	}
	n.mu.Unlock()
	slices.SortFunc(set.Components, func(a, b Component) int {
		if a.ID < b.ID {
			return -1
		}
		if a.ID > b.ID {
			return 1
		}
		return 0
	})
	b, err := json.MarshalIndent(set, "", "  ")
	if err == nil {
		err = writeAtomic(n.opts.RunningFile, b)
	}
	if err != nil {
		n.log.Warn("running set not saved: a restart will not restore it", zap.String("file", n.opts.RunningFile), zap.Error(err))
	}
}

func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	_, werr := tmp.Write(data)
	serr := tmp.Sync()
	cerr := tmp.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		_ = os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		_ = os.Remove(tmp.Name())
		return err
	}
	return nil
}

// restore starts what the running file lists, on the worker: without the
// lattice's buckets, the links and config it saved fill what the node
// does not know (with them, the buckets it read at start are the truth);
// then each component starts as a scale would
// start it and component_scaled is published (the lattice may not hear
// it; the heartbeat lists them when it is back).
func (n *Node) restore() error {
	if n.opts.RunningFile == "" {
		return nil
	}
	b, err := os.ReadFile(n.opts.RunningFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var set runningSet
	if err := json.Unmarshal(b, &set); err != nil {
		return fmt.Errorf("%s: %w (delete it to start with nothing)", n.opts.RunningFile, err)
	}
	n.mu.Lock()
	if n.store != nil {
		set.Config, set.Links = nil, nil
	}
	for name, v := range set.Config {
		if _, ok := n.config[name]; !ok {
			n.config[name] = v
		}
	}
	for _, l := range set.Links {
		if !slices.ContainsFunc(n.links, func(o latticeadmin.Link) bool { return sameLinkSlot(o, l) }) {
			n.links = append(n.links, l)
		}
	}
	n.mu.Unlock()
	if len(set.Components) > 0 {
		n.log.Info("restoring the components this node ran before it stopped", zap.String("file", n.opts.RunningFile), zap.Int("components", len(set.Components)))
	}
	for _, c := range set.Components {
		n.enqueue(func(ctx context.Context) { n.startComponent(ctx, c) })
	}
	return nil
}
