package par

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nkeys"
)

// ClaimsFile is the claims entry of an archive.
const ClaimsFile = "claims.jwt"

const binSuffix = ".bin"

// Limits of what Read accepts: a provider binary is tens of MB.
const (
	MaxTargetSize = 512 << 20
	MaxClaimsSize = 1 << 20
	MaxEntries    = 64
)

// wascapRevision is the claims revision current wascap writes; hosts check
// target hashes from revision 3 on.
const wascapRevision = 3

// Archive is what a provider archive holds.
type Archive struct {
	Name    string
	Vendor  string
	Version string // optional: wascap "ver"
	// Targets maps a target ({arch}-{os}, see Target) to its executable.
	Targets map[string][]byte
}

// Claims is claims.jwt's payload: the JWT registered claims and the
// provider's wascap metadata.
type Claims struct {
	Expires        *int64    `json:"exp,omitempty"`
	ID             string    `json:"jti"`
	IssuedAt       int64     `json:"iat"`
	Issuer         string    `json:"iss"`
	Subject        string    `json:"sub"`
	NotBefore      *int64    `json:"nbf,omitempty"`
	Provider       *Provider `json:"wascap,omitempty"`
	WascapRevision *uint32   `json:"wascap_revision,omitempty"`
}

// Provider is wascap's CapabilityProvider metadata.
type Provider struct {
	Name         *string           `json:"name"`
	Vendor       string            `json:"vendor"`
	Rev          *int32            `json:"rev,omitempty"`
	Ver          *string           `json:"ver,omitempty"`
	TargetHashes map[string]string `json:"target_hashes"`
	ConfigSchema json.RawMessage   `json:"config_schema,omitempty"`
}

type jwtHeader struct {
	Type string `json:"typ"`
	Alg  string `json:"alg"`
}

const (
	headerType = "jwt"
	headerAlg  = "Ed25519"
)

// Hash is how claims record a target: upper-case hex SHA-256.
func Hash(b []byte) string {
	sum := sha256.Sum256(b)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// Write writes a gzipped archive of a to w, its claims signed by
// keys.Issuer and naming keys.Subject, issued at now, and returns the
// claims. Targets are written in name order, so equal inputs give equal
// bytes apart from the claims' id and time.
func Write(w io.Writer, a Archive, keys Keys, now time.Time) (Claims, error) {
	if err := a.validate(); err != nil {
		return Claims{}, err
	}
	name := a.Name
	p := &Provider{Name: &name, Vendor: a.Vendor, TargetHashes: map[string]string{}}
	if a.Version != "" {
		p.Ver = &a.Version
	}
	for t, b := range a.Targets {
		p.TargetHashes[t] = Hash(b)
	}
	issuer, err := keys.Issuer.PublicKey()
	if err != nil {
		return Claims{}, fmt.Errorf("issuer key: %w", err)
	}
	rev := uint32(wascapRevision)
	c := Claims{ID: rand.Text(), IssuedAt: now.Unix(), Issuer: issuer, Subject: keys.Subject, Provider: p, WascapRevision: &rev}
	jwt, err := encode(c, keys.Issuer)
	if err != nil {
		return Claims{}, err
	}

	gz, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return Claims{}, err
	}
	tw := tar.NewWriter(gz)
	add := func(name string, mode int64, b []byte) error {
		hdr := &tar.Header{Name: name, Mode: mode, Size: int64(len(b)), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg, Format: tar.FormatGNU}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("archive entry %s: %w", name, err)
		}
		_, err := tw.Write(b)
		return err
	}
	if err := add(ClaimsFile, 0o644, []byte(jwt)); err != nil {
		return Claims{}, err
	}
	for _, t := range slices.Sorted(maps.Keys(a.Targets)) {
		if err := add(t+binSuffix, 0o755, a.Targets[t]); err != nil {
			return Claims{}, err
		}
	}
	if err := tw.Close(); err != nil {
		return Claims{}, err
	}
	return c, gz.Close()
}

