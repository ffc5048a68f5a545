package kubeapi

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Files of the kube API's TLS material in a state directory. The CA is
// what a kubeconfig trusts; the serving certificate is re-issued by the CA
// whenever it lacks a host it must serve.
const (
	CAFile   = "kube-ca.crt"
	caKey    = "kube-ca.key"
	certFile = "kube-server.crt"
	keyFile  = "kube-server.key"
)

// certLifetime of both certificates; a canvas state directory outliving
// it gets new ones (and `canvas kubeconfig` the new CA).
const certLifetime = 5 * 365 * 24 * time.Hour

// EnsureTLS returns a server TLS config for hosts (IP addresses or DNS
// names; loopback and localhost are always included) and the PEM of the
// CA that signed it, creating a self-signed CA and the serving key pair
// in stateDir (0600) as needed.
func EnsureTLS(stateDir string, hosts ...string) (*tls.Config, []byte, error) {
	ca, caPriv, caPEM, err := ensureCA(stateDir)
	if err != nil {
		return nil, nil, err
	}
	hosts = append([]string{"127.0.0.1", "::1", "localhost"}, hosts...)
	certPath, keyPath := filepath.Join(stateDir, certFile), filepath.Join(stateDir, keyFile)
	if pair, err := tls.LoadX509KeyPair(certPath, keyPath); err == nil && covers(pair.Leaf, ca, hosts) {
		return serverConfig(pair), caPEM, nil
	}
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: "wasmcanvas kube API"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(certLifetime),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range slices.Compact(slices.Sorted(slices.Values(hosts))) {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &priv.PublicKey, caPriv)
	if err != nil {
		return nil, nil, fmt.Errorf("kube API certificate: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(priv)
	if err != nil {
		return nil, nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	if err := writeSecret(keyPath, keyPEM); err != nil {
		return nil, nil, err
	}
	if err := writeSecret(certPath, certPEM); err != nil {
		return nil, nil, err
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, nil, err
	}
	return serverConfig(pair), caPEM, nil
}

// ReadCA returns the PEM of stateDir's kube API CA.
func ReadCA(stateDir string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(stateDir, CAFile))
	if err != nil {
		return nil, fmt.Errorf("kube API CA: %w (has canvas up or canvasd run with --state-dir %s and the kube API on?)", err, stateDir)
	}
	return b, nil
}

func serverConfig(pair tls.Certificate) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"}}
}

func covers(leaf, ca *x509.Certificate, hosts []string) bool {
	if leaf == nil || time.Now().After(leaf.NotAfter.Add(-24*time.Hour)) || leaf.CheckSignatureFrom(ca) != nil {
		return false
	}
	for _, h := range hosts {
		if leaf.VerifyHostname(h) != nil {
			return false
		}
	}
	return true
}

func ensureCA(stateDir string) (*x509.Certificate, *ecdsa.PrivateKey, []byte, error) {
	certPath, keyPath := filepath.Join(stateDir, CAFile), filepath.Join(stateDir, caKey)
	certPEM, cerr := os.ReadFile(certPath)
	keyPEM, kerr := os.ReadFile(keyPath)
	if cerr == nil && kerr == nil {
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err == nil && time.Now().Before(pair.Leaf.NotAfter.Add(-24*time.Hour)) {
			if priv, ok := pair.PrivateKey.(*ecdsa.PrivateKey); ok {
				return pair.Leaf, priv, certPEM, nil
			}
		}
	} else if !errors.Is(cerr, fs.ErrNotExist) && cerr != nil {
		return nil, nil, nil, fmt.Errorf("kube API CA: %w", cerr)
	}
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: "wasmcanvas kube API CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(certLifetime),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("kube API CA: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(priv)
	if err != nil {
		return nil, nil, nil, err
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := writeSecret(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})); err != nil {
		return nil, nil, nil, err
	}
	if err := writeSecret(certPath, certPEM); err != nil {
		return nil, nil, nil, err
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, nil, err
	}
	// A new CA invalidates the old serving certificate.
	_ = os.Remove(filepath.Join(stateDir, certFile)) // absent already: nothing to do
	return ca, priv, certPEM, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	return n
}

// writeSecret writes data to path (0600) through a rename, so a reader
// never sees half a key.
func writeSecret(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("kube API TLS: %w", err)
	}
	_, werr := tmp.Write(data)
	if err := errors.Join(werr, tmp.Chmod(0o600), tmp.Close()); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("kube API TLS %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("kube API TLS %s: %w", path, err)
	}
	return nil
}
