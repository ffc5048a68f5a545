package node

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
	"github.com/wasmcanvas/wasmcanvas/pkg/artefact"
)

// startFakeRegistry starts a registry on 127.0.0.1 whose answers the test
// writes and returns its host:port. answers returns the handler of every
// GET of a manifest and that of every GET of a blob; stop, closed before
// the server closes, ends a handler that stalls.
func startFakeRegistry(t *testing.T, answers func(stop <-chan struct{}) (manifest, blob http.HandlerFunc)) string {
	t.Helper()
	stop := make(chan struct{})
	manifest, blob := answers(stop)
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
	t.Cleanup(func() { close(stop) }) // runs before srv.Close
	return srv.Listener.Addr().String()
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
func stall(stop <-chan struct{}) http.HandlerFunc {
	return func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}
}

// drip sends b, then a byte every 20 ms until the request or the registry
// ends.
func drip(stop <-chan struct{}, b []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(b)
		w.(http.Flusher).Flush()
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for range 100_000 {
			select {
			case <-r.Context().Done():
				return
			case <-stop:
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
// checkFetch fetches ref on a fresh node: with want "" it must give
// wasm, else fail naming ref and saying want, never quoting
// unquoted (what the registry or a redirect served).
func checkFetch(t *testing.T, ref string, wasm []byte, want, unquoted string) {
	t.Helper()
	w, err := fetchWithin(t, testOCI(t), ref)
	if want == "" {
		if err != nil || !bytes.Equal(w.Bytes, wasm) {
			t.Fatalf("Fetch(%s) = %v", ref, err)
		}
		return
	}
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), ref) {
		t.Errorf("Fetch(%s) = %v, want it to name the reference and say %q", ref, err, want)
	}
	if err != nil && strings.Contains(err.Error(), unquoted) {
		t.Errorf("the error quotes what the registry served (%q): %v", unquoted, err)
	}
}

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
	stalled := startFakeRegistry(t, func(stop <-chan struct{}) (http.HandlerFunc, http.HandlerFunc) { return stall(stop), nil })
	dripped := startFakeRegistry(t, func(stop <-chan struct{}) (http.HandlerFunc, http.HandlerFunc) {
		return serveManifest(wasmManifest(digest, int64(len(wasm)))), drip(stop, wasm[:16])
	})
	for _, tc := range []struct {
		name, ref, want string
	}{
		{"manifest never answers", stalled + "/components/echo:1", "did not send the manifest within 300ms"},
		{"layer drips", dripped + "/components/echo:1", "did not send layer " + digest},
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

// endless sends b, then zeros until the request or the registry ends.
func endless(stop <-chan struct{}, b []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if _, err := w.Write(b); err != nil {
			return
		}
		zeros := make([]byte, 32<<10)
		for range 1 << 16 { // 2 GiB: far past any limit
			select {
			case <-r.Context().Done():
				return
			case <-stop:
				return
			default:
			}
			if _, err := w.Write(zeros); err != nil {
				return
			}
		}
	}
}

func serveBlob(b []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(b) }
}

