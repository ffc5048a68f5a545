package store

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/embedded"
)

// The crash tests re-run this test binary as helper processes (chosen by
// helperEnv) so they can SIGKILL a real nats-server and a real writer.
const (
	helperEnv    = "WASMCANVAS_STORE_TEST_HELPER"
	helperDirEnv = "WASMCANVAS_STORE_TEST_DIR"
	helperURLEnv = "WASMCANVAS_STORE_TEST_URL"
	writerMax    = 100000
)

func TestMain(m *testing.M) {
	switch role := os.Getenv(helperEnv); role {
	case "":
		testkit.VerifyNoLeaks(m)
	case "server":
		os.Exit(serverHelper())
	case "writer":
		os.Exit(writerHelper())
	default:
		fmt.Fprintf(os.Stderr, "unknown %s=%q\n", helperEnv, role)
		os.Exit(2)
	}
}

// serverHelper runs the embedded nats-server (the same code canvas up runs)
// until its stdin closes, i.e. until the test process is gone.
func serverHelper() int {
	e, err := embedded.Start(embedded.Config{StoreDir: os.Getenv(helperDirEnv), Port: -1})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("URL %s\n", e.ClientURL())
	_, _ = io.Copy(io.Discard, os.Stdin)
	e.Shutdown()
	e.WaitForShutdown()
	return 0
}

// writerHelper puts new keys as fast as it can and prints each acknowledged
// revision, one line per write, until it is killed.
func writerHelper() int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	nc, err := lattice.Connect(ctx, lattice.Config{URLs: os.Getenv(helperURLEnv)}, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	s, err := New[doc](ctx, js, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for i := range writerMax {
		rev, err := s.Put(ctx, "crash", fmt.Sprintf("c%d", i), doc{N: i})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		// One write(2) per line: a kill cannot leave half an ack behind.
		if _, err := fmt.Fprintf(os.Stdout, "ACK c%d %d %d\n", i, i, rev); err != nil {
			return 1
		}
	}
	return 0
}

type helperProc struct {
	cmd    *exec.Cmd
	lines  chan string
	stderr *testkit.Buffer
}

func startHelper(t *testing.T, role string, env ...string) *helperProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), helperEnv+"="+role), env...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &helperProc{cmd: cmd, lines: make(chan string, writerMax), stderr: &testkit.Buffer{}}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Reads until the process's stdout closes, i.e. until it exits.
	go func() {
		defer close(p.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("%s helper stderr:\n%s", role, p.stderr.String())
		}
	})
	return p
}

// line waits for the next stdout line of the helper.
func (p *helperProc) line(t *testing.T) (string, bool) {
	t.Helper()
	select {
	case l, ok := <-p.lines:
		return l, ok
	case <-time.After(30 * time.Second):
		t.Fatalf("helper printed nothing for 30s; stderr:\n%s", p.stderr.String())
	}
	return "", false
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *helperProc) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_, _ = p.cmd.Process.Wait()
}

func startServerProc(t *testing.T, dir string) (*helperProc, string) {
	t.Helper()
	p := startHelper(t, "server", helperDirEnv+"="+dir)
	l, ok := p.line(t)
	if !ok || !strings.HasPrefix(l, "URL ") {
		t.Fatalf("server helper said %q, want its URL; stderr:\n%s", l, p.stderr.String())
	}
	return p, strings.TrimPrefix(l, "URL ")
}

type acked struct {
	rev uint64
	n   int
}

// verifyAcked reopens the store through a fresh connection and checks that
// every acknowledged write is there at exactly its revision.
func verifyAcked(t *testing.T, url, ns string, want map[string]acked) {
	t.Helper()
	_, js := connect(t, url)
	ctx := testCtx(t)
	s, err := New[doc](ctx, js, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for name, w := range want {
		e, err := s.Get(ctx, ns, name)
		if err != nil {
			t.Fatalf("acknowledged write %s/%s (revision %d) lost: %v", ns, name, w.rev, err)
		}
		if e.Revision != w.rev || e.Value.N != w.n {
			t.Fatalf("%s/%s: revision %d value %d, want the acknowledged revision %d value %d", ns, name, e.Revision, e.Value.N, w.rev, w.n)
		}
	}
	l, err := s.List(ctx, ns)
	if err != nil {
		t.Fatal(err)
	}
	if len(l) < len(want) {
		t.Fatalf("List(%s) has %d entries, want at least the %d acknowledged", ns, len(l), len(want))
	}
}

// TestAckedWritesSurviveServerKill writes through a real nats-server process,
// SIGKILLs it, restarts it on the same store and finds every acknowledged
// write at its revision.
func TestAckedWritesSurviveServerKill(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv, url := startServerProc(t, dir)

	_, js := connect(t, url)
	ctx := testCtx(t)
	s, err := New[doc](ctx, js, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]acked{}
	const n = 200
	for i := range n {
		name := fmt.Sprintf("c%d", i%50)
		var rev uint64
		if cur, ok := want[name]; ok && i%2 == 0 {
			rev, err = s.Update(ctx, "durable", name, doc{N: i}, cur.rev)
		} else {
			rev, err = s.Put(ctx, "durable", name, doc{N: i})
		}
		if err != nil {
			t.Fatal(err)
		}
		want[name] = acked{rev, i}
	}
	srv.kill(t)

	_, url2 := startServerProc(t, dir)
	verifyAcked(t, url2, "durable", want)
}

// TestAckedWritesSurviveWriterAndServerKill SIGKILLs a writer process in the
// middle of its stream, then the server: every write the writer saw
// acknowledged is there after the server restarts.
func TestAckedWritesSurviveWriterAndServerKill(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv, url := startServerProc(t, dir)
	w := startHelper(t, "writer", helperURLEnv+"="+url)

	want := map[string]acked{}
	record := func(l string) {
		var name string
		var n int
		var rev uint64
		if _, err := fmt.Sscanf(l, "ACK %s %d %d", &name, &n, &rev); err != nil {
			t.Fatalf("writer line %q: %v", l, err)
		}
		want[name] = acked{rev, n}
	}
	const killAfter = 300
	for len(want) < killAfter {
		l, ok := w.line(t)
		if !ok {
			t.Fatalf("writer exited after %d acks; stderr:\n%s", len(want), w.stderr.String())
		}
		record(l)
	}
	w.kill(t)
	// Acks printed before the kill are still in the pipe.
	for {
		l, ok := w.line(t)
		if !ok {
			break
		}
		record(l)
	}
	srv.kill(t)
	t.Logf("writer killed after %d acknowledged writes", len(want))

	_, url2 := startServerProc(t, dir)
	verifyAcked(t, url2, "crash", want)
	if rev := want["c"+strconv.Itoa(len(want)-1)].rev; rev == 0 {
		t.Fatalf("acks are not contiguous: %d acks but no c%d", len(want), len(want)-1)
	}
}
