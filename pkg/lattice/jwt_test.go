package lattice

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
)

// decentralized holds an operator-mode nats-server (as edge sites run) and
// the credentials of one user of its account.
type decentralized struct {
	url            string
	userJWT        string
	userSeed       string
	credsFile      string
	strangerCreds  string
	malformedCreds string
}

func mustKP(t *testing.T, create func() (nkeys.KeyPair, error)) (nkeys.KeyPair, string) {
	t.Helper()
	kp, err := create()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return kp, pub
}

func userCreds(t *testing.T, account nkeys.KeyPair) (string, string) {
	t.Helper()
	ukp, upub := mustKP(t, nkeys.CreateUser)
	uc := jwt.NewUserClaims(upub)
	ujwt, err := uc.Encode(account)
	if err != nil {
		t.Fatal(err)
	}
	seed, err := ukp.Seed()
	if err != nil {
		t.Fatal(err)
	}
	return ujwt, string(seed)
}

func startOperatorServer(t *testing.T) decentralized {
	t.Helper()
	okp, opub := mustKP(t, nkeys.CreateOperator)
	oc := jwt.NewOperatorClaims(opub)
	oc.Name = "test-operator"
	ojwt, err := oc.Encode(okp)
	if err != nil {
		t.Fatal(err)
	}
	opClaims, err := jwt.DecodeOperatorClaims(ojwt)
	if err != nil {
		t.Fatal(err)
	}
	akp, apub := mustKP(t, nkeys.CreateAccount)
	ac := jwt.NewAccountClaims(apub)
	ajwt, err := ac.Encode(okp)
	if err != nil {
		t.Fatal(err)
	}
	resolver := &server.MemAccResolver{}
	if err := resolver.Store(apub, ajwt); err != nil {
		t.Fatal(err)
	}
	srv, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, NoSigs: true, NoLog: true,
		TrustedOperators: []*jwt.OperatorClaims{opClaims}, AccountResolver: resolver,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("operator-mode nats-server not ready")
	}

	d := decentralized{url: srv.ClientURL()}
	d.userJWT, d.userSeed = userCreds(t, akp)
	dir := t.TempDir()
	writeCreds := func(name, ujwt, seed string) string {
		b, err := jwt.FormatUserConfig(ujwt, []byte(seed))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	d.credsFile = writeCreds("user.creds", d.userJWT, d.userSeed)
	// A user signed by an account the operator never issued.
	strangerAccount, _ := mustKP(t, nkeys.CreateAccount)
	sjwt, sseed := userCreds(t, strangerAccount)
	d.strangerCreds = writeCreds("stranger.creds", sjwt, sseed)
	d.malformedCreds = filepath.Join(dir, "malformed.creds")
	if err := os.WriteFile(d.malformedCreds, []byte("no jwt here"), 0o600); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestConnectDecentralizedAuth(t *testing.T) {
	t.Parallel()
	d := startOperatorServer(t)
	tests := []struct {
		name    string
		cfg     Config
		wantErr []string
	}{
		{"creds file", Config{CredsFile: d.credsFile}, nil},
		{"jwt and seed", Config{UserJWT: d.userJWT, UserSeed: d.userSeed}, nil},
		{"unknown account", Config{CredsFile: d.strangerCreds}, []string{"rejected the credentials given with --nats-creds", d.url}},
		{"malformed creds", Config{CredsFile: d.malformedCreds}, []string{"--nats-creds " + d.malformedCreds, "nsc generate creds"}},
		{"no credentials", Config{}, []string{"requires authentication and none was given", "--nats-creds"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			cfg := tt.cfg
			cfg.URLs = d.url
			nc, err := Connect(ctx, cfg, nil)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				defer nc.Close()
				if err := nc.Flush(); err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				nc.Close()
				t.Fatal("connected, want an error")
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if strings.Contains(err.Error(), d.userSeed) {
				t.Errorf("error leaks the seed: %v", err)
			}
		})
	}
}