// TestOCILayerIsReadAsTheManifestDeclaresIt: the layer is read to the size
// the manifest declares and no further, checked against its sha256
// digest, and refused, naming the reference, when the registry sends
// fewer or more bytes, other bytes, or declares what cannot be read.
// An endless layer was read to the 256 MiB limit before it was refused as
// a digest mismatch.
func TestOCILayerIsReadAsTheManifestDeclaresIt(t *testing.T) {
	t.Parallel()
	wasm, digest := echoBytes(t)
	size := int64(len(wasm))
	other := append(bytes.Clone(wasm[:len(wasm)-1]), wasm[len(wasm)-1]^1)
	text := []byte("root:x:0:0:root:/root:/bin/bash\n")
	textSum := sha256.Sum256(text)
	textDigest := "sha256:" + hex.EncodeToString(textSum[:])
	sha512 := "sha512:" + strings.Repeat("ab", 64)
	tests := []struct {
		name     string
		manifest []byte
		blob     func(stop <-chan struct{}) http.HandlerFunc
		want     string
	}{
		{"good", wasmManifest(digest, size), func(<-chan struct{}) http.HandlerFunc { return serveBlob(wasm) }, ""},
		{"endless layer", wasmManifest(digest, size), func(stop <-chan struct{}) http.HandlerFunc { return endless(stop, wasm) }, fmt.Sprintf("sent more than the %d bytes the manifest declares for layer %s", size, digest)},
		{"longer layer", wasmManifest(digest, size-1), func(<-chan struct{}) http.HandlerFunc { return serveBlob(wasm) }, fmt.Sprintf("sent more than the %d bytes", size-1)},
		{"shorter layer", wasmManifest(digest, size), func(<-chan struct{}) http.HandlerFunc { return serveBlob(wasm[:100]) }, fmt.Sprintf("sent 100 of the %d bytes", size)},
		{"other bytes", wasmManifest(digest, size), func(<-chan struct{}) http.HandlerFunc { return serveBlob(other) }, "has digest sha256:"},
		{"not a component", wasmManifest(textDigest, int64(len(text))), func(<-chan struct{}) http.HandlerFunc { return serveBlob(text) }, `does not start with the \0asm header`},
		{"negative size", wasmManifest(digest, -1), func(<-chan struct{}) http.HandlerFunc { return serveBlob(wasm) }, "declares the Wasm layer's size as -1 bytes"},
		{"sha512 digest", wasmManifest(sha512, size), func(<-chan struct{}) http.HandlerFunc { return serveBlob(wasm) }, "names the Wasm layer by sha512; this canvas checks sha256"},
		{"over the limit", wasmManifest(digest, maxComponentBytes+1), func(<-chan struct{}) http.HandlerFunc { return serveBlob(wasm) }, "over the 536870912 limit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reg := startFakeRegistry(t, func(stop <-chan struct{}) (http.HandlerFunc, http.HandlerFunc) {
				return serveManifest(tc.manifest), tc.blob(stop)
			})
			ref := reg + "/components/echo:1"
			checkFetch(t, ref, wasm, tc.want, "root:x")
		})
	}
}

// TestOCIManifestIsBounded: a manifest is read to 4 MiB and no further
// (go-containerregistry alone reads 100 MiB and parses it twice), and one
// nested past what encoding/json takes is refused; each error names the
// reference.
func TestOCIManifestIsBounded(t *testing.T) {
	t.Parallel()
	wasm, digest := echoBytes(t)
	layer := fmt.Sprintf(`{"mediaType":"application/octet-stream","digest":%q,"size":%d}`, digest, len(wasm))
	manyLayers := bytes.NewBuffer(wasmManifest(digest, int64(len(wasm))))
	manyLayers.Truncate(manyLayers.Len() - 2) // reopen the layers list
	for manyLayers.Len() <= maxManifestBytes {
		manyLayers.WriteString("," + layer)
	}
	manyLayers.WriteString("]}")
	nested := append([]byte(`{"schemaVersion":2,"annotations":`), bytes.Repeat([]byte("["), 1<<20)...)
	tooLarge := fmt.Sprintf("sent a manifest of more than %d bytes", maxManifestBytes)
	for _, tc := range []struct {
		name     string
		manifest func(stop <-chan struct{}) http.HandlerFunc
		want     string
	}{
		{"many layers", func(<-chan struct{}) http.HandlerFunc { return serveManifest(manyLayers.Bytes()) }, tooLarge},
		{"endless", func(stop <-chan struct{}) http.HandlerFunc { return endless(stop, []byte(`{"schemaVersion":2,"x":"`)) }, tooLarge},
		{"deeply nested", func(<-chan struct{}) http.HandlerFunc { return serveManifest(nested) }, "manifest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reg := startFakeRegistry(t, func(stop <-chan struct{}) (http.HandlerFunc, http.HandlerFunc) {
				return tc.manifest(stop), serveBlob(wasm)
			})
			ref := reg + "/components/echo:1"
			_, err := fetchWithin(t, testOCI(t), ref)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), ref) {
				t.Errorf("Fetch(%s) = %v, want it to name the reference and say %q", ref, err, tc.want)
			}
		})
	}
}

