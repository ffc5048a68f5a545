package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/wasmcanvas/wasmcanvas/pkg/api/wire"
	"github.com/wasmcanvas/wasmcanvas/pkg/client"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
	"github.com/wasmcanvas/wasmcanvas/pkg/translate"
)

// DefaultWaitTimeout bounds --wait unless --timeout says otherwise.
const DefaultWaitTimeout = 2 * time.Minute

func newApplyCmd() *cobra.Command {
	var (
		files     []string
		recursive bool
		implsFile string
		wait      bool
		timeout   time.Duration
		dryRun    string
		output    string
		remote    remoteFlags
	)
	cmd := &cobra.Command{
		Use:     "apply -f FILE|DIR|- [--implementations FILE] [--wait [--timeout 2m]]",
		Aliases: []string{"deploy"},
		Short:   "Create or update ODA Components on the canvas",
		Long: `apply validates each Component locally (nothing is sent when any file is
invalid), resolves its Wasm artefacts and sends it to canvasd, which stores it
as desired state and deploys it as a wadm application.

Artefacts: relative file:// paths of the wasmcanvas.io/implementations
annotation resolve against the Component file's directory, those of
--implementations FILE against that file's directory; both are merged into
the annotation as absolute paths (the file wins per implementation). The
canvas reads them only from its own artefact roots ('canvas up
--artefact-root'); nothing apply sends widens them.

With --wait, apply follows each Component's deployment_status
(In-Progress-CompCon, … , Complete) until every one is Complete (exit 0), one
is Failed or --timeout passes (exit 1, with the reason). On a terminal the
progress is one updating line, otherwise one line per change.

--dry-run (or --dry-run=server) sends every Component to canvasd, which makes
all the checks a real apply makes (validation, artefact roots, the stored
value and its resourceVersion) and answers what it would store; nothing is
stored. Check a directory of Components that way before applying any of
them. --dry-run=client makes the local checks only and sends nothing.
-o json|yaml prints the Components as canvasd stored them (or would).`,
		Example: `  canvas apply -f component.yaml --wait
  canvas apply -f components/ --implementations impls.yaml
  canvas apply -f components/ --dry-run && canvas apply -f components/
  canvas apply -f component.yaml --dry-run -o yaml     # as canvasd would store it
  canvas apply -f component.yaml --server http://canvas.lab:7443`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if timeout <= 0 {
				return usageErrorf("--timeout %s must be positive", timeout)
			}
			if dryRun != "none" && dryRun != "client" && dryRun != "server" {
				return usageErrorf("--dry-run=%s: must be server (canvasd checks, stores nothing; what a bare --dry-run means), client (local checks only, nothing sent) or none", dryRun)
			}
			if dryRun != "none" && wait {
				return usageErrorf("--wait with --dry-run: a dry run deploys nothing to wait for; drop one of them")
			}
			if err := checkOutput(output, "text", "json", "yaml"); err != nil {
				return err
			}
			srcs, err := readSources(cmd.InOrStdin(), files, recursive)
			if err != nil {
				return err
			}
			impls, err := loadImplsFile(implsFile)
			if err != nil {
				return printFieldErrors(cmd, implsFile, err)
			}
			type prepared struct {
				src       source
				c         *oda.Component
				body      []byte
				rewritten bool
			}
			var (
				todo    []prepared
				invalid int
			)
			for _, s := range srcs {
				c, body, rewritten, err := prepareBody(s, impls)
				if err != nil {
					for _, fe := range asErrorList(s.name, err) {
						if fe.File == "" {
							fe.File = s.name
						}
						fmt.Fprintln(cmd.ErrOrStderr(), fe.Error())
					}
					invalid++
					continue
				}
				todo = append(todo, prepared{s, c, body, rewritten})
			}
			if invalid > 0 {
				return reported(fmt.Errorf("%d invalid file(s): nothing applied", invalid))
			}
			var done []*oda.Component
			if dryRun == "client" {
				for _, p := range todo {
					if p.c.Metadata.Namespace == "" {
						p.c.Metadata.Namespace = oda.DefaultNamespace
					}
					done = append(done, p.c)
				}
				return printApplied(cmd.OutOrStdout(), output, done, func(w io.Writer) {
					for _, c := range done {
						fmt.Fprintf(w, "component %s/%s checked (dry run: client, nothing sent)\n", c.Metadata.Namespace, c.Metadata.Name)
					}
				})
			}
			ctx := cmd.Context()
			cl, err := remote.dial(ctx)
			if err != nil {
				return err
			}
			defer cl.Close()
			send, suffix := cl.Apply, ""
			if dryRun == "server" {
				send, suffix = cl.DryApply, " (dry run: server, nothing stored)"
			}
			var (
				targets []waitTarget
				lines   []string
			)
			for _, p := range todo {
				out, created, err := send(ctx, p.src.name, p.body)
				if err != nil {
					if p.rewritten {
						dropLines(err) // lines of the re-encoded body mean nothing in the file
					}
					return apiError(cmd, err)
				}
				verb := "configured"
				if created {
					verb = "created"
				}
				line := fmt.Sprintf("component %s/%s %s (generation %d)%s", out.Metadata.Namespace, out.Metadata.Name, verb, out.Metadata.Generation, suffix)
				if output == "text" {
					fmt.Fprintln(cmd.OutOrStdout(), line) // at once: a later failure must not hide what was stored
				}
				lines = append(lines, line)
				done = append(done, out)
				targets = append(targets, waitTarget{namespace: out.Metadata.Namespace, name: out.Metadata.Name, generation: out.Metadata.Generation})
			}
			if output != "text" {
				if err := printApplied(cmd.OutOrStdout(), output, done, nil); err != nil {
					return err
				}
			}
			if !wait {
				return nil
			}
			return waitComplete(ctx, cmd, cl, targets, timeout)
		},
	}
	cmd.Flags().StringArrayVarP(&files, "filename", "f", nil, "Component file, directory of files, or - for standard input (repeatable)")
	cmd.Flags().BoolVarP(&recursive, "recursive", "R", false, "descend into subdirectories of a -f directory")
	cmd.Flags().StringVar(&implsFile, "implementations", "", "YAML map of implementation name to Wasm artefact (OCI reference or file:// path)")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until every Component is Complete (or Failed)")
	cmd.Flags().DurationVar(&timeout, "timeout", DefaultWaitTimeout, "how long --wait waits")
	cmd.Flags().StringVar(&dryRun, "dry-run", "none", "server: canvasd checks everything and stores nothing; client: local checks only, nothing sent")
	cmd.Flags().Lookup("dry-run").NoOptDefVal = "server"
	outputFlag(cmd, &output, "text", "json", "yaml")
	remote.add(cmd)
	return cmd
}

