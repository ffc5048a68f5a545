package daemontest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
)

// NATSServerBinary builds nats-server (the module version in go.mod) once
// per test binary and returns its path; Cleanup removes it.
func NATSServerBinary(t testing.TB) string { return natsBinary.get(t) }

// NATSProcess is nats-server with JetStream as a separate process, on a
// fixed port and store directory so it can be killed and restarted.
type NATSProcess struct {
	t    testing.TB
	dir  string
	port int
	cmd  *exec.Cmd
	done chan struct{}
	log  *testkit.Buffer
	// conf, when set, is a config written elsewhere (StartNATSConfig),
	// and addr the address it listens on for clients.
	conf, addr string
}

// StartNATSProcess starts nats-server -js on a free port with its store in
// a temporary directory, fsyncing every write (as the embedded server
// does), and waits until it accepts clients. Cleanup stops it.
func StartNATSProcess(t testing.TB) *NATSProcess {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	NATSServerBinary(t)
	n := &NATSProcess{t: t, dir: t.TempDir(), port: port}
	conf := fmt.Sprintf("listen: 127.0.0.1:%d\nserver_name: e2e\njetstream {\n  store_dir: %q\n  sync_interval: always\n}\n", port, filepath.Join(n.dir, "js"))
	if err := os.WriteFile(filepath.Join(n.dir, "nats.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		n.stop(syscall.SIGTERM)
		if t.Failed() {
			t.Logf("nats-server output:\n%s", n.log.String())
		}
	})
	return n
}

// StartNATSConfig runs nats-server -c conf, a config written by the test's
// subject (e.g. `canvas lattice init`), and waits until addr, its client
// address, accepts connections. Cleanup stops it.
func StartNATSConfig(t testing.TB, conf, addr string) *NATSProcess {
	t.Helper()
	NATSServerBinary(t)
	n := &NATSProcess{t: t, conf: conf, addr: addr}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		n.stop(syscall.SIGTERM)
		if t.Failed() {
			t.Logf("nats-server %s output:\n%s", conf, n.log.String())
		}
	})
	return n
}

// Log is what the server wrote so far.
func (n *NATSProcess) Log() string { return n.log.String() }

// URL is the client URL.
func (n *NATSProcess) URL() string {
	if n.addr != "" {
		return "nats://" + n.addr
	}
	return "nats://127.0.0.1:" + strconv.Itoa(n.port)
}

// Start runs the server (again) and waits until a client can connect.
// It does not call t.Fatal, so it may run on a test's helper goroutine.
func (n *NATSProcess) Start() error {
	if n.log == nil {
		n.log = &testkit.Buffer{}
	}
	conf := n.conf
	if conf == "" {
		conf = filepath.Join(n.dir, "nats.conf")
	}
	n.cmd = exec.Command(natsBinary.path, "-c", conf)
	n.cmd.Stdout, n.cmd.Stderr = n.log, n.log
	if err := n.cmd.Start(); err != nil {
		return fmt.Errorf("start nats-server: %w", err)
	}
	n.done = make(chan struct{})
	go func() { // owned by the process: ends when it exits
		_ = n.cmd.Wait()
		close(n.done)
	}()
	err := WaitFor(30*time.Second, func() error {
		if n.addr != "" {
			// The server may require credentials: a TCP connection it
			// accepts is enough.
			c, err := net.DialTimeout("tcp", n.addr, time.Second)
			if err != nil {
				return err
			}
			return c.Close()
		}
		nc, err := nats.Connect(n.URL(), nats.Timeout(time.Second))
		if err != nil {
			return err
		}
		defer nc.Close()
		return nil
	})
	if err != nil {
		return fmt.Errorf("nats-server not accepting clients: %w\n%s", err, n.log.String())
	}
	return nil
}

// Kill ends the server with SIGKILL and waits for it.
func (n *NATSProcess) Kill() { n.stop(syscall.SIGKILL) }

func (n *NATSProcess) stop(sig syscall.Signal) {
	if n.cmd == nil || n.cmd.Process == nil {
		return
	}
	select {
	case <-n.done:
		return
	default:
	}
	_ = n.cmd.Process.Signal(sig)
	select {
	case <-n.done:
	case <-time.After(10 * time.Second):
		_ = n.cmd.Process.Signal(syscall.SIGKILL)
		<-n.done
	}
}
