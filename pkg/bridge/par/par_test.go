package par

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nkeys"
)

var now = time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)

func testArchive() Archive {
	return Archive{Name: "canvas-bridge", Vendor: "wasmcanvas", Version: "0.1.0", Targets: map[string][]byte{
		"x86_64-linux":  []byte("\x7fELF amd64 binary"),
		"aarch64-linux": []byte("\x7fELF arm64 binary"),
	}}
}

func write(t *testing.T, a Archive, k Keys) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := Write(&buf, a, k, now); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func keys(t *testing.T) Keys {
	t.Helper()
	k, err := NewKeys()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// entries unpacks a gzipped archive, so a test can change it and pack it
// again.
func entries(t *testing.T, b []byte) map[string][]byte {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name], _ = io.ReadAll(tr)
	}
}

func pack(t *testing.T, es map[string][]byte, gzipped bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.Writer = &buf
	var gz *gzip.Writer
	if gzipped {
		gz = gzip.NewWriter(&buf)
		w = gz
	}
	tw := tar.NewWriter(w)
	for name, b := range es {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		_, _ = tw.Write(b)
	}
	_ = tw.Close()
	if gz != nil {
		_ = gz.Close()
	}
	return buf.Bytes()
}

func TestWriteReadVerify(t *testing.T) {
	t.Parallel()
	k := keys(t)
	a := testArchive()
	b := write(t, a, k)
	got, c, err := Read(bytes.NewReader(b), now)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != a.Name || got.Vendor != a.Vendor || got.Version != a.Version || len(got.Targets) != 2 ||
		!bytes.Equal(got.Targets["x86_64-linux"], a.Targets["x86_64-linux"]) {
		t.Errorf("read back %+v, want %+v", got, a)
	}
	iss, _ := k.Issuer.PublicKey()
	if c.Issuer != iss || c.Subject != k.Subject || !strings.HasPrefix(c.Subject, "V") {
		t.Errorf("claims iss %s sub %s, want %s and %s (a V... service key)", c.Issuer, c.Subject, iss, k.Subject)
	}
	if h := c.Provider.TargetHashes["aarch64-linux"]; h != Hash(a.Targets["aarch64-linux"]) || h != strings.ToUpper(h) || len(h) != 64 {
		t.Errorf("target hash %q: want the upper-case hex SHA-256", h)
	}
	if c.WascapRevision == nil || *c.WascapRevision != 3 {
		t.Errorf("wascap_revision = %v, want 3", c.WascapRevision)
	}

	// The entries are upstream's: claims.jwt and {target}.bin at the root,
	// the JWT in wascap's shape.
	es := entries(t, b)
	for _, name := range []string{"claims.jwt", "x86_64-linux.bin", "aarch64-linux.bin"} {
		if _, ok := es[name]; !ok {
			t.Errorf("no entry %s in %v", name, es)
		}
	}
	parts := strings.Split(string(es["claims.jwt"]), ".")
	hdr, _ := base64.RawURLEncoding.DecodeString(parts[0])
	if string(hdr) != `{"typ":"jwt","alg":"Ed25519"}` {
		t.Errorf("JWT header %s", hdr)
	}
	var body map[string]any
	raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatal(err)
	}
	w, _ := body["wascap"].(map[string]any)
	for _, f := range []string{"name", "vendor", "ver", "target_hashes"} {
		if _, ok := w[f]; !ok {
			t.Errorf("wascap section %v has no %q", w, f)
		}
	}

	// A plain (not gzipped) tar reads too, as upstream allows.
	if _, _, err := Read(bytes.NewReader(pack(t, es, false)), now); err != nil {
		t.Errorf("plain tar: %v", err)
	}
}

