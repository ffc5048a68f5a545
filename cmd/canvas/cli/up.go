package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap/zapcore"

	"github.com/wasmcanvas/wasmcanvas/pkg/daemon"
	"github.com/wasmcanvas/wasmcanvas/pkg/runtime"
	"github.com/wasmcanvas/wasmcanvas/pkg/up"
)

// upChildEnv marks the background process `canvas up --detach` starts.
const upChildEnv = "WASMCANVAS_UP_CHILD"

// upLogFile receives a detached canvas's logs, in the state directory.
const upLogFile = "canvas-up.log"

func newUpCmd() *cobra.Command {
	var (
		opts     up.Options
		detach   bool
		logLevel string
		timeout  time.Duration
	)
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run the whole canvas on this machine (NATS, control plane, Wasm runtime, gateway)",
		Long: `up starts the embedded canvas in one process: nats-server with JetStream
(data under the state directory), canvasd's control plane, the wasmtime
runtime that runs the Components' Wasm, and the HTTP gateway that serves
their APIs on 127.0.0.1. Applied Components survive a restart and are
served again.

It runs in the foreground until Ctrl-C; with --detach it starts in the
background, waits until the canvas is ready, prints where it serves and
returns (stop it with 'canvas down'). The API (--listen) needs a token: the
local admin credential written 0600 to the state directory's admin-token,
which the canvas CLI sends by itself, or one from the embedded OpenID issuer
at the API's /oidc ('canvas token'). So do the exposed APIs of a Component
with a securityFunction: a token whose audience is the Component's client id
holding one of its roles, from a client that 'canvas client create NAME
--grant COMPONENT=ROLE' registers (401 without one; metrics APIs stay open
to scrapers). Ready means serving: after a restart, every stored Component
serves again (or has failed); until then its paths answer 503 with
Retry-After. One state directory runs one canvas: a second
'canvas up' on it refuses, and a port that is taken fails at once, naming
the flag that moves it.

Each request runs in a fresh Wasm instance. Components get COMPONENT_NAME
and COMPONENT_NAMESPACE in their environment; one with dependent APIs also
gets CANVAS_INFO_URL, the canvas info service on the ingress that answers
its dependencies' urls, and may call the ingress and the --allow-outbound
authorities (nothing else). A component that imports wasi:io/streams is
wrapped at load so that its bodies cross into the runtime in bulk (canvas
describe says "bodies in bulk"); WASMCANVAS_STREAM_ADAPTER=off loads
components as they are. A component never seen before serves at once from
quickly compiled baseline code (by Winch; WASMCANVAS_WINCH=off has
Cranelift compile it, about three times slower) until its optimised code,
compiled in the background, takes over; canvas describe says which serves.
WASMCANVAS_PAGEMAP_SCAN=on resets only the memory pages a request wrote
(Linux 6.7+): faster for small components, slower for JavaScript ones.

Every request gets a span that continues the client's W3C traceparent, and
a component's calls to dependent APIs a child span whose traceparent they
carry; spans, logs and metrics go over OTLP/HTTP where the standard OTEL_*
variables say (OTEL_EXPORTER_OTLP_ENDPOINT; none set: no export). A
Component's managementFunction API of apiType prometheus answers on the
ingress with that Component's series (requests, duration, errors by API
and status, in-flight instances, what it recorded); the status's
managementAPIs url points there. The API's /metrics keeps the canvas's own.

file:// artefacts are read only from the artefact roots: the directory
'canvas up' runs in and its state directory, or instead the directories
given with --artefact-root. Only regular files holding a WebAssembly
component binary load; anything else (a file outside the roots or whose
symlinks lead out of them, a directory, a device, a FIFO, WAT text) fails
the Component with a reason that quotes none of the file's content.
Clients cannot widen the roots.

Many hosts means real wasmCloud hosts and wadm on a NATS cluster (canvasd
--nats-url ...); 'canvas up' never pretends to schedule across hosts.`,
		Example: `  canvas up
  canvas up --detach && canvas apply -f examples/productcatalog/component.yaml --wait
  canvas up --state-dir /tmp/canvas --ingress 127.0.0.1:9080 --listen 127.0.0.1:9443
  canvas up --artefact-root ./build --artefact-root /srv/wasm`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			level, err := zapcore.ParseLevel(logLevel)
			if err != nil {
				return usageErrorf("--log-level %q: use debug, info, warn or error", logLevel)
			}
			if opts.StateDir == "" {
				if opts.StateDir, err = daemon.DefaultStateDir(); err != nil {
					return err
				}
			}
			// Unset, the runtime picks its default pool (and falls back to
			// on-demand where the pool's address space cannot be reserved).
			if !cmd.Flags().Changed("max-instances") {
				opts.MaxInstances = 0
			} else {
				opts.OnDemand = opts.MaxInstances == 0
			}
			if detach && os.Getenv(upChildEnv) == "" {
				return upDetached(cmd, opts, timeout)
			}
			return upForeground(cmd, opts, level)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.StateDir, "state-dir", "", "state directory (default $XDG_STATE_HOME/wasmcanvas)")
	f.StringVar(&opts.Listen, "listen", up.DefaultListen, "canvasd API address")
	f.StringVar(&opts.KubeListen, "kube-listen", daemon.DefaultKubeListen, "TLS address of the Kubernetes-style API for kubectl (port 0: any free port; off: none); see canvas kubeconfig")
	f.StringVar(&opts.Ingress, "ingress", up.DefaultIngress, "gateway address serving the Components' APIs")
	f.IntVar(&opts.NATSPort, "nats-port", up.DefaultNATSPort, "embedded NATS client port on 127.0.0.1 (-1: any free port)")
	f.DurationVar(&opts.Limits.RequestTimeout, "request-timeout", runtime.DefaultRequestTimeout, "deadline of one request to a Wasm component (504 after it)")
	f.Int64Var(&opts.Limits.MaxMemoryBytes, "max-memory", runtime.DefaultMaxMemoryBytes, "memory cap of one component instance, in bytes")
	f.Uint32Var(&opts.MaxInstances, "max-instances", runtime.DefaultPoolInstances, "Wasm instances alive at once across all components (one per in-flight request, until it is torn down; more wait), pre-reserved by wasmtime's pooling allocator; 0 maps memory per request instead")
	f.Uint64Var(&opts.ResidentBytes, "resident-memory", runtime.DefaultResidentBytes, "bytes of each pooled instance's memory kept resident between requests and reset in place rather than unmapped: enough for a component's heap (a JavaScript one is 10 MiB) spares its requests page faults; costs up to --max-instances times this in RSS")
	f.StringSliceVar(&opts.AllowOutbound, "allow-outbound", nil, "authorities (host, host:port, *.domain) outside the canvas that components with dependent APIs may call; the canvas's own ingress is always allowed to them")
	f.StringArrayVar(&opts.PeerCanvases, "peer-canvas", nil, "base `URL` of another canvas's canvas-info service (repeatable): register this canvas's exposed APIs there and resolve dependent APIs against the APIs it lists")
	f.StringArrayVar(&opts.ArtefactRoots, "artefact-root", nil, "directory file:// artefacts may be read from (repeatable); given, it replaces the default: the directory canvas up runs in and the state directory")
	f.BoolVarP(&detach, "detach", "d", false, "run in the background; stop with 'canvas down'")
	f.DurationVar(&timeout, "timeout", 2*time.Minute, "with --detach: how long to wait for the canvas to be ready")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	return cmd
}

