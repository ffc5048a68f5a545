package daemontest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wasmcanvas/wasmcanvas/internal/testref"
	"github.com/wasmcanvas/wasmcanvas/pkg/daemon"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/embedded"

	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
)

// builtBinary is a Go main package built once per test binary into a
// temporary directory that Cleanup removes.
type builtBinary struct {
	pkg, name string
	once      sync.Once
	path      string
	err       error
}

var (
	canvasdBinary = &builtBinary{pkg: "./cmd/canvasd", name: "canvasd"}
	natsBinary    = &builtBinary{pkg: "github.com/nats-io/nats-server/v2", name: "nats-server"}
)

func (b *builtBinary) get(t testing.TB) string {
	t.Helper()
	b.once.Do(func() {
		root, err := testref.RepoRoot()
		if err != nil {
			b.err = err
			return
		}
		dir, err := os.MkdirTemp("", b.name+"-bin-")
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(dir, b.name)
		cmd := exec.Command("go", "build", "-o", b.path, b.pkg)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build %s: %w\n%s", b.pkg, err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// Binary builds cmd/canvasd once per test binary and returns its path.
func Binary(t testing.TB) string { return canvasdBinary.get(t) }

// Cleanup removes the built binaries; call it from TestMain after m.Run.
func Cleanup() {
	for _, bin := range []string{canvasdBinary.path, natsBinary.path} {
		if bin != "" {
			_ = os.RemoveAll(filepath.Dir(bin))
		}
	}
}

// Canvasd is one running canvasd process.
type Canvasd struct {
	t        testing.TB
	bin      string
	args     []string
	StateDir string
	// API is the HTTP API's base URL, read from the runtime file.
	API string

	cmd  *exec.Cmd
	log  *testkit.Buffer
	done chan struct{}
}

// Options of Start.
type Options struct {
	// NATS is the server URL (--nats); empty starts canvasd with
	// --embedded-nats on a random port.
	NATS string
	// StateDir defaults to a new temporary directory; reuse one to restart
	// a canvasd on the same state.
	StateDir string
	// Args are extra flags.
	Args []string
}

// Start runs canvasd on --listen 127.0.0.1:0 and waits until it is ready.
// Cleanup stops it (SIGTERM, then SIGKILL after 10s) and logs its output
// when the test failed.
func Start(t testing.TB, opts Options) *Canvasd {
	t.Helper()
	if opts.StateDir == "" {
		opts.StateDir = t.TempDir()
	}
	args := []string{"--listen", "127.0.0.1:0", "--state-dir", opts.StateDir, "--log-level", "info"}
	if opts.NATS != "" {
		args = append(args, "--nats", opts.NATS)
	} else {
		args = append(args, "--embedded-nats", "--nats-port", "-1")
	}
	c := &Canvasd{t: t, bin: Binary(t), args: append(args, opts.Args...), StateDir: opts.StateDir}
	if err := c.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Stop()
		if t.Failed() {
			t.Logf("canvasd output (%s):\n%s", c.StateDir, c.log.String())
		}
	})
	return c
}

// start runs the process and waits for readiness; it does not call
// t.Fatal, so Restart may run on a test's helper goroutine.
func (c *Canvasd) start() error {
	if c.log == nil {
		c.log = &testkit.Buffer{}
	}
	c.cmd = exec.Command(c.bin, c.args...)
	c.cmd.Stdout, c.cmd.Stderr = c.log, c.log
	c.cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+c.StateDir)
	if err := c.cmd.Start(); err != nil {
		return fmt.Errorf("start canvasd: %w", err)
	}
	c.done = make(chan struct{})
	go func() { // owned by the process: ends when it exits
		_ = c.cmd.Wait()
		close(c.done)
	}()
	pid := c.cmd.Process.Pid
	err := WaitFor(30*time.Second, func() error {
		select {
		case <-c.done:
			return fmt.Errorf("canvasd exited: %s", c.cmd.ProcessState)
		default:
		}
		ri, err := daemon.ReadRuntimeInfo(c.StateDir)
		if err != nil {
			return err
		}
		if ri.PID != pid {
			return fmt.Errorf("runtime file is of pid %d, not %d", ri.PID, pid)
		}
		c.API = ri.API
		return Ready(c.API)
	})
	if err != nil {
		return fmt.Errorf("canvasd not ready: %w\n%s", err, c.log.String())
	}
	return nil
}