func TestReadRefusesTampering(t *testing.T) {
	t.Parallel()
	k := keys(t)
	orig := entries(t, write(t, testArchive(), k))
	other := entries(t, write(t, testArchive(), keys(t)))

	// resign re-signs changed claims with a key that is not the issuer's.
	forge := func(change func(*Claims)) []byte {
		parts := strings.Split(string(orig["claims.jwt"]), ".")
		var c Claims
		if err := decodePart(parts[1], &c); err != nil {
			t.Fatal(err)
		}
		change(&c)
		body, _ := json.Marshal(c)
		return []byte(parts[0] + "." + b64(body) + "." + parts[2])
	}
	tests := []struct {
		name   string
		change func(map[string][]byte)
		want   string
	}{
		{"binary changed", func(es map[string][]byte) { es["x86_64-linux.bin"] = []byte("\x7fELF evil") },
			"x86_64-linux: its SHA-256 differs"},
		{"target added", func(es map[string][]byte) { es["x86_64-macos.bin"] = []byte("extra") },
			"x86_64-macos is not in the signed claims"},
		{"target dropped", func(es map[string][]byte) { delete(es, "aarch64-linux.bin") },
			"aarch64-linux is in the signed claims but not in the archive"},
		{"claims changed", func(es map[string][]byte) {
			es["claims.jwt"] = forge(func(c *Claims) { c.Provider.Vendor = "mallory" })
		}, "signature does not verify"},
		{"hash in claims changed to match a new binary", func(es map[string][]byte) {
			es["x86_64-linux.bin"] = []byte("evil")
			es["claims.jwt"] = forge(func(c *Claims) { c.Provider.TargetHashes["x86_64-linux"] = Hash([]byte("evil")) })
		}, "signature does not verify"},
		{"claims of another archive", func(es map[string][]byte) { es["claims.jwt"] = other["claims.jwt"] },
			""}, // same binaries, validly signed by another issuer: accepted; the issuer is the caller's to check
		{"no claims", func(es map[string][]byte) { delete(es, "claims.jwt") }, "no claims.jwt"},
		{"unexpected entry", func(es map[string][]byte) { es["../x86_64-linux.bin"] = []byte("x") }, "is neither claims.jwt"},
		{"signature cut", func(es map[string][]byte) {
			p := strings.Split(string(es["claims.jwt"]), ".")
			es["claims.jwt"] = []byte(p[0] + "." + p[1] + ".")
		}, "signature does not verify"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			es := map[string][]byte{}
			for n, b := range orig {
				es[n] = b
			}
			tt.change(es)
			_, _, err := Read(bytes.NewReader(pack(t, es, true)), now)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Read: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Read = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestVerifyDates(t *testing.T) {
	t.Parallel()
	k := keys(t)
	past, future := now.Add(-time.Hour).Unix(), now.Add(time.Hour).Unix()
	for _, tt := range []struct {
		name string
		c    func(*Claims)
		want string
	}{
		{"expired", func(c *Claims) { c.Expires = &past }, "expired"},
		{"not yet", func(c *Claims) { c.NotBefore = &future }, "not valid before"},
		{"issuer not an account", func(c *Claims) {
			u, _ := nkeys.CreateUser()
			c.Issuer, _ = u.PublicKey()
		}, "not an nkeys account public key"},
		{"subject not a service key", func(c *Claims) { c.Subject, _ = k.Issuer.PublicKey() }, "not a service key"},
		{"no provider section", func(c *Claims) { c.Provider = nil }, "not provider claims"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			iss, _ := k.Issuer.PublicKey()
			c := Claims{ID: "x", Issuer: iss, Subject: k.Subject, Provider: &Provider{Vendor: "v", TargetHashes: map[string]string{}}}
			tt.c(&c)
			signer := k.Issuer
			jwt, err := encode(c, signer)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Verify(jwt, now); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Verify = %v, want %q", err, tt.want)
			}
		})
	}
}

// serviceKey must be the nkeys encoding: with an account prefix it gives
// what nkeys gives.
func TestServiceKeyEncoding(t *testing.T) {
	t.Parallel()
	kp, _ := nkeys.CreateAccount()
	pub, _ := kp.PublicKey()
	raw, err := nkeys.Decode(nkeys.PrefixByteAccount, []byte(pub))
	if err != nil {
		t.Fatal(err)
	}
	b := append([]byte{byte(nkeys.PrefixByteAccount)}, raw...)
	b = append(b, byte(crc16(b)), byte(crc16(b)>>8))
	if got := b32.EncodeToString(b); got != pub {
		t.Fatalf("encoding %s, nkeys %s", got, pub)
	}
	if err := checkServiceKey(serviceKey(raw)); err != nil {
		t.Fatal(err)
	}
	bad := []byte(serviceKey(raw))
	bad[10] ^= 1
	if checkServiceKey(string(bad)) == nil {
		t.Error("a changed service key passed the checksum")
	}
}

func TestLoadOrCreateKeys(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "keys", "bridge.nk")
	k1, err := LoadOrCreateKeys(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	k2, err := LoadOrCreateKeys(path)
	if err != nil {
		t.Fatal(err)
	}
	p1, _ := k1.Issuer.PublicKey()
	p2, _ := k2.Issuer.PublicKey()
	if p1 != p2 || k1.Subject != k2.Subject {
		t.Error("the second load made new keys instead of reading the file")
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateKeys(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("a world-readable key file: %v, want a chmod 600 hint", err)
	}
	_ = os.Chmod(path, 0o600)
	if err := os.WriteFile(path, []byte("issuer SUAXXX\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateKeys(path); err == nil || strings.Contains(err.Error(), "SUAXXX") {
		t.Errorf("a bad seed: %v, want an error that does not quote it", err)
	}
}

func TestTarget(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ goos, goarch, want string }{
		{"linux", "amd64", "x86_64-linux"}, {"linux", "arm64", "aarch64-linux"}, {"darwin", "arm64", "aarch64-macos"}, {"windows", "amd64", "x86_64-windows"},
	} {
		if got, err := Target(tt.goos, tt.goarch); got != tt.want || err != nil {
			t.Errorf("Target(%s, %s) = %q, %v; want %q", tt.goos, tt.goarch, got, err, tt.want)
		}
	}
	if _, err := Target("plan9", "386"); err == nil {
		t.Error("Target(plan9, 386): want an error")
	}
}
