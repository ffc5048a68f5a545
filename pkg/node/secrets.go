package node

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/wasmcanvas/wasmcanvas/pkg/bridge"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
)

// Headers of the wasmCloud secrets protocol (wasmcloud-secrets-types).
const (
	// HeaderHostXKey carries the requester's public xkey: the backend
	// opens the request and seals its answer with it.
	HeaderHostXKey = "WasmCloud-Host-Xkey"
	// HeaderResponseXKey carries the backend's public xkey on a sealed
	// answer; an answer without it is a plain SecretResponse with an error.
	HeaderResponseXKey = "Server-Response-Xkey"
	// AppSpecAnnotation names a component's application (wadm's
	// annotation), sent to the backend as the request's application name.
	AppSpecAnnotation = "wasmcloud.dev/appspec"
)

// SecretRef is a secret reference as wadm stores it under a SECRET_
// config name (wasmcloud-secrets-types SecretConfig as a string map).
type SecretRef struct {
	Name, Backend, Key string
	Field, Version     *string
	Policy             string // a JSON object, passed on as a string
}

// ParseSecretRef reads the reference stored under config name.
func ParseSecretRef(name string, m map[string]string) (SecretRef, error) {
	if m == nil {
		return SecretRef{}, fmt.Errorf("secret config %s not found in config store, could not create secret request", name)
	}
	r := SecretRef{Name: m["name"], Backend: m["backend"], Key: m["key"], Policy: m["policy"]}
	var missing []string
	for _, f := range []struct{ k, v string }{{"name", r.Name}, {"backend", r.Backend}, {"key", r.Key}, {"policy", r.Policy}, {"type", m["type"]}} {
		if f.v == "" {
			missing = append(missing, f.k)
		}
	}
	if len(missing) > 0 {
		return SecretRef{}, fmt.Errorf("config %s is not a secret reference (missing %s): ensure it is a secret reference and not configuration", name, strings.Join(missing, ", "))
	}
	if !json.Valid([]byte(r.Policy)) {
		return SecretRef{}, fmt.Errorf("config %s: policy is not JSON", name)
	}
	if v, ok := m["field"]; ok {
		r.Field = &v
	}
	if v, ok := m["version"]; ok {
		r.Version = &v
	}
	return r, nil
}

// secretRequest is wasmcloud-secrets-types SecretRequest, in its field
// order.
type secretRequest struct {
	Key     string        `json:"key"`
	Field   *string       `json:"field"`
	Version *string       `json:"version"`
	Context secretContext `json:"context"`
}

type secretContext struct {
	EntityJWT   string `json:"entity_jwt"`
	HostJWT     string `json:"host_jwt"`
	Application struct {
		Name   *string `json:"name"`
		Policy string  `json:"policy"`
	} `json:"application"`
}

// secretResponse is SecretResponse: a secret or an error.
type secretResponse struct {
	Secret *struct {
		Version      string  `json:"version"`
		StringSecret *string `json:"string_secret"`
		RawBinary    []int   `json:"binary_secret"`
	} `json:"secret,omitempty"`
	Error json.RawMessage `json:"error,omitempty"`
}

// getSecretError renders a serde GetSecretError ("SecretNotFound" or
// {"InvalidEntityJWT":"…"}) as upstream's Display does.
func getSecretError(raw json.RawMessage) string {
	msgs := map[string]string{
		"InvalidEntityJWT": "Invalid Entity JWT: %s", "InvalidHostJWT": "Invalid Host JWT: %s",
		"SecretNotFound": "Secret not found", "InvalidXKey": "Invalid XKey",
		"EncryptionError": "Error encrypting secret", "DecryptionError": "Error decrypting secret",
		"UpstreamError": "Error fetching secret: %s", "Unauthorized": "Error fetching secret: unauthorized",
		"InvalidRequest": "Invalid request", "InvalidPayload": "Invalid payload", "InvalidHeaders": "Invalid headers",
		"PolicyError": "Error processing policies: %s", "Other": "Encountered an unknown error fetching secret: %s",
	}
	var unit string
	if json.Unmarshal(raw, &unit) == nil {
		if m, ok := msgs[unit]; ok && !strings.Contains(m, "%s") {
			return m
		}
		return unit
	}
	var tagged map[string]string
	if json.Unmarshal(raw, &tagged) == nil && len(tagged) == 1 {
		for k, v := range tagged {
			if m, ok := msgs[k]; ok && strings.Contains(m, "%s") {
				return fmt.Sprintf(m, v)
			}
			return k + ": " + v
		}
	}
	return string(raw)
}

