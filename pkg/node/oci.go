package node

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"go.uber.org/zap"

	"github.com/wasmcanvas/wasmcanvas/pkg/artefact"
)

// Media types of a Wasm component's layer in an OCI artifact: the
// wasm-pkg-tools (wkg) layout wasmCloud 1.x pushes, and wasmCloud's older
// one.
const (
	MediaTypeWasm       = "application/wasm"
	MediaTypeWasmLegacy = "application/vnd.module.wasm.content.layer.v1+wasm"
	// MediaTypeWasmConfig is the config of such an artifact.
	MediaTypeWasmConfig = "application/vnd.wasm.config.v0+json"
)

// maxComponentBytes bounds a pulled layer: what any artefact may be.
const maxComponentBytes = artefact.MaxSize

// maxManifestBytes bounds a manifest (go-containerregistry's own bound is
// 100 MiB, which a node parses twice): 4 MiB is what the OCI distribution
// spec asks registries to accept at least; a Wasm artifact's is under
// 1 KiB.
const maxManifestBytes = 4 << 20

// A registry is outside input: it may answer slowly or never, and the
// node's one job worker waits for each pull. Resolving a reference (ping,
// token, manifest) gets answerTimeout; a layer's download gets as long
// again plus its declared size at minPullRate, so a drip-fed answer ends
// and a large component on a slow uplink still arrives.
const (
	answerTimeout = 30 * time.Second
	minPullRate   = 256 << 10 // bytes per second
)

// OCI pulls components from OCI registries (go-containerregistry, the
// keychain of docker login) into a cache keyed by digest: a reference
// pinned by digest is served from the cache without the network, a tag is
// resolved to its digest when the registry answers, and to the last digest
// it resolved to when it does not (logged), so an edge node restarts its
// components while its uplink is down.
type OCI struct {
	dir string
	log *zap.Logger
	// answer and minRate are answerTimeout and minPullRate (tests shorten
	// them).
	answer  time.Duration
	minRate int64
}

// NewOCI caches under dir (created 0700).
func NewOCI(dir string, log *zap.Logger) (*OCI, error) {
	if log == nil {
		log = zap.NewNop()
	}
	for _, d := range []string{filepath.Join(dir, "blobs", "sha256"), filepath.Join(dir, "refs")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("OCI cache: %w", err)
		}
	}
	return &OCI{dir: dir, log: log, answer: answerTimeout, minRate: minPullRate}, nil
}

// Fetch returns the component ref names, from the cache or the registry.
func (o *OCI) Fetch(ctx context.Context, ref string) (*artefact.Wasm, error) {
	r, err := name.ParseReference(ref, name.WithDefaultRegistry(""))
	if err != nil {
		return nil, fmt.Errorf("component reference %q is neither file:// nor an OCI reference (registry/repository:tag or @sha256:...): %w", ref, err)
	}
	pin := o.refFile(r.String())
	if _, pinned := r.(name.Digest); pinned {
		if w, err := o.cached(ref, pin); err == nil {
			return w, nil // a digest's bytes never change
		}
	}
	rctx, cancel := context.WithTimeout(ctx, o.answer)
	layer, err := o.resolve(rctx, r)
	if err != nil && ctx.Err() == nil && errors.Is(rctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("pull %s: registry %s did not send the manifest within %s (check that it is reachable and answers; a reference resolved before starts from the cache)", r, r.Context().RegistryStr(), o.answer)
	}
	cancel()
	if err != nil {
		// The registry is unreachable or refused: a reference resolved
		// before serves from the cache.
		if w, cerr := o.cached(ref, pin); cerr == nil {
			o.log.Warn("registry unreachable: using the cached digest of this reference", zap.String("ref", ref), zap.String("digest", w.Digest()), zap.Error(err))
			return w, nil
		}
		return nil, err
	}
	if w, err := o.blob(ref, layer.Digest); err == nil {
		_ = os.WriteFile(pin, []byte(layer.Digest.String()), 0o600)
		return w, nil
	}
	w, err := o.pull(ctx, r, layer)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(pin, []byte(layer.Digest.String()), 0o600); err != nil {
		return nil, fmt.Errorf("OCI cache: %w", err)
	}
	o.log.Info("component pulled", zap.String("ref", ref), zap.String("digest", layer.Digest.String()), zap.Int("bytes", len(w.Bytes)))
	return w, nil
}

// refFile is where the layer digest a reference resolved to is kept.
func (o *OCI) refFile(ref string) string {
	sum := sha256.Sum256([]byte(ref))
	return filepath.Join(o.dir, "refs", hex.EncodeToString(sum[:]))
}