func (a Archive) validate() error {
	var errs []error
	if a.Name == "" {
		errs = append(errs, errors.New("archive: the provider name is empty"))
	}
	if a.Vendor == "" {
		errs = append(errs, errors.New("archive: the vendor is empty"))
	}
	if len(a.Targets) == 0 {
		errs = append(errs, errors.New("archive: no target binary: add at least one, e.g. x86_64-linux"))
	}
	for t, b := range a.Targets {
		if err := validTarget(t); err != nil {
			errs = append(errs, fmt.Errorf("archive: %w", err))
		}
		if len(b) == 0 {
			errs = append(errs, fmt.Errorf("archive: target %s: the binary is empty", t))
		}
	}
	return errors.Join(errs...)
}

// validTarget admits {arch}-{os} names of lower-case letters, digits and
// '_': what an entry name may hold without a path.
func validTarget(t string) error {
	arch, os, ok := strings.Cut(t, "-")
	if !ok || arch == "" || os == "" || strings.ContainsFunc(arch+os, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_')
	}) {
		return fmt.Errorf("target %q is not {arch}-{os} such as x86_64-linux", t)
	}
	return nil
}

func encode(c Claims, kp nkeys.KeyPair) (string, error) {
	h, err := json.Marshal(jwtHeader{Type: headerType, Alg: headerAlg})
	if err != nil {
		return "", err
	}
	body, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	signing := b64(h) + "." + b64(body)
	sig, err := kp.Sign([]byte(signing))
	if err != nil {
		return "", fmt.Errorf("sign claims: %w", err)
	}
	return signing + "." + b64(sig), nil
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// Read reads an archive (gzipped or plain tar) from r and verifies it:
// the claims' signature by their issuer, an account key; their dates
// against now; and each target's hash, both ways. It returns the archive
// and its claims only if all of that holds.
func Read(r io.Reader, now time.Time) (Archive, Claims, error) {
	br := bufio.NewReader(r)
	var src io.Reader = br
	if magic, _ := br.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return Archive{}, Claims{}, fmt.Errorf("provider archive: gzip: %w", err)
		}
		defer gz.Close()
		src = gz
	}
	var jwt []byte
	targets := map[string][]byte{}
	tr := tar.NewReader(src)
	for n := 0; ; n++ {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Archive{}, Claims{}, fmt.Errorf("provider archive: not a tar: %w", err)
		}
		if n >= MaxEntries {
			return Archive{}, Claims{}, fmt.Errorf("provider archive: more than %d entries", MaxEntries)
		}
		if hdr.Typeflag != tar.TypeReg {
			return Archive{}, Claims{}, fmt.Errorf("provider archive: entry %q is not a regular file", hdr.Name)
		}
		name := hdr.Name
		limit := int64(MaxTargetSize)
		if name == ClaimsFile {
			limit = MaxClaimsSize
		} else if t, ok := strings.CutSuffix(name, binSuffix); !ok || path.Base(name) != name || validTarget(t) != nil {
			return Archive{}, Claims{}, fmt.Errorf("provider archive: entry %q is neither %s nor {arch}-{os}%s", name, ClaimsFile, binSuffix)
		}
		if hdr.Size > limit {
			return Archive{}, Claims{}, fmt.Errorf("provider archive: entry %s is %d bytes, over the limit of %d", name, hdr.Size, limit)
		}
		b, err := io.ReadAll(io.LimitReader(tr, limit))
		if err != nil {
			return Archive{}, Claims{}, fmt.Errorf("provider archive: entry %s: %w", name, err)
		}
		if name == ClaimsFile {
			if jwt != nil {
				return Archive{}, Claims{}, fmt.Errorf("provider archive: %s appears twice", ClaimsFile)
			}
			jwt = b
			continue
		}
		t := strings.TrimSuffix(name, binSuffix)
		if _, dup := targets[t]; dup {
			return Archive{}, Claims{}, fmt.Errorf("provider archive: target %s appears twice", t)
		}
		targets[t] = b
	}
	if jwt == nil {
		return Archive{}, Claims{}, fmt.Errorf("provider archive: no %s: not a signed archive", ClaimsFile)
	}
	if len(targets) == 0 {
		return Archive{}, Claims{}, errors.New("provider archive: no target binary")
	}
	c, err := Verify(string(jwt), now)
	if err != nil {
		return Archive{}, Claims{}, fmt.Errorf("provider archive: %s: %w", ClaimsFile, err)
	}
	if err := checkHashes(c.Provider.TargetHashes, targets); err != nil {
		return Archive{}, Claims{}, fmt.Errorf("provider archive: %w", err)
	}
	a := Archive{Vendor: c.Provider.Vendor, Targets: targets}
	if c.Provider.Name != nil {
		a.Name = *c.Provider.Name
	}
	if c.Provider.Ver != nil {
		a.Version = *c.Provider.Ver
	}
	return a, c, nil
}

