package lattice

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// pki writes a CA, a server certificate for 127.0.0.1 and a client
// certificate to dir and returns their file names.
type pki struct{ ca, serverCert, serverKey, clientCert, clientKey, garbage string }

func writePKI(t *testing.T) pki {
	t.Helper()
	dir := t.TempDir()
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey := key()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	leaf := func(name string, serial int64, usage x509.ExtKeyUsage) (string, string) {
		k := key()
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return write(name+".pem", "CERTIFICATE", der), write(name+"-key.pem", "EC PRIVATE KEY", kder)
	}
	p := pki{ca: write("ca.pem", "CERTIFICATE", caDER)}
	p.serverCert, p.serverKey = leaf("server", 2, x509.ExtKeyUsageServerAuth)
	p.clientCert, p.clientKey = leaf("client", 3, x509.ExtKeyUsageClientAuth)
	p.garbage = filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(p.garbage, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// startTLSServer runs a nats-server that requires TLS and a client
// certificate signed by the test CA.
func startTLSServer(t *testing.T, p pki) string {
	t.Helper()
	tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: p.serverCert, KeyFile: p.serverKey, CaFile: p.ca, Verify: true})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoSigs: true, NoLog: true, TLS: true, TLSVerify: true, TLSConfig: tc, TLSTimeout: 2})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("TLS nats-server not ready")
	}
	return srv.ClientURL()
}

func TestConnectTLS(t *testing.T) {
	t.Parallel()
	p := writePKI(t)
	url := startTLSServer(t, p)
	tests := []struct {
		name     string
		tls      TLSConfig
		wantErr  []string
		wantWarn bool
	}{
		{"ca and client cert", TLSConfig{CAFile: p.ca, CertFile: p.clientCert, KeyFile: p.clientKey}, nil, false},
		{"insecure with client cert", TLSConfig{InsecureSkipVerify: true, CertFile: p.clientCert, KeyFile: p.clientKey}, nil, true},
		{"system roots do not know the CA", TLSConfig{CertFile: p.clientCert, KeyFile: p.clientKey}, []string{"TLS failed", "--nats-tls-ca", "certificate"}, false},
		{"no client cert", TLSConfig{CAFile: p.ca}, []string{url, "TLS failed", "client certificate"}, false},
		{"ca file not PEM", TLSConfig{CAFile: p.garbage}, []string{"--nats-tls-ca", "no PEM certificate found"}, false},
		{"key pair mismatch", TLSConfig{CAFile: p.ca, CertFile: p.clientCert, KeyFile: p.serverKey}, []string{"--nats-tls-cert/--nats-tls-key"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			core, logs := observer.New(zapcore.DebugLevel)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			nc, err := Connect(ctx, Config{URLs: url, TLS: tt.tls, ConnectTimeout: 3 * time.Second}, zap.New(core))
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				defer nc.Close()
				if !nc.TLSRequired() {
					t.Fatal("connection is not TLS")
				}
			} else {
				if err == nil {
					nc.Close()
					t.Fatal("connected, want an error")
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not mention %q", err, w)
					}
				}
			}
			warned := logs.FilterMessage("nats TLS server certificate verification is disabled").Len() > 0
			if warned != tt.wantWarn {
				t.Errorf("insecure warning logged = %v, want %v", warned, tt.wantWarn)
			}
		})
	}
}