func (o *OCI) cached(ref, pin string) (*artefact.Wasm, error) {
	b, err := os.ReadFile(pin)
	if err != nil {
		return nil, err
	}
	h, err := v1.NewHash(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, err
	}
	return o.blob(ref, h)
}

// blob reads a cached layer, checking its digest.
func (o *OCI) blob(ref string, h v1.Hash) (*artefact.Wasm, error) {
	f, err := os.Open(filepath.Join(o.dir, "blobs", h.Algorithm, h.Hex))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	w, err := artefact.Read(ref, f, fi.Size())
	if err != nil {
		return nil, err
	}
	if w.Digest() != h.String() {
		return nil, fmt.Errorf("OCI cache: %s holds %s, not %s: delete it", f.Name(), w.Digest(), h)
	}
	return w, nil
}

// resolve reads ref's manifest and returns its Wasm layer.
func (o *OCI) resolve(ctx context.Context, r name.Reference) (v1.Descriptor, error) {
	img, err := remote.Image(r, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain), remote.WithTransport(registryTransport{remote.DefaultTransport}))
	if errors.Is(err, errManifestTooLarge) {
		return v1.Descriptor{}, fmt.Errorf("pull %s: registry %s sent a manifest of more than %d bytes (a Wasm component's is under 1 KiB: check the reference names a component pushed with wkg or wash push)", r, r.Context().RegistryStr(), maxManifestBytes)
	}
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("pull %s: %w", r, err)
	}
	m, err := img.Manifest()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("pull %s: manifest: %w", r, err)
	}
	return wasmLayer(r.String(), m)
}

// wasmLayer returns the one Wasm layer of ref's manifest m, refusing what
// a pull could not take as it is declared: a size out of (0,
// maxComponentBytes] or a digest other than sha256, the one the cache and
// artefact.Read check.
func wasmLayer(ref string, m *v1.Manifest) (v1.Descriptor, error) {
	var found []v1.Descriptor
	for _, l := range m.Layers {
		if l.MediaType == MediaTypeWasm || l.MediaType == MediaTypeWasmLegacy {
			found = append(found, l)
		}
	}
	if len(found) != 1 {
		return v1.Descriptor{}, fmt.Errorf("pull %s: the artifact has %d layers of media type %s (want exactly one: a Wasm component pushed with wkg or wash push)", ref, len(found), MediaTypeWasm)
	}
	l := found[0]
	switch {
	case l.Size > maxComponentBytes:
		return v1.Descriptor{}, fmt.Errorf("pull %s: the component is %d bytes, over the %d limit", ref, l.Size, maxComponentBytes)
	case l.Size <= 0:
		return v1.Descriptor{}, fmt.Errorf("pull %s: the manifest declares the Wasm layer's size as %d bytes (push the component again with wkg or wash push)", ref, l.Size)
	case l.Digest.Algorithm != "sha256":
		return v1.Descriptor{}, fmt.Errorf("pull %s: the manifest names the Wasm layer by %s; this canvas checks sha256 digests (push it again with a sha256 digest)", ref, l.Digest.Algorithm)
	}
	return l, nil
}

// pull downloads the layer, checks its digest and caches it.
func (o *OCI) pull(ctx context.Context, r name.Reference, d v1.Descriptor) (w *artefact.Wasm, err error) {
	limit := o.answer + time.Duration(d.Size)*time.Second/time.Duration(o.minRate)
	pctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	defer func() {
		if err != nil && ctx.Err() == nil && errors.Is(pctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("pull %s: registry %s did not send layer %s (%d bytes) within %s (check the registry and the uplink; a reference resolved before starts from the cache)", r, r.Context().RegistryStr(), d.Digest, d.Size, limit)
		}
	}()
	l, err := remote.Layer(r.Context().Digest(d.Digest.String()), remote.WithContext(pctx), remote.WithAuthFromKeychain(authn.DefaultKeychain), remote.WithTransport(registryTransport{remote.DefaultTransport}))
	if err != nil {
		return nil, fmt.Errorf("pull %s: layer %s: %w", r, d.Digest, err)
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, fmt.Errorf("pull %s: layer %s: %w", r, d.Digest, err)
	}
	defer rc.Close()
	body := &declared{r: rc, left: d.Size}
	w, err = artefact.Read(r.String(), body, d.Size)
	switch {
	case body.over:
		return nil, fmt.Errorf("pull %s: registry %s sent more than the %d bytes the manifest declares for layer %s (the registry or its storage is broken: push the component again)", r, r.Context().RegistryStr(), d.Size, d.Digest)
	case body.short:
		return nil, fmt.Errorf("pull %s: registry %s sent %d of the %d bytes the manifest declares for layer %s (pull again; if it recurs, push the component again)", r, r.Context().RegistryStr(), d.Size-body.left, d.Size, d.Digest)
	case err != nil:
		return nil, err
	case w.Digest() != d.Digest.String():
		return nil, fmt.Errorf("pull %s: layer %s as sent by registry %s has digest %s (the registry or its storage is broken: push the component again)", r, d.Digest, r.Context().RegistryStr(), w.Digest())
	}
	path := filepath.Join(o.dir, "blobs", d.Digest.Algorithm, d.Digest.Hex)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, w.Bytes, 0o600); err != nil {
		return nil, fmt.Errorf("OCI cache: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, errors.Join(fmt.Errorf("OCI cache: %w", err), os.Remove(tmp))
	}
	return w, nil
}