// Secrets fetches secret values from the lattice's secrets backends as a
// wasmCloud host does: per backend it asks server_xkey once, then seals
// each request for that key with a new xkey of its own (sent in
// HeaderHostXKey) and opens the answer sealed for it. The request carries
// the component's embedded claims (its JWT) and the host's self-signed
// host JWT. It never logs nor keeps a value.
type Secrets struct {
	nc      *nats.Conn
	prefix  string
	hostJWT string
	timeout time.Duration

	mu      sync.Mutex
	servers map[string]nkeys.KeyPair // backend: its public xkey
}

// NewSecrets returns the secrets client of host hostID asking on topic
// prefix (a host's --secrets-topic; empty: secrets are refused, as a host
// started without one refuses them).
func NewSecrets(nc *nats.Conn, prefix, hostID, friendlyName string) (*Secrets, error) {
	if prefix != "" {
		if err := subject.ValidatePrefix(prefix); err != nil {
			return nil, fmt.Errorf("--secrets-topic: %w", err)
		}
	}
	jwt, err := HostJWT(hostID, friendlyName, time.Now())
	if err != nil {
		return nil, err
	}
	return &Secrets{nc: nc, prefix: prefix, hostJWT: jwt, timeout: 5 * time.Second, servers: map[string]nkeys.KeyPair{}}, nil
}

// Fetch resolves the named secret references (their configs in refs) for
// a component with embedded JWT entityJWT, in the name of application
// app (may be empty). The map is keyed by each reference's name.
func (s *Secrets) Fetch(ctx context.Context, names []string, refs map[string]map[string]string, entityJWT, app string) (map[string]bridge.SecretValue, error) {
	if len(names) == 0 {
		return nil, nil
	}
	if s == nil || s.prefix == "" {
		return nil, errors.New("secret store not configured, could not fetch secrets (start the node with --secrets-topic)")
	}
	if entityJWT == "" {
		return nil, errors.New("entity did not have an embedded JWT, required to fetch secrets (was this entity signed during build?)")
	}
	out := map[string]bridge.SecretValue{}
	for _, name := range slices.Sorted(slices.Values(names)) {
		ref, err := ParseSecretRef(name, refs[name])
		if err != nil {
			return nil, err
		}
		v, err := s.get(ctx, ref, entityJWT, app)
		if err != nil {
			return nil, fmt.Errorf("secret %s (backend %s): %w", name, ref.Backend, err)
		}
		out[ref.Name] = v
	}
	return out, nil
}

func (s *Secrets) serverKey(ctx context.Context, backend string) (nkeys.KeyPair, error) {
	s.mu.Lock()
	kp := s.servers[backend]
	s.mu.Unlock()
	if kp != nil {
		return kp, nil
	}
	if err := subject.ValidateToken("secrets backend", backend); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	msg, err := s.nc.RequestWithContext(ctx, subject.SecretsServerXKey(s.prefix, backend), nil)
	if err != nil {
		return nil, fmt.Errorf("failed to fetch server xkey: %w", err)
	}
	kp, err = nkeys.FromPublicKey(string(msg.Data))
	if err != nil || !nkeys.IsValidPublicCurveKey(string(msg.Data)) {
		return nil, fmt.Errorf("failed to parse server xkey: %q is not a public xkey", msg.Data)
	}
	s.mu.Lock()
	s.servers[backend] = kp
	s.mu.Unlock()
	return kp, nil
}

