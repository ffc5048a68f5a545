package node

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
	"github.com/wasmcanvas/wasmcanvas/pkg/latticeadmin"
)

// secretsBackend is a double of a wasmCloud secrets backend
// (secrets-nats-kv's api.rs, v1.9.2), speaking its protocol: server_xkey
// answers the backend's public xkey; get opens the request sealed for it
// with the WasmCloud-Host-Xkey header's key, validates both JWTs as
// wascap's validate_token does (signature, expiry), and answers either a
// SecretResponse sealed for the requester by a new xkey named in
// Server-Response-Xkey, or a plain SecretResponse with the error.
type secretsBackend struct {
	t       testing.TB
	key     nkeys.KeyPair
	secrets map[string]string // key: value

	mu       sync.Mutex
	requests []map[string]any // the opened requests
}

func newSecretsBackend(t testing.TB, nc *nats.Conn, backend string, secrets map[string]string) *secretsBackend {
	t.Helper()
	kp, err := nkeys.CreateCurveKeys()
	if err != nil {
		t.Fatal(err)
	}
	b := &secretsBackend{t: t, key: kp, secrets: secrets}
	pub, _ := kp.PublicKey()
	s1, err := nc.Subscribe(subject.SecretsServerXKey(subject.SecretsDefaultPrefix, backend), func(m *nats.Msg) { _ = m.Respond([]byte(pub)) })
	if err != nil {
		t.Fatal(err)
	}
	s2, err := nc.Subscribe(subject.SecretsGet(subject.SecretsDefaultPrefix, backend), b.get)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s1.Unsubscribe(); _ = s2.Unsubscribe() })
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return b
}

func (b *secretsBackend) get(m *nats.Msg) {
	plainErr := func(e string) { _ = m.Respond([]byte(`{"error":` + e + `}`)) }
	host := m.Header.Get(HeaderHostXKey)
	if host == "" {
		plainErr(`"InvalidXKey"`)
		return
	}
	b.mu.Lock()
	key := b.key
	b.mu.Unlock()
	payload, err := key.Open(m.Data, host)
	if err != nil {
		plainErr(`"DecryptionError"`)
		return
	}
	// SecretRequest and nothing else (the field set is checked below, by
	// name, against upstream's).
	var req secretRequest
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		plainErr(`"InvalidRequest"`)
		return
	}
	var raw map[string]any
	_ = json.Unmarshal(payload, &raw)
	if got := fmt.Sprint(slices.Sorted(maps.Keys(raw))); got != "[context field key version]" {
		b.t.Errorf("SecretRequest fields %s, want upstream's [context field key version]", got)
	}
	b.mu.Lock()
	b.requests = append(b.requests, raw)
	b.mu.Unlock()
	if err := validateWascap(req.Context.EntityJWT, "hash"); err != nil {
		plainErr(fmt.Sprintf(`{"InvalidEntityJWT":%q}`, "Invalid Component JWT: "+err.Error()))
		return
	}
	if err := validateWascap(req.Context.HostJWT, "labels"); err != nil {
		plainErr(fmt.Sprintf(`{"InvalidHostJWT":%q}`, err.Error()))
		return
	}
	v, ok := b.secrets[req.Key]
	if !ok {
		plainErr(`"SecretNotFound"`)
		return
	}
	body, _ := json.Marshal(map[string]any{"secret": map[string]any{"version": "1", "string_secret": v, "binary_secret": nil}})
	reply, _ := nkeys.CreateCurveKeys()
	sealed, err := reply.Seal(body, host)
	if err != nil {
		plainErr(`"EncryptionError"`)
		return
	}
	pub, _ := reply.PublicKey()
	out := nats.NewMsg(m.Reply)
	out.Header.Set(HeaderResponseXKey, pub)
	out.Data = sealed
	_ = m.RespondMsg(out)
}

func (b *secretsBackend) opened() []map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]map[string]any(nil), b.requests...)
}