// Verify decodes a provider claims JWT and checks its header, its
// signature by its issuer (an account key), its subject and its dates.
func Verify(jwt string, now time.Time) (Claims, error) {
	var c Claims
	parts := strings.Split(strings.TrimSpace(jwt), ".")
	if len(parts) != 3 {
		return c, errors.New("not a JWT (want three dot-separated parts)")
	}
	var h jwtHeader
	if err := decodePart(parts[0], &h); err != nil {
		return c, fmt.Errorf("header: %w", err)
	}
	if !strings.EqualFold(h.Type, headerType) || h.Alg != headerAlg {
		return c, fmt.Errorf("header says typ %q, alg %q: want %q, %q", h.Type, h.Alg, headerType, headerAlg)
	}
	if err := decodePart(parts[1], &c); err != nil {
		return c, fmt.Errorf("claims: %w", err)
	}
	if !nkeys.IsValidPublicAccountKey(c.Issuer) {
		return c, fmt.Errorf("issuer %q is not an nkeys account public key (A...)", c.Issuer)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return c, fmt.Errorf("signature is not base64url: %w", err)
	}
	kp, err := nkeys.FromPublicKey(c.Issuer)
	if err != nil {
		return c, fmt.Errorf("issuer: %w", err)
	}
	if err := kp.Verify([]byte(parts[0]+"."+parts[1]), sig); err != nil {
		return c, fmt.Errorf("the signature does not verify with issuer %s: the claims or the signature were changed after signing", c.Issuer)
	}
	if err := checkServiceKey(c.Subject); err != nil {
		return c, fmt.Errorf("subject: %w", err)
	}
	if c.Provider == nil {
		return c, errors.New("no wascap provider section: these are not provider claims")
	}
	if c.Expires != nil && now.Unix() >= *c.Expires {
		return c, fmt.Errorf("expired at %s", time.Unix(*c.Expires, 0).UTC().Format(time.RFC3339))
	}
	if c.NotBefore != nil && now.Unix() < *c.NotBefore {
		return c, fmt.Errorf("not valid before %s", time.Unix(*c.NotBefore, 0).UTC().Format(time.RFC3339))
	}
	return c, nil
}

func decodePart(s string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return fmt.Errorf("not base64url: %w", err)
	}
	return json.Unmarshal(b, v)
}

// checkHashes wants every target signed and every signed target present.
func checkHashes(signed map[string]string, targets map[string][]byte) error {
	var errs []error
	for _, t := range slices.Sorted(maps.Keys(targets)) {
		want, ok := signed[t]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("target %s is not in the signed claims: it was added after signing", t))
		case Hash(targets[t]) != want:
			errs = append(errs, fmt.Errorf("target %s: its SHA-256 differs from the signed claims: the binary was changed after signing", t))
		}
	}
	for _, t := range slices.Sorted(maps.Keys(signed)) {
		if _, ok := targets[t]; !ok {
			errs = append(errs, fmt.Errorf("target %s is in the signed claims but not in the archive", t))
		}
	}
	return errors.Join(errs...)
}

// Target is the archive target name of a Go GOOS/GOARCH pair, as wash
// names them: x86_64-linux, aarch64-macos, ...
func Target(goos, goarch string) (string, error) {
	arch, ok := map[string]string{"amd64": "x86_64", "arm64": "aarch64", "riscv64": "riscv64", "s390x": "s390x"}[goarch]
	if !ok {
		return "", fmt.Errorf("GOARCH %s has no provider archive target name", goarch)
	}
	os, ok := map[string]string{"linux": "linux", "darwin": "macos", "windows": "windows", "freebsd": "freebsd"}[goos]
	if !ok {
		return "", fmt.Errorf("GOOS %s has no provider archive target name", goos)
	}
	return arch + "-" + os, nil
}