func upForeground(cmd *cobra.Command, opts up.Options, level zapcore.Level) error {
	log, err := stderrLogger(level)
	if err != nil {
		return err
	}
	defer log.Sync()
	opts.Logger = log
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c, err := up.Start(ctx, opts)
	if err != nil {
		return fmt.Errorf("canvas up: %w", err)
	}
	printBanner(cmd.OutOrStdout(), c.Info(), os.Getenv(upChildEnv) != "")
	return runUntilStopped(ctx, cmd, "canvas up", c)
}

// upDetached starts `canvas up` again in its own session with its output in
// the state directory, and returns once it serves (or says why it failed).
func upDetached(cmd *cobra.Command, opts up.Options, timeout time.Duration) error {
	stateDir := opts.StateDir
	if info, ok := up.Running(stateDir); ok {
		return fmt.Errorf("canvas up: state directory %s is in use by canvas up (pid %d, API %s): stop it with `%s down --state-dir %s`", stateDir, info.PID, info.API, self(), shellQuote(stateDir))
	}
	// The child checks again; checking here fails fast without its log.
	if err := up.CheckPorts(opts); err != nil {
		return fmt.Errorf("canvas up: %w", err)
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return fmt.Errorf("state directory (--state-dir): %w", err)
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	logPath := filepath.Join(stateDir, upLogFile)
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("log file: %w", err)
	}
	defer logFile.Close()
	// Only this start's lines explain its failure (the log is appended to).
	logStart, _ := logFile.Seek(0, io.SeekEnd)
	args := slices.DeleteFunc(slices.Clone(os.Args[1:]), func(a string) bool { return a == "--detach" || a == "-d" || a == "--detach=true" })
	if !slices.Contains(args, "--state-dir") {
		args = append(args, "--state-dir", stateDir)
	}
	child := exec.Command(exe, args...)
	child.Env = append(os.Environ(), upChildEnv+"=1")
	child.Stdout, child.Stderr = logFile, logFile
	child.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := child.Start(); err != nil {
		return fmt.Errorf("start canvas up in the background: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- child.Wait() }()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-exited:
			return startFailure(logPath, logStart, err)
		case <-deadline.C:
			_ = child.Process.Signal(syscall.SIGTERM)
			return fmt.Errorf("canvas up did not become ready within %s (see %s):\n%s", timeout, logPath, tail(logPath, logStart, 20))
		case <-tick.C:
			if info, ok := up.Running(stateDir); ok && info.PID == child.Process.Pid && info.API != "" {
				printBanner(cmd.OutOrStdout(), info, true)
				fmt.Fprintf(cmd.OutOrStdout(), "Logs: %s\n", logPath)
				_ = child.Process.Release()
				return nil
			}
		}
	}
}

