package lattice

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nkeys"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/embedded"
)

func TestConnectAuth(t *testing.T) {
	t.Parallel()
	user, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := user.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	seed, err := user.Seed()
	if err != nil {
		t.Fatal(err)
	}
	other, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	otherSeed, err := other.Seed()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	seedFile := filepath.Join(dir, "user.nk")
	otherSeedFile := filepath.Join(dir, "other.nk")
	for f, b := range map[string][]byte{seedFile: seed, otherSeedFile: otherSeed} {
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	const token, password = "s3cr3t-token-value", "s3cr3t-password"
	tokenSrv := testkit.NATS(t, embedded.Config{Auth: embedded.Auth{Token: token}})
	userSrv := testkit.NATS(t, embedded.Config{Auth: embedded.Auth{User: "canvas", Password: password}})
	nkeySrv := testkit.NATS(t, embedded.Config{Auth: embedded.Auth{NKeys: []string{pub}}})

	tests := []struct {
		name    string
		srv     *embedded.Server
		cfg     Config
		wantErr []string
		// urlInErr: the error comes from the server, so it names the URL tried
		urlInErr bool
	}{
		{"token", tokenSrv, Config{Token: token}, nil, false},
		{"bad token", tokenSrv, Config{Token: "wrong"}, []string{"rejected the credentials given with --nats-token", "Authorization Violation"}, true},
		{"token missing", tokenSrv, Config{}, []string{"requires authentication and none was given", "--nats-token"}, true},
		{"user password", userSrv, Config{User: "canvas", Password: password}, nil, false},
		{"bad password", userSrv, Config{User: "canvas", Password: "wrong"}, []string{"rejected the credentials given with --nats-user/--nats-password"}, true},
		{"nkey", nkeySrv, Config{NKeySeedFile: seedFile}, nil, false},
		{"unknown nkey", nkeySrv, Config{NKeySeedFile: otherSeedFile}, []string{"rejected the credentials given with --nats-nkey"}, true},
		{"nkey file missing", nkeySrv, Config{NKeySeedFile: filepath.Join(dir, "missing.nk")}, []string{"--nats-nkey", "no such file"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			core, logs := observer.New(zapcore.DebugLevel)
			cfg := tt.cfg
			cfg.URLs = tt.srv.ClientURL()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			nc, err := Connect(ctx, cfg, zap.New(core))
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				if err := nc.Flush(); err != nil {
					t.Fatal(err)
				}
				nc.Close()
			} else {
				if err == nil {
					nc.Close()
					t.Fatal("connected, want an error")
				}
				want := tt.wantErr
				if tt.urlInErr {
					want = append(want, tt.srv.ClientURL())
				}
				for _, want := range want {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not mention %q", err, want)
					}
				}
			}
			for _, e := range logs.All() {
				line := fmt.Sprint(e.Message, e.ContextMap())
				for _, secret := range []string{token, password, string(seed)} {
					if strings.Contains(line, secret) {
						t.Errorf("log line leaks a secret: %s", line)
					}
				}
			}
		})
	}
}

func TestConnectUnreachable(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = Connect(ctx, Config{URLs: "nats://u:pw@" + addr + ", " + addr, ConnectTimeout: time.Second}, nil)
	if err == nil {
		t.Fatal("connected to a closed port")
	}
	for _, want := range []string{"nats://u:xxxxx@" + addr, "nats://" + addr, "check that nats-server is running", "--nats-url"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if strings.Contains(err.Error(), ":pw@") {
		t.Errorf("error leaks the URL password: %v", err)
	}
}

func TestConnectContextCanceled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Connect(ctx, Config{URLs: "nats://127.0.0.1:1"}, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
		want []string // substrings; nil means valid
	}{
		{"defaults", Config{}, nil},
		{"url list", Config{URLs: "nats://a:4222, tls://b:4222,c:4222"}, nil},
		{"token", Config{Token: "t"}, nil},
		{"creds", Config{CredsFile: "x.creds"}, nil},
		{"jwt and seed", Config{UserJWT: "j", UserSeed: "s"}, nil},
		{"tls", Config{TLS: TLSConfig{CAFile: "ca.pem", CertFile: "c.pem", KeyFile: "k.pem"}}, nil},
		{"insecure alone", Config{TLS: TLSConfig{InsecureSkipVerify: true}}, nil},
		{"token and creds", Config{Token: "t", CredsFile: "x.creds"}, []string{"more than one NATS authentication method", "--nats-creds", "--nats-token"}},
		{"nkey and user", Config{NKeySeedFile: "u.nk", User: "u", Password: "p"}, []string{"--nats-nkey", "--nats-user/--nats-password"}},
		{"jwt without seed", Config{UserJWT: "j"}, []string{"--nats-jwt and --nats-seed go together"}},
		{"user without password", Config{User: "u"}, []string{"--nats-user and --nats-password go together"}},
		{"password without user", Config{Password: "p"}, []string{"--nats-user and --nats-password go together"}},
		{"cert without key", Config{TLS: TLSConfig{CertFile: "c.pem"}}, []string{"--nats-tls-cert and --nats-tls-key go together"}},
		{"insecure with ca", Config{TLS: TLSConfig{CAFile: "ca.pem", InsecureSkipVerify: true}}, []string{"--nats-tls-insecure-skip-verify contradicts --nats-tls-ca"}},
		{"bad scheme", Config{URLs: "http://a:4222"}, []string{"--nats-url", `scheme "http"`}},
		{"no host", Config{URLs: "nats://:4222"}, []string{"--nats-url", "has no host"}},
		{"only commas", Config{URLs: " , ,"}, []string{"--nats-url is empty"}},
		{"reconnect order", Config{ReconnectWait: time.Second, MaxReconnectWait: time.Millisecond}, []string{"--nats-max-reconnect-wait (1ms) must not be below --nats-reconnect-wait (1s)"}},
		{"negative timeout", Config{ConnectTimeout: -time.Second}, []string{"--nats-connect-timeout must be positive"}},
		{"password in bad url hidden", Config{URLs: "ftp://u:hunter2@a"}, []string{"xxxxx"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := tt.cfg
			if tt.name != "only commas" && tt.name != "negative timeout" {
				cfg = cfg.WithDefaults()
			}
			err := cfg.Validate()
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate() = nil, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error leaks a password: %v", err)
			}
		})
	}
}

func TestServerURLs(t *testing.T) {
	t.Parallel()
	got := Config{URLs: " nats://a:1, b:2 ,,tls://c:3"}.ServerURLs()
	want := []string{"nats://a:1", "nats://b:2", "tls://c:3"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("ServerURLs = %v, want %v", got, want)
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	base, max := 100*time.Millisecond, 2*time.Second
	next := backoff(base, max)
	tests := []struct {
		attempt int
		ceiling time.Duration
	}{
		{1, base}, {2, 2 * base}, {3, 4 * base}, {5, 16 * base}, {6, max}, {50, max}, {1 << 20, max},
	}
	for _, tt := range tests {
		for range 200 {
			d := next(tt.attempt)
			if d < tt.ceiling/2 || d > tt.ceiling {
				t.Fatalf("attempt %d: delay %s outside [%s, %s]", tt.attempt, d, tt.ceiling/2, tt.ceiling)
			}
		}
	}
	seen := map[time.Duration]bool{}
	for range 50 {
		seen[next(10)] = true
	}
	if len(seen) < 10 {
		t.Fatalf("50 delays gave only %d distinct values: no jitter", len(seen))
	}
}