// declared reads a layer's body of a declared size, recording whether the
// registry sent fewer bytes (short: the body ended or broke) or more (over): artefact.Read reads
// exactly the size and then asks for one more byte, which declared reads
// from the body to tell.
type declared struct {
	r           io.Reader
	left        int64
	short, over bool
}

func (d *declared) Read(p []byte) (int, error) {
	if d.left <= 0 {
		var one [1]byte
		if n, _ := io.ReadFull(d.r, one[:]); n > 0 {
			d.over = true
		}
		return 0, io.EOF
	}
	if int64(len(p)) > d.left {
		p = p[:d.left]
	}
	n, err := d.r.Read(p)
	d.left -= int64(n)
	// Any error before the declared end is a short body: the library's
	// reader answers the end of a body of another digest with an error of
	// its own, not io.EOF.
	if err != nil && d.left > 0 {
		d.short = true
	}
	return n, err
}

// registryTransport is the transport of every request a pull makes (ping,
// token, manifest, blob, and each redirect): it refuses a redirect to
// where the registry must not send the node (checkRedirect) and bounds a
// manifest's body at maxManifestBytes as it streams in.
type registryTransport struct{ next http.RoundTripper }

// errManifestTooLarge ends a manifest's body past maxManifestBytes.
var errManifestTooLarge = errors.New("manifest too large")

func (t registryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Response != nil { // a redirect the client follows
		if err := checkRedirect(req); err != nil {
			return nil, err
		}
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil || !isManifestPath(req.URL.Path) {
		return resp, err
	}
	resp.Body = &cappedBody{ReadCloser: resp.Body, left: maxManifestBytes}
	return resp, nil
}

// isManifestPath reports whether path is /v2/<repository>/manifests/<tag
// or digest>; a repository may have "manifests" in its name, a tag or
// digest has no slash.
func isManifestPath(path string) bool {
	i := strings.LastIndex(path, "/manifests/")
	return strings.HasPrefix(path, "/v2/") && i >= 0 && !strings.Contains(path[i+len("/manifests/"):], "/")
}

// cappedBody fails with errManifestTooLarge once more than left bytes
// were read.
type cappedBody struct {
	io.ReadCloser
	left int64
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return 0, errManifestTooLarge
	}
	return n, err
}

// checkRedirect refuses a redirect that would have the node reach what
// the registry itself cannot: another host on a loopback, link-local,
// multicast or unspecified address (the node's own services, a cloud's
// metadata endpoint), or on a private one unless the registry is on a
// private address too; and a step down from https to http. Names are
// resolved, not only IP literals (go-containerregistry checks those, and
// not on its ping, whose error quotes the body it was answered with).
func checkRedirect(req *http.Request) error {
	first := req
	for first.Response != nil {
		first = first.Response.Request
	}
	registry, to := first.URL.Host, req.URL.Host
	if req.Response.Request.URL.Scheme == "https" && req.URL.Scheme != "https" {
		return fmt.Errorf("registry %s redirected to %s over %s, down from https: refused (a registry must keep to https)", registry, to, req.URL.Scheme)
	}
	host := req.URL.Hostname()
	if host == first.URL.Hostname() {
		return nil
	}
	addrs, err := lookupHost(req.Context(), host)
	if err != nil {
		return fmt.Errorf("registry %s redirected to %s: %w", registry, to, err)
	}
	privateRegistry := false
	if own, err := lookupHost(req.Context(), first.URL.Hostname()); err == nil {
		privateRegistry = slices.ContainsFunc(own, netip.Addr.IsPrivate)
	}
	for _, a := range addrs {
		if !a.IsGlobalUnicast() || (a.IsPrivate() && !privateRegistry) {
			return fmt.Errorf("registry %s redirected to %s, which is at %s, a loopback, link-local or private address: refused (a registry may send the node to public hosts only; name a registry that serves its content from one)", registry, to, a)
		}
	}
	return nil
}

// lookupHost returns host's addresses, itself if it is an IP literal.
func lookupHost(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a.Unmap()}, nil
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	for i := range addrs {
		addrs[i] = addrs[i].Unmap()
	}
	return addrs, err
}
