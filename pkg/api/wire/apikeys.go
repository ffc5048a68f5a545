package wire

import "time"

// PathAPIKeys is appended to a Component's path
// (/v1/components/{namespace}/{name}) for its API keys.
const PathAPIKeys = "/apikeys"

// APIKeyRequest asks for a new API key for a Component's APIs.
type APIKeyRequest struct {
	// Consumer names who holds the key (the rate limit's and quota's
	// "consumer" identifier).
	Consumer string `json:"consumer"`
}

// APIKey is an API key as the API shows it: never its plaintext, but
// once, in the answer to its creation (Key).
type APIKey struct {
	ID        string    `json:"id"`
	Namespace string    `json:"namespace"`
	Component string    `json:"component"`
	Consumer  string    `json:"consumer"`
	Created   time.Time `json:"created"`
	// Key is the plaintext, only in the answer to a create: the canvas
	// keeps its SHA-256 alone.
	Key string `json:"key,omitempty"`
}

// APIKeyList is the answer to listing a Component's API keys.
type APIKeyList struct {
	Items []APIKey `json:"items"`
}
