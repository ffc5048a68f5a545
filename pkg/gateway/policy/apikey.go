package policy

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// apiKeyPrefix marks a canvas API key, so it is never confused with a
// bearer token or the local admin credential.
const apiKeyPrefix = "wck_"

// NewAPIKey returns a fresh API key (256 random bits) and its hash, the
// only form in which it is stored.
func NewAPIKey() (key, hash string) {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	key = apiKeyPrefix + base64.RawURLEncoding.EncodeToString(b)
	return key, HashAPIKey(key)
}

// HashAPIKey is the stored form of key: hex SHA-256. A key of 256 random
// bits needs no slow hash: it cannot be guessed from its hash.
func HashAPIKey(key string) string {
	sum := sha256.Sum256([]byte(strings.TrimSpace(key)))
	return hex.EncodeToString(sum[:])
}

// APIKeyID is the public name of the key with hash h (for list and
// revoke): its first 16 hex digits.
func APIKeyID(h string) string {
	if len(h) < 16 {
		return h
	}
	return h[:16]
}