func TestIsManifestPath(t *testing.T) {
	t.Parallel()
	for path, want := range map[string]bool{
		"/v2/components/echo/manifests/1.0":                      true,
		"/v2/components/echo/manifests/sha256:ab":                true,
		"/v2/org/manifests/manifests/latest":                     true,
		"/v2/org/manifests/blobs/sha256:ab":                      false,
		"/v2/components/echo/blobs/sha256:ab":                    false,
		"/v2/":                                                   false,
		"/token/manifests/x":                                     false,
		"/v2/org/manifests/x/blobs/uploads/0e1a-manifests-thing": false,
	} {
		if got := isManifestPath(path); got != want {
			t.Errorf("isManifestPath(%q) = %v, want %v", path, got, want)
		}
	}
}

// TestOCIRegistryRedirects: a registry may redirect within its own host
// (its blob store on another port), but not to another host on a loopback
// address, by IP literal or by name, on its ping or its manifest: the
// node's own services answered, and the error quoted their answer.
func TestOCIRegistryRedirects(t *testing.T) {
	t.Parallel()
	wasm, digest := echoBytes(t)
	const secret = "internal-secret-4be1"
	service := func(t *testing.T, addr string) string {
		t.Helper()
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Skipf("listen on %s: %v", addr, err)
		}
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.Contains(r.URL.Path, "/blobs/") {
				_, _ = w.Write(wasm)
				return
			}
			w.WriteHeader(http.StatusTeapot)
			_, _ = w.Write([]byte(secret))
		}))
		srv.Listener.Close()
		srv.Listener = ln
		srv.Start()
		t.Cleanup(srv.Close)
		return srv.Listener.Addr().String()
	}
	redirect := func(to string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://"+to+"/elsewhere"+r.URL.Path, http.StatusTemporaryRedirect)
		}
	}
	manifest := serveManifest(wasmManifest(digest, int64(len(wasm))))
	for _, tc := range []struct {
		name string
		// start returns the registry's handler, given the service's
		// address.
		start       func(other string) http.HandlerFunc
		serviceAddr string
		want        string
	}{
		{"blob on the registry's host", func(other string) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				switch {
				case r.URL.Path == "/v2/":
				case strings.Contains(r.URL.Path, "/manifests/"):
					manifest(w, r)
				default:
					redirect(other)(w, r)
				}
			}
		}, "127.0.0.1:0", ""},
		{"ping to another loopback address", redirect, "127.0.0.2:0", "a loopback, link-local or private address: refused"},
		{"manifest to localhost by name", func(other string) http.HandlerFunc {
			_, port, _ := net.SplitHostPort(other)
			return func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/v2/" {
					return
				}
				redirect("localhost:"+port)(w, r)
			}
		}, "127.0.0.1:0", "a loopback, link-local or private address: refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reg := httptest.NewServer(tc.start(service(t, tc.serviceAddr)))
			t.Cleanup(reg.Close)
			ref := reg.Listener.Addr().String() + "/components/echo:1"
			checkFetch(t, ref, wasm, tc.want, secret)
		})
	}
}

func TestCheckRedirect(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		from, to, want string // want "" allows it
	}{
		{"https://93.184.216.34/v2/", "https://93.184.216.35/blob", ""},
		{"https://10.0.0.2/v2/", "https://10.0.0.3/blob", ""},
		{"http://127.0.0.1:5000/v2/", "http://127.0.0.1:5001/blob", ""},
		{"https://93.184.216.34/v2/", "http://93.184.216.34/blob", "down from https"},
		{"https://93.184.216.34/v2/", "https://169.254.169.254/latest/meta-data/", "at 169.254.169.254, a loopback, link-local or private address: refused"},
		{"https://93.184.216.34/v2/", "https://10.0.0.3/blob", "at 10.0.0.3"},
		{"https://93.184.216.34/v2/", "https://[::1]/blob", "at ::1"},
		{"https://93.184.216.34/v2/", "https://[::ffff:127.0.0.1]/blob", "at 127.0.0.1"},
		{"https://93.184.216.34/v2/", "https://0.0.0.0/blob", "at 0.0.0.0"},
		{"https://10.0.0.2/v2/", "https://[fe80::1%25eth0]/blob", "at fe80::1%eth0"},
	} {
		first := httptest.NewRequest(http.MethodGet, tc.from, nil)
		next := httptest.NewRequest(http.MethodGet, tc.to, nil)
		next.Response = &http.Response{Request: first}
		err := checkRedirect(next)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("redirect %s -> %s: %v, want %q", tc.from, tc.to, err, tc.want)
		}
	}
}