// Ready returns nil when api's /readyz answers 200.
func Ready(api string) error {
	hc := http.Client{Timeout: 5 * time.Second}
	resp, err := hc.Get(api + "/readyz")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return fmt.Errorf("/readyz %s: %s", resp.Status, b.String())
	}
	return nil
}

// Restart starts the process again with the same flags and state dir
// after Stop or Kill, and waits until it is ready. Its output is appended
// to Log.
func (c *Canvasd) Restart() error { return c.start() }

// Kill ends the process with SIGKILL, as a crash would, and waits for it.
func (c *Canvasd) Kill() {
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.done
}

// Stop sends SIGTERM and waits up to 10s, then kills.
func (c *Canvasd) Stop() {
	if c.cmd == nil || c.cmd.Process == nil {
		return
	}
	select {
	case <-c.done:
		return
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		c.t.Errorf("canvasd did not stop within 10s of SIGTERM; killing it")
		_ = c.cmd.Process.Signal(syscall.SIGKILL)
		<-c.done
	}
}

// ExitCode is the process's exit code after it stopped (-1 when killed).
func (c *Canvasd) ExitCode() int {
	<-c.done
	return c.cmd.ProcessState.ExitCode()
}

// Log is what the process wrote so far.
func (c *Canvasd) Log() string { return c.log.String() }

// NATS is an embedded nats-server with JetStream that can be restarted on
// the same port and store directory.
type NATS struct {
	t    testing.TB
	dir  string
	port int
	srv  *embedded.Server
}

// StartNATS starts an embedded server on a random port; Cleanup stops it.
func StartNATS(t testing.TB) *NATS {
	t.Helper()
	n := &NATS{t: t, dir: t.TempDir(), port: -1}
	n.start()
	t.Cleanup(n.Stop)
	return n
}

func (n *NATS) start() {
	n.t.Helper()
	srv, err := embedded.Start(embedded.Config{StoreDir: n.dir, Port: n.port})
	if err != nil {
		n.t.Fatal(err)
	}
	n.srv = srv
	u, err := url.Parse(srv.ClientURL())
	if err != nil {
		n.t.Fatal(err)
	}
	if n.port, err = strconv.Atoi(u.Port()); err != nil {
		n.t.Fatal(err)
	}
}

// URL is the client URL.
func (n *NATS) URL() string { return "nats://127.0.0.1:" + strconv.Itoa(n.port) }

// JetStream connects to the server and returns its JetStream context; the
// connection closes at Cleanup.
func (n *NATS) JetStream(t testing.TB) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(n.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// Stop shuts the server down (idempotent).
func (n *NATS) Stop() {
	if n.srv != nil {
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
		n.srv = nil
	}
}

// Restart stops the server and starts it on the same port and store.
func (n *NATS) Restart() {
	n.t.Helper()
	n.Stop()
	n.start()
}

// WaitFor polls fn with growing pauses (up to 200ms) until it returns nil
// or total elapses; it returns fn's last error then.
func WaitFor(total time.Duration, fn func() error) error {
	deadline := time.Now().Add(total)
	pause := 10 * time.Millisecond
	for {
		err := fn()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %s: %w", total, err)
		}
		time.Sleep(pause)
		pause = min(pause*2, 200*time.Millisecond)
	}
}

// ErrNotYet is a WaitFor condition's "keep polling" without more to say.
var ErrNotYet = errors.New("not yet")

// Context returns a context ended by the test's end or after d.
func Context(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