// validateWascap checks a wascap JWT as validate_token does: the Ed25519
// header, the issuer's signature, expiry and not-before, and the wascap
// metadata field want (hash for a component, labels for a host).
func validateWascap(token, want string) error {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return errors.New("invalid token format")
	}
	enc := base64.RawURLEncoding
	hdr, err := enc.DecodeString(parts[0])
	if err != nil || string(hdr) != wascapHeader {
		return fmt.Errorf("invalid header %s", hdr)
	}
	body, err := enc.DecodeString(parts[1])
	if err != nil {
		return err
	}
	sig, err := enc.DecodeString(parts[2])
	if err != nil {
		return err
	}
	var c struct {
		Iss    string                     `json:"iss"`
		Exp    int64                      `json:"exp"`
		Nbf    int64                      `json:"nbf"`
		Wascap map[string]json.RawMessage `json:"wascap"`
	}
	if err := json.Unmarshal(body, &c); err != nil {
		return err
	}
	if _, ok := c.Wascap[want]; !ok {
		return fmt.Errorf("not the expected claims (no wascap.%s)", want)
	}
	kp, err := nkeys.FromPublicKey(c.Iss)
	if err != nil {
		return err
	}
	if kp.Verify([]byte(parts[0]+"."+parts[1]), sig) != nil {
		return errors.New("signature is not valid")
	}
	if c.Exp != 0 && time.Now().Unix() > c.Exp {
		return fmt.Errorf("token expired at `%s`", time.Unix(c.Exp, 0).UTC())
	}
	if c.Nbf != 0 && time.Now().Unix() < c.Nbf {
		return errors.New("token cannot be used yet")
	}
	return nil
}

