package par

import (
	"bufio"
	"bytes"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/nkeys"
)

// Keys sign an archive: Issuer, an nkeys account key pair, signs the
// claims; Subject is the provider's identity, a wascap service public key
// (V...).
type Keys struct {
	Issuer  nkeys.KeyPair
	Subject string
}

// servicePrefix is wascap's nkeys prefix byte of a service (provider)
// key, 'V' once encoded; Go's nkeys has no constant for it.
const servicePrefix = 21 << 3

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// serviceKey encodes a raw Ed25519 public key as a service public key:
// base32 of the prefix byte, the key and its CRC-16 (XMODEM, little
// endian), the nkeys encoding.
func serviceKey(raw []byte) string {
	b := append([]byte{servicePrefix}, raw...)
	b = binary.LittleEndian.AppendUint16(b, crc16(b))
	return b32.EncodeToString(b)
}

// checkServiceKey checks that s is a service public key.
func checkServiceKey(s string) error {
	b, err := b32.DecodeString(s)
	if err != nil || len(b) != 35 {
		return fmt.Errorf("%q is not an nkeys public key", s)
	}
	if b[0] != servicePrefix {
		return fmt.Errorf("%q is not a service key (V...)", s)
	}
	if binary.LittleEndian.Uint16(b[33:]) != crc16(b[:33]) {
		return fmt.Errorf("%q: checksum mismatch", s)
	}
	return nil
}

func crc16(b []byte) uint16 {
	var crc uint16
	for _, c := range b {
		crc ^= uint16(c) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// keyFileHeader starts a key file, so a reader knows what it holds.
const keyFileHeader = "# provider archive signing keys: issuer (account seed), subject (seed of the provider's identity). Keep this file private.\n"

// LoadOrCreateKeys reads the signing keys from path, a file only its owner
// may read; when there is no such file it creates one (0600, its directory
// 0700) with new keys. The seeds are never printed.
func LoadOrCreateKeys(path string) (Keys, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return createKeys(path)
	}
	if err != nil {
		return Keys{}, fmt.Errorf("signing keys: %w", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return Keys{}, fmt.Errorf("signing keys: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return Keys{}, fmt.Errorf("signing keys %s: mode %v lets others read the seeds: chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	return parseKeys(path, b)
}

func parseKeys(path string, b []byte) (Keys, error) {
	seeds := map[string][]byte{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		role, seed, ok := strings.Cut(line, " ")
		if !ok || (role != "issuer" && role != "subject") {
			return Keys{}, fmt.Errorf("signing keys %s:%d: want `issuer SEED` or `subject SEED`", path, n)
		}
		seeds[role] = []byte(strings.TrimSpace(seed))
	}
	issuer, err := nkeys.FromSeed(seeds["issuer"])
	if err != nil {
		return Keys{}, fmt.Errorf("signing keys %s: issuer: not an nkeys seed: %w", path, err)
	}
	if pub, _ := issuer.PublicKey(); !nkeys.IsValidPublicAccountKey(pub) {
		return Keys{}, fmt.Errorf("signing keys %s: issuer: want an account seed (SA...)", path)
	}
	subject, err := nkeys.FromSeed(seeds["subject"])
	if err != nil {
		return Keys{}, fmt.Errorf("signing keys %s: subject: not an nkeys seed: %w", path, err)
	}
	k, err := keysOf(issuer, subject)
	if err != nil {
		return Keys{}, fmt.Errorf("signing keys %s: subject: %w", path, err)
	}
	return k, nil
}

// subjectKey is the service public key of kp's Ed25519 key: the subject
// seed is stored as a server seed, Go's nkeys knowing no service seeds.
func subjectKey(kp nkeys.KeyPair) (string, error) {
	pub, err := kp.PublicKey()
	if err != nil {
		return "", err
	}
	raw, err := nkeys.Decode(nkeys.Prefix(pub), []byte(pub))
	if err != nil {
		return "", err
	}
	return serviceKey(raw), nil
}

func createKeys(path string) (Keys, error) {
	issuer, subject, err := generate()
	if err != nil {
		return Keys{}, err
	}
	is, _ := issuer.Seed()
	ss, _ := subject.Seed()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return Keys{}, fmt.Errorf("signing keys: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return Keys{}, fmt.Errorf("signing keys: %w", err)
	}
	_, err = fmt.Fprintf(f, "%sissuer %s\nsubject %s\n", keyFileHeader, is, ss)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return Keys{}, fmt.Errorf("signing keys: %w", err)
	}
	return keysOf(issuer, subject)
}

// NewKeys makes keys held only in memory (tests, one-off archives).
func NewKeys() (Keys, error) {
	issuer, subject, err := generate()
	if err != nil {
		return Keys{}, err
	}
	return keysOf(issuer, subject)
}

func generate() (issuer, subject nkeys.KeyPair, err error) {
	if issuer, err = nkeys.CreateAccount(); err != nil {
		return nil, nil, err
	}
	subject, err = nkeys.CreateServer()
	return issuer, subject, err
}

func keysOf(issuer, subject nkeys.KeyPair) (Keys, error) {
	sub, err := subjectKey(subject)
	return Keys{Issuer: issuer, Subject: sub}, err
}
