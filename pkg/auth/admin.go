package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// AdminTokenFile is the local admin credential's file in a state
// directory: written 0600 by `canvas up` and canvasd, read by the CLI and
// `canvas kubeconfig`, so the one-command path needs no login.
const AdminTokenFile = "admin-token"

// adminPrefix marks a local admin credential, so it is never confused
// with a JWT (which starts "ey").
const adminPrefix = "wcadm_"

// EnsureAdminToken returns the admin credential of stateDir, creating it
// (0600, 256 random bits) when absent. It refuses a file others can read.
func EnsureAdminToken(stateDir string) (string, error) {
	path := filepath.Join(stateDir, AdminTokenFile)
	tok, err := ReadAdminToken(stateDir)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return tok, err
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	tok = adminPrefix + base64.RawURLEncoding.EncodeToString(b)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) { // another process won the race
		return ReadAdminToken(stateDir)
	}
	if err != nil {
		return "", fmt.Errorf("admin credential %s: %w", path, err)
	}
	_, werr := f.WriteString(tok + "\n")
	if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
		_ = os.Remove(path)
		return "", fmt.Errorf("admin credential %s: %w", path, err)
	}
	return tok, nil
}

// ReadAdminToken reads the admin credential of stateDir (fs.ErrNotExist
// when there is none).
func ReadAdminToken(stateDir string) (string, error) {
	path := filepath.Join(stateDir, AdminTokenFile)
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("admin credential %s is readable by others (mode %v): chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	tok := strings.TrimSpace(string(b))
	if !strings.HasPrefix(tok, adminPrefix) || len(tok) < len(adminPrefix)+32 {
		return "", fmt.Errorf("admin credential %s is malformed: remove it and restart canvas up to make a new one", path)
	}
	return tok, nil
}

// LocalAdmin authenticates the bearer credential token as the local
// admin (RoleWrite). Other bearer tokens are left to the next
// authenticator of a Chain.
func LocalAdmin(token string) Authenticator {
	return AuthenticatorFunc(func(r *http.Request) (Principal, error) {
		tok, err := BearerToken(r)
		if err != nil {
			return Principal{}, err
		}
		if !strings.HasPrefix(tok, adminPrefix) {
			return Principal{}, ErrNoCredentials
		}
		if subtle.ConstantTimeCompare([]byte(tok), []byte(token)) != 1 {
			return Principal{}, Invalid("not this canvas's admin credential")
		}
		return Principal{Subject: "admin", Issuer: "local", Roles: []string{RoleWrite}}, nil
	})
}