// signedEcho writes the echo component with wascap component claims
// embedded (a "jwt" custom section, as `wash build` signs) that expire at
// exp, and returns its path.
func signedEcho(t *testing.T, dir string, exp time.Time) string {
	t.Helper()
	wasm, err := os.ReadFile(echoWasm(t))
	if err != nil {
		t.Fatal(err)
	}
	account, _ := nkeys.CreateAccount()
	module, _ := nkeys.CreateUser() // wascap names a module M…; nkeys for Go has no such prefix, and validate_token reads no subject
	iss, _ := account.PublicKey()
	sub, _ := module.PublicKey()
	sum := sha256.Sum256(wasm)
	jwt, err := SignWascap(account, map[string]any{
		"jti": "test", "iat": time.Now().Unix(), "exp": exp.Unix(), "iss": iss, "sub": sub, "wascap_revision": 3,
		"wascap": map[string]any{"name": "echo", "hash": strings.ToUpper(hex.EncodeToString(sum[:])), "tags": []string{}, "rev": 0, "ver": "0.1.0", "prov": false},
	})
	if err != nil {
		t.Fatal(err)
	}
	name := []byte("jwt")
	content := append([]byte{byte(len(name))}, name...)
	content = append(content, jwt...)
	section := append([]byte{0}, uleb128(uint64(len(content)))...)
	wasm = append(wasm, append(section, content...)...)
	if EmbeddedJWT(wasm) != jwt {
		t.Fatal("EmbeddedJWT does not read the section back")
	}
	p := filepath.Join(dir, fmt.Sprintf("echo-%d.wasm", exp.Unix()))
	if err := os.WriteFile(p, wasm, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func uleb128(v uint64) []byte {
	var out []byte
	for {
		b := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			out = append(out, b|0x80)
			continue
		}
		return append(out, b)
	}
}

// TestSecretsResolvedThroughTheBackend: a component naming a SECRET_
// reference gets the secret's value (its wasi:config under the secret's
// name) from a backend speaking wasmCloud's protocol over NATS, asked with
// the component's embedded JWT and the node's host JWT; a component whose
// claims expired, or an unsigned one, is refused with a
// component_scale_failed event saying why; no value reaches the log.
func TestSecretsResolvedThroughTheBackend(t *testing.T) {
	const value = "s3cret-value-never-logged"
	dir := t.TempDir()
	core, logs := observer.New(zapcore.DebugLevel)
	s := startServingWith(t, []string{dir}, nil, zap.New(core))
	nc := testkit.Connect(t, s.url)
	backend := newSecretsBackend(t, nc, "test", map[string]string{"db/password": value})
	sec, err := NewSecrets(testkit.Connect(t, s.url), subject.SecretsDefaultPrefix, s.node.ID(), "test-host")
	if err != nil {
		t.Fatal(err)
	}
	s.rt.opts.Secrets = sec

	ctx := context.Background()
	ref := map[string]string{"name": "db-password", "type": "secret.wasmcloud.dev/v1alpha1", "backend": "test", "key": "db/password",
		"policy": `{"type":"properties.secret.wasmcloud.dev/v1alpha1","properties":{}}`}
	if _, err := s.client.ConfigPut(ctx, "SECRET_app-db-password", ref); err != nil {
		t.Fatal(err)
	}
	scale := func(path, id string) {
		t.Helper()
		if _, err := s.client.ScaleComponent(ctx, latticeadmin.ScaleComponentCommand{ComponentRef: "file://" + path, ComponentID: id, Count: 1, HostID: s.node.ID(),
			Annotations: map[string]string{AppSpecAnnotation: "app"}, Config: []string{"SECRET_app-db-password"}}); err != nil {
			t.Fatal(err)
		}
	}

	scale(signedEcho(t, dir, time.Now().Add(time.Hour)), "app-good")
	testkit.WaitFor(t, 30*time.Second, "the signed component starts", func() bool { return s.loaded("app-good") != nil })
	if got := s.loaded("app-good")["db-password"]; got != value {
		t.Errorf("the component's config db-password = %q, want the secret", got)
	}
	reqs := backend.opened()
	if len(reqs) != 1 {
		t.Fatalf("backend got %d requests", len(reqs))
	}
	ctxFields := reqs[0]["context"].(map[string]any)
	if reqs[0]["key"] != "db/password" || ctxFields["application"].(map[string]any)["name"] != "app" ||
		!strings.Contains(ctxFields["application"].(map[string]any)["policy"].(string), "properties.secret.wasmcloud.dev/v1alpha1") {
		t.Errorf("request %v", reqs[0])
	}

	scale(signedEcho(t, dir, time.Now().Add(-time.Minute)), "app-expired")
	if d := string(s.event(EventComponentScaleFailed, 0)); !strings.Contains(d, "Invalid Entity JWT") || !strings.Contains(d, "expired") {
		t.Errorf("component_scale_failed for the expired claims: %s", d)
	}
	unsigned, err := os.ReadFile(echoWasm(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "unsigned.wasm"), unsigned, 0o600); err != nil {
		t.Fatal(err)
	}
	scale(filepath.Join(dir, "unsigned.wasm"), "app-unsigned")
	if d := string(s.event(EventComponentScaleFailed, 1)); !strings.Contains(d, "did not have an embedded JWT") {
		t.Errorf("component_scale_failed for the unsigned component: %s", d)
	}
	// A backend whose key changed since the node asked for it cannot open
	// the request: the node says the backend's reason.
	rotated := newSecretsBackend(t, nc, "rotated", map[string]string{"db/password": value})
	jwt := EmbeddedJWT(mustRead(t, signedEcho(t, dir, time.Now().Add(time.Hour))))
	fetch := func() error {
		_, err := sec.Fetch(ctx, []string{"SECRET_r"}, map[string]map[string]string{"SECRET_r": {"name": "r", "type": "secret.wasmcloud.dev/v1alpha1", "backend": "rotated", "key": "db/password", "policy": "{}"}}, jwt, "")
		return err
	}
	if err := fetch(); err != nil {
		t.Fatal(err)
	}
	rotated.mu.Lock()
	rotated.key, _ = nkeys.CreateCurveKeys()
	rotated.mu.Unlock()
	if err := fetch(); err == nil || !strings.Contains(err.Error(), "Error decrypting secret") {
		t.Errorf("a request sealed for the old key: %v", err)
	}
	if s.loaded("app-expired") != nil || s.loaded("app-unsigned") != nil {
		t.Error("a refused component was loaded")
	}
	for _, e := range logs.All() {
		line, _ := json.Marshal(append([]any{e.Message}, e.ContextMap()))
		if strings.Contains(string(line), value) {
			t.Errorf("the secret's value is in the log: %s", line)
		}
	}
	if logs.FilterMessage("component did not start").Len() != 2 {
		t.Errorf("want two 'component did not start' logs, have %d", logs.FilterMessage("component did not start").Len())
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
