package node

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
	"github.com/wasmcanvas/wasmcanvas/pkg/artefact"
)

// fakeRegistry is a registry on 127.0.0.1 whose answers the test writes:
// manifest answers every GET of a manifest, blob every GET of a blob.
// stop is closed before the server closes, so a handler that stalls ends.
type fakeRegistry struct {
	host string
	stop <-chan struct{}
}

func startFakeRegistry(t *testing.T, manifest, blob http.HandlerFunc) fakeRegistry {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/v2/":
			w.WriteHeader(http.StatusOK)
		case strings.Contains(r.URL.Path, "/manifests/") && manifest != nil:
			manifest(w, r)
		case strings.Contains(r.URL.Path, "/blobs/") && blob != nil:
			blob(w, r)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) }) // runs before srv.Close
	return fakeRegistry{host: srv.Listener.Addr().String(), stop: stop}
}

// wasmManifest is an OCI manifest of one application/wasm layer.
func wasmManifest(digest string, size int64) []byte {
	return fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":%q,"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},`+
		`"layers":[{"mediaType":%q,"digest":%q,"size":%d}]}`, MediaTypeWasmConfig, MediaTypeWasm, digest, size)
}

func serveManifest(m []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
		_, _ = w.Write(m)
	}
}

// stall answers nothing until the request or the registry ends.
func (reg fakeRegistry) stall(_ http.ResponseWriter, r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-reg.stop:
	}
}

// drip sends b, then a byte every 20 ms until the request or the registry
// ends.
func (reg fakeRegistry) drip(b []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(b)
		w.(http.Flusher).Flush()
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for range 100_000 {
			select {
			case <-r.Context().Done():
				return
			case <-reg.stop:
				return
			case <-t.C:
			}
			if _, err := w.Write([]byte{0}); err != nil {
				return
			}
			w.(http.Flusher).Flush()
		}
	}
}

func testOCI(t *testing.T) *OCI {
	t.Helper()
	o, err := NewOCI(t.TempDir(), testkit.Logger(t, 0))
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// fetchWithin is o.Fetch bounded in time: a pull that hangs fails the
// test instead of the run.
func fetchWithin(t *testing.T, o *OCI, ref string) (*artefact.Wasm, error) {
	t.Helper()
	type result struct {
		w   *artefact.Wasm
		err error
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan result, 1)
	go func() {
		w, err := o.Fetch(ctx, ref)
		done <- result{w, err}
	}()
	select {
	case res := <-done:
		cancel()
		return res.w, res.err
	case <-time.After(20 * time.Second):
		cancel()
		<-done
		t.Fatalf("Fetch(%s) did not return", ref)
		return nil, nil
	}
}

func echoBytes(t *testing.T) ([]byte, string) {
	t.Helper()
	b, err := os.ReadFile(echoWasm(t))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return b, "sha256:" + hex.EncodeToString(sum[:])
}

// TestOCIPullEndsWhenTheRegistryStalls: a registry that never answers, or
// drips its layer a byte at a time, fails the pull within the node's
// deadlines (shortened here) with an error naming the reference, what did
// not arrive and the fix; without them the node's one job worker waited
// for ever.
func TestOCIPullEndsWhenTheRegistryStalls(t *testing.T) {
	t.Parallel()
	wasm, digest := echoBytes(t)
	var stalled, dripped fakeRegistry
	stalled = startFakeRegistry(t, func(w http.ResponseWriter, r *http.Request) { stalled.stall(w, r) }, nil)
	dripped = startFakeRegistry(t, serveManifest(wasmManifest(digest, int64(len(wasm)))),
		func(w http.ResponseWriter, r *http.Request) { dripped.drip(wasm[:16])(w, r) })
	for _, tc := range []struct {
		name, ref, want string
	}{
		{"manifest never answers", stalled.host + "/components/echo:1", "did not send the manifest within 300ms"},
		{"layer drips", dripped.host + "/components/echo:1", "did not send layer " + digest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := testOCI(t)
			o.answer, o.minRate = 300*time.Millisecond, 1<<30
			_, err := fetchWithin(t, o, tc.ref)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.ref) || !strings.Contains(err.Error(), "(check ") {
				t.Errorf("Fetch(%s) = %v, want it to name the reference, say %q and the fix", tc.ref, err, tc.want)
			}
		})
	}
}