// printApplied prints what apply stored (or would): one Component as an
// object, several as a ComponentList, as kubectl does; text calls text.
func printApplied(w io.Writer, output string, cs []*oda.Component, text func(io.Writer)) error {
	var v any = wire.ComponentList{APIVersion: oda.APIVersionV1, Kind: wire.KindComponentList, Items: cs}
	if len(cs) == 1 {
		v = cs[0]
	}
	if text == nil {
		text = func(io.Writer) {}
	}
	return printData(w, output, v, text)
}

func loadImplsFile(path string) (map[string]string, error) {
	if path == "" {
		return nil, nil
	}
	data, err := readImplsFile(path)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	return translate.ParseImplementations(path, data, abs)
}

// prepareBody parses s (reporting every error with its line) and returns
// what to send: the file as written when its implementations annotation
// needs no change, else the Component re-encoded as JSON with the merged,
// absolute artefact map in the annotation.
func prepareBody(s source, fromFile map[string]string) (c *oda.Component, body []byte, rewritten bool, err error) {
	c, err = oda.Parse(s.name, s.data)
	if err != nil {
		return nil, nil, false, err
	}
	merged, err := translate.AnnotationImplementations(c, s.dir)
	if err != nil {
		return nil, nil, false, err
	}
	for k, v := range fromFile {
		merged[k] = v
	}
	if len(merged) == 0 {
		return c, s.data, false, nil
	}
	ann, err := json.Marshal(merged) // map keys marshal sorted: deterministic
	if err != nil {
		return nil, nil, false, err
	}
	if c.Metadata.Annotations[oda.AnnotationImplementations] == string(ann) {
		return c, s.data, false, nil
	}
	if c.Metadata.Annotations == nil {
		c.Metadata.Annotations = map[string]string{}
	}
	c.Metadata.Annotations[oda.AnnotationImplementations] = string(ann)
	body, err = oda.Marshal(c, "json")
	if err != nil {
		return nil, nil, false, fmt.Errorf("%s: re-encoding with resolved implementations: %w", s.name, err)
	}
	return c, body, true, nil
}

func dropLines(err error) {
	if p, ok := err.(*wire.Problem); ok {
		for i := range p.Errors {
			p.Errors[i].Line = 0
		}
	}
}

// waitTarget is a Component --wait follows: done when the status observed
// generation (or a later one) and says Complete.
type waitTarget struct {
	namespace, name string
	generation      int64
}

func (t waitTarget) String() string { return t.namespace + "/" + t.name }

// waitState is what --wait knows about one target.
type waitState struct {
	phase   string // deployment_status, or "Pending" until this generation is observed
	wadm    string // wadm status type
	done    bool
	failure string
}