// printBanner says where the canvas serves and prints the next commands as
// they can be pasted: the program as it was invoked, and --server when the
// API is not where the CLI looks by default.
func printBanner(w io.Writer, info up.Info, detached bool) {
	canvas := self()
	server := ""
	if info.API != DefaultServer {
		server = " --server " + info.API
	}
	fmt.Fprintf(w, "wasmcanvas is up (pid %d, state %s)\n", info.PID, info.StateDir)
	fmt.Fprintf(w, "  API      %s   (%s get components --server %s)\n", info.API, canvas, info.API)
	fmt.Fprintf(w, "  Ingress  %s   (the Components' APIs)\n", info.Ingress)
	if info.Kube != "" {
		fmt.Fprintf(w, "  Kube API %s   (%s kubeconfig --state-dir %s > kc && kubectl --kubeconfig kc get components)\n", info.Kube, canvas, shellQuote(info.StateDir))
	}
	fmt.Fprintf(w, "  NATS     %s   (JetStream)\n\n", info.NATS)
	fmt.Fprintf(w, "Next: %s apply -f examples/productcatalog/component.yaml --wait%s\n", canvas, server)
	if detached {
		fmt.Fprintf(w, "Stop: %s down --state-dir %s\n", canvas, shellQuote(info.StateDir))
	} else {
		fmt.Fprintf(w, "Stop: Ctrl-C\n")
	}
}

// self is this program as the user invoked it ("bin/canvas", or "canvas"
// when found on PATH), for hints that can be pasted.
func self() string {
	if len(os.Args) == 0 || !strings.Contains(os.Args[0], "/") {
		return "canvas"
	}
	return shellQuote(os.Args[0])
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@%+,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// startFailure explains why the background canvas up exited while
// starting: its own error line when it printed one, else its last log
// lines.
func startFailure(logPath string, from int64, exit error) error {
	out := tail(logPath, from, 50)
	lines := strings.Split(out, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if msg, ok := strings.CutPrefix(lines[i], "error: "); ok {
			return fmt.Errorf("%s (log: %s)", msg, logPath)
		}
	}
	return fmt.Errorf("canvas up exited while starting (%v):\n%s", exit, out)
}

// tail returns the last n lines of a file from offset from, for start-up
// errors.
func tail(path string, from int64, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if from > 0 && from <= int64(len(data)) {
		data = data[from:]
	}
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

func newDownCmd() *cobra.Command {
	var (
		stateDir string
		timeout  time.Duration
	)
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Stop the canvas that 'canvas up' runs on a state directory",
		Long: `down sends the canvas running on the state directory a graceful stop
(SIGTERM) and waits until it has stopped: in-flight requests finish, the
Components' desired state stays in JetStream for the next 'canvas up'.`,
		Example: "  canvas down\n  canvas down --state-dir /tmp/canvas --timeout 1m",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if stateDir == "" {
				var err error
				if stateDir, err = daemon.DefaultStateDir(); err != nil {
					return err
				}
			}
			info, ok := up.Running(stateDir)
			if !ok {
				return notRunning(stateDir)
			}
			proc, err := os.FindProcess(info.PID)
			if err != nil {
				return err
			}
			if err := proc.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
				return fmt.Errorf("stop canvas up (pid %d): %w", info.PID, err)
			}
			deadline := time.Now().Add(timeout)
			for {
				if _, ok := up.Running(stateDir); !ok {
					fmt.Fprintf(cmd.OutOrStdout(), "canvas stopped (pid %d)\n", info.PID)
					return nil
				}
				if time.Now().After(deadline) {
					return fmt.Errorf("canvas up (pid %d) is still running after %s; see %s, or kill -9 %d", info.PID, timeout, filepath.Join(stateDir, upLogFile), info.PID)
				}
				time.Sleep(100 * time.Millisecond)
			}
		},
	}
	cmd.Flags().StringVar(&stateDir, "state-dir", "", "state directory of the canvas to stop (default $XDG_STATE_HOME/wasmcanvas)")
	cmd.Flags().DurationVar(&timeout, "timeout", 45*time.Second, "how long to wait for it to stop")
	return cmd
}

// notRunning is down's error for a state directory without a canvas: it
// names the canvases that do run, so the right --state-dir is at hand.
func notRunning(stateDir string) error {
	known := up.Known()
	if len(known) == 0 {
		return fmt.Errorf("no canvas is running with state directory %s, nor any other this user started", stateDir)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "no canvas is running with state directory %s; running:", stateDir)
	for _, info := range known {
		fmt.Fprintf(&b, " `%s down --state-dir %s` (API %s);", self(), shellQuote(info.StateDir), info.API)
	}
	return errors.New(strings.TrimSuffix(b.String(), ";"))
}