func (s *Secrets) get(ctx context.Context, ref SecretRef, entityJWT, app string) (bridge.SecretValue, error) {
	server, err := s.serverKey(ctx, ref.Backend)
	if err != nil {
		return bridge.SecretValue{}, err
	}
	serverPub, _ := server.PublicKey()
	req := secretRequest{Key: ref.Key, Field: ref.Field, Version: ref.Version}
	req.Context.EntityJWT, req.Context.HostJWT = entityJWT, s.hostJWT
	req.Context.Application.Policy = ref.Policy
	if app != "" {
		req.Context.Application.Name = &app
	}
	plain, err := json.Marshal(req)
	if err != nil {
		return bridge.SecretValue{}, err
	}
	mine, err := nkeys.CreateCurveKeys() // one per request, as upstream
	if err != nil {
		return bridge.SecretValue{}, err
	}
	sealed, err := mine.Seal(plain, serverPub)
	if err != nil {
		return bridge.SecretValue{}, fmt.Errorf("failed to seal secret request: %w", err)
	}
	myPub, _ := mine.PublicKey()
	m := nats.NewMsg(subject.SecretsGet(s.prefix, ref.Backend))
	m.Header.Set(HeaderHostXKey, myPub)
	m.Data = sealed
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	resp, err := s.nc.RequestMsgWithContext(ctx, m)
	if err != nil {
		return bridge.SecretValue{}, fmt.Errorf("failed to send secret request: %w", err)
	}
	body := resp.Data
	if rk := resp.Header.Get(HeaderResponseXKey); rk != "" {
		if body, err = mine.Open(resp.Data, rk); err != nil {
			return bridge.SecretValue{}, fmt.Errorf("failed to open secret response: %w", err)
		}
	}
	var sr secretResponse
	if err := json.Unmarshal(body, &sr); err != nil {
		return bridge.SecretValue{}, errors.New("failed to deserialize secret response")
	}
	switch {
	case len(sr.Error) > 0 && string(sr.Error) != "null":
		return bridge.SecretValue{}, fmt.Errorf("server error: %s", getSecretError(sr.Error))
	case resp.Header.Get(HeaderResponseXKey) == "":
		return bridge.SecretValue{}, errors.New("server error: unhandled server error (the server errored without explanation)")
	case sr.Secret == nil:
		return bridge.SecretValue{}, fmt.Errorf("missing secret: no secret found with name [%s]", ref.Key)
	case sr.Secret.StringSecret != nil:
		return bridge.SecretValue{String: sr.Secret.StringSecret}, nil
	case sr.Secret.RawBinary != nil:
		b := make([]byte, len(sr.Secret.RawBinary))
		for i, n := range sr.Secret.RawBinary {
			if n < 0 || n > 255 {
				return bridge.SecretValue{}, errors.New("failed to deserialize secret response: binary_secret is not bytes")
			}
			b[i] = byte(n)
		}
		return bridge.SecretValue{Bytes: b}, nil
	}
	return bridge.SecretValue{}, fmt.Errorf("missing secret: secret %s has neither a string nor a binary value", ref.Key)
}

// HostJWT is the self-signed host JWT a wasmCloud 1.x host makes at start
// (wascap Claims<Host>, issued by a new account key, subject the host id,
// tagged self_signed), sent in secret requests as host_jwt.
func HostJWT(hostID, friendlyName string, now time.Time) (string, error) {
	issuer, err := nkeys.CreateAccount()
	if err != nil {
		return "", err
	}
	iss, _ := issuer.PublicKey()
	jti := make([]byte, 16)
	_, _ = rand.Read(jti)
	claims := map[string]any{
		"jti": hex.EncodeToString(jti), "iat": now.Unix(), "iss": iss, "sub": hostID,
		"wascap":          map[string]any{"name": friendlyName, "labels": map[string]string{"self_signed": "true"}},
		"wascap_revision": 3,
	}
	return SignWascap(issuer, claims)
}

// wascapHeader is the JWT header wascap writes.
const wascapHeader = `{"typ":"jwt","alg":"Ed25519"}`

// SignWascap encodes claims as a wascap JWT signed by kp.
func SignWascap(kp nkeys.KeyPair, claims map[string]any) (string, error) {
	body, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	msg := enc.EncodeToString([]byte(wascapHeader)) + "." + enc.EncodeToString(body)
	sig, err := kp.Sign([]byte(msg))
	if err != nil {
		return "", err
	}
	return msg + "." + enc.EncodeToString(sig), nil
}

// EmbeddedJWT returns the claims JWT wascap embeds in a module or
// component (its "jwt" custom section), or "" when it has none.
func EmbeddedJWT(wasm []byte) string {
	if len(wasm) < 8 || string(wasm[:4]) != "\x00asm" {
		return ""
	}
	for p := 8; p < len(wasm); {
		id := wasm[p]
		size, n := uleb(wasm[p+1:])
		if n == 0 {
			return ""
		}
		start := p + 1 + n
		end := start + int(size)
		if end > len(wasm) || end < start {
			return ""
		}
		if id == 0 {
			nameLen, m := uleb(wasm[start:end])
			if m > 0 && start+m+int(nameLen) <= end && string(wasm[start+m:start+m+int(nameLen)]) == "jwt" {
				return string(wasm[start+m+int(nameLen) : end])
			}
		}
		p = end
	}
	return ""
}

func uleb(b []byte) (uint64, int) {
	var v uint64
	for i := 0; i < len(b) && i < 10; i++ {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i]&0x80 == 0 {
			return v, i + 1
		}
	}
	return 0, 0
}