func (s waitState) line() string {
	out := s.phase
	if s.wadm != "" {
		out += " (wadm " + s.wadm + ")"
	}
	return out
}

func evaluate(t waitTarget, c *oda.Component) waitState {
	st := c.Status
	if st == nil || st.Summary == nil || st.WasmCloud == nil || st.WasmCloud.ObservedGeneration < t.generation {
		return waitState{phase: "Pending"}
	}
	ws := waitState{phase: st.Summary.DeploymentStatus, wadm: st.WasmCloud.Status}
	switch ws.phase {
	case oda.DeploymentComplete:
		ws.done = true
	case oda.DeploymentFailed:
		ws.done = true
		ws.failure = st.Summary.FailureReason
		if st.Summary.FailedPart != "" {
			ws.failure += " (part " + st.Summary.FailedPart + ")"
		}
		if ws.failure == "" {
			ws.failure = st.WasmCloud.Message
		}
	}
	return ws
}

// errWaitDone ends the watch callback once every target is done.
var errWaitDone = fmt.Errorf("all done")

// rewatchPause spaces re-watches after the stream ended or the server was
// unreachable.
const rewatchPause = 500 * time.Millisecond

// waitComplete follows targets until all are Complete, one Failed, or
// timeout. It re-watches when the server ends the stream (restart), so a
// canvasd restart during --wait only delays it.
func waitComplete(ctx context.Context, cmd *cobra.Command, cl client.Client, targets []waitTarget, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out := cmd.OutOrStdout()
	tty := isTerminal(out)
	start := time.Now()
	byKey := map[string]waitTarget{}
	states := map[string]waitState{}
	for _, t := range targets {
		byKey[t.String()] = t
		states[t.String()] = waitState{phase: "Pending"}
	}
	ns, name := "", ""
	if len(targets) == 1 {
		ns, name = targets[0].namespace, targets[0].name
	}
	var lastErr error
	render := func(changed string) {
		if tty {
			complete := 0
			for _, s := range states {
				if s.done && s.failure == "" {
					complete++
				}
			}
			line := fmt.Sprintf("%s: %s", changed, states[changed].line())
			if len(targets) > 1 {
				line = fmt.Sprintf("%d/%d Complete · %s", complete, len(targets), line)
			}
			fmt.Fprint(rawOf(out), "\r\033[K") // the CLI's own controls; the line is text from canvasd
			fmt.Fprintf(out, "%s [%s]", line, time.Since(start).Round(time.Second))
			return
		}
		fmt.Fprintf(out, "%s: %s\n", changed, states[changed].line())
	}
	allDone := func() bool {
		for _, s := range states {
			if !s.done {
				return false
			}
		}
		return true
	}
	for {
		err := cl.Watch(ctx, ns, name, func(ev wire.WatchEvent) error {
			if ev.Type == wire.WatchBookmark || ev.Object == nil {
				if allDone() {
					return errWaitDone
				}
				return nil
			}
			key := ev.Object.Metadata.Namespace + "/" + ev.Object.Metadata.Name
			t, ok := byKey[key]
			if !ok {
				return nil
			}
			var s waitState
			if ev.Type == wire.WatchDeleted {
				s = waitState{phase: "Deleted", done: true, failure: "the component was deleted while waiting"}
			} else {
				s = evaluate(t, ev.Object)
			}
			if s != states[key] {
				states[key] = s
				render(key)
			}
			if allDone() {
				return errWaitDone
			}
			return nil
		})
		if err == errWaitDone {
			break
		}
		if ctx.Err() != nil {
			break
		}
		lastErr = err
		select {
		case <-ctx.Done():
		case <-time.After(rewatchPause):
		}
	}
	if tty {
		fmt.Fprintln(out)
	}
	var failed, pending []string
	for _, t := range targets {
		s := states[t.String()]
		switch {
		case s.failure != "":
			failed = append(failed, fmt.Sprintf("%s: %s: %s", t, s.phase, s.failure))
		case !s.done:
			pending = append(pending, fmt.Sprintf("%s is %s", t, s.line()))
		case tty:
			fmt.Fprintf(out, "%s: %s\n", t, s.phase)
		}
	}
	w := cmd.ErrOrStderr()
	for _, f := range failed {
		fmt.Fprintln(w, f)
	}
	if len(pending) > 0 {
		msg := fmt.Sprintf("timed out after %s waiting:", timeout)
		for _, p := range pending {
			msg += "\n  " + p
		}
		if lastErr != nil && lastErr != client.ErrWatchEnded {
			msg += "\n  last error: " + lastErr.Error()
		}
		fmt.Fprintln(w, msg)
	}
	if len(failed) > 0 || len(pending) > 0 {
		return reported(fmt.Errorf("%d failed, %d not complete", len(failed), len(pending)))
	}
	return nil
}
