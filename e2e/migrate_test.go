//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"github.com/wasmcanvas/wasmcanvas/cmd/canvas/cli"
	"github.com/wasmcanvas/wasmcanvas/internal/testref"
	"github.com/wasmcanvas/wasmcanvas/pkg/auth"
	"github.com/wasmcanvas/wasmcanvas/pkg/daemon/daemontest"
	"github.com/wasmcanvas/wasmcanvas/pkg/edge/edgetest"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
	"github.com/wasmcanvas/wasmcanvas/pkg/migrate"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm/wadmtest"
)

// TestMigrationRoundTripThroughKubernetesAPI runs a real Kubernetes CRD
// API server (k8s.io/apiextensions-apiserver on Debian's etcd, both
// installed by `make migrate-deps`) with the upstream Component CRD,
// creates the upstream v1 example there with client-go, and moves it:
// `canvas migrate export` from the API server, `import` into canvasd
// (Complete), `export --from wasmcanvas`, and back onto the API server.
// The specs are byte-identical after normalisation at every step, and
// `canvas migrate diff` compares the two statuses.
func TestMigrationRoundTripThroughKubernetesAPI(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	kubeconfig := startKubeAPI(ctx, t)

	cfg, err := migrate.KubeConfig(kubeconfig, "")
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	installComponentCRD(ctx, t, dyn)

	data, err := os.ReadFile(testref.Path(t, "oda", "examples", "productcatalog-v1.component.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var example map[string]any
	if err := yaml.Unmarshal(data, &example); err != nil {
		t.Fatal(err)
	}
	example["metadata"].(map[string]any)["namespace"] = oda.DefaultNamespace
	kube, err := migrate.NewKube(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := kube.Apply(ctx, example); err != nil {
		t.Fatal(err)
	}
	want, _ := migrate.NormalizedSpec(example)

	n := daemontest.StartNATS(t)
	nc, err := nats.Connect(n.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	wadmtest.Run(t, nc, subject.DefaultLattice)
	canvasd := daemontest.Start(t, daemontest.Options{NATS: n.URL(), Args: []string{"--ingress-url", "http://127.0.0.1:8080"}})
	tok, err := auth.ReadAdminToken(canvasd.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	canvas := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		if code := cli.Main(append(args, "--server", canvasd.API, "--token", tok), strings.NewReader(""), &out, &errb); code != 0 {
			t.Fatalf("canvas %v: exit %d\n%s%s", args, code, out.String(), errb.String())
		}
		return out.String() + errb.String()
	}
	const name = "ctk-productcatalogmanagement"
	file := migrate.ComponentFile(oda.Key{Namespace: oda.DefaultNamespace, Name: name})
	specOf := func(path string) []byte {
		t.Helper()
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var obj map[string]any
		if err := yaml.Unmarshal(data, &obj); err != nil {
			t.Fatal(err)
		}
		spec, err := migrate.NormalizedSpec(obj)
		if err != nil {
			t.Fatal(err)
		}
		return spec
	}

	bundle := t.TempDir()
	canvas("migrate", "export", "--kubeconfig", kubeconfig, "--namespace", oda.DefaultNamespace, "--out", bundle)
	if got := specOf(filepath.Join(bundle, file)); !bytes.Equal(got, want) {
		t.Fatalf("exported from Kubernetes:\n got %s\nwant %s", got, want)
	}
	exported, _ := os.ReadFile(filepath.Join(bundle, file))
	for _, k := range []string{"uid:", "resourceVersion:", "managedFields:", "creationTimestamp:", "generation:"} {
		if strings.Contains(string(exported), k) {
			t.Errorf("exported Component keeps %s\n%s", k, exported)
		}
	}
	impls := "ctk-prodcatapi: ghcr.io/a/b:1\nctk-productcatalogmanagement-sm: ghcr.io/a/c:1\nctk-permissionspecapi: ghcr.io/a/d:1\n"
	if err := os.WriteFile(filepath.Join(bundle, migrate.ImplementationsFile), []byte(impls), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := canvas("migrate", "import", bundle, "--timeout", "60s"); !strings.Contains(out, oda.DeploymentComplete) {
		t.Fatalf("import:\n%s", out)
	}

	back := t.TempDir()
	canvas("migrate", "export", "--from", "wasmcanvas", "--out", back)
	if got := specOf(filepath.Join(back, file)); !bytes.Equal(got, want) {
		t.Fatalf("exported back from wasmcanvas:\n got %s\nwant %s", got, want)
	}
	var again map[string]any
	data, _ = os.ReadFile(filepath.Join(back, file))
	if err := yaml.Unmarshal(data, &again); err != nil {
		t.Fatal(err)
	}
	if err := kube.Apply(ctx, again); err != nil {
		t.Fatalf("the YAML exported from wasmcanvas does not apply to the Kubernetes API: %v", err)
	}
	objs, _, err := kube.Components(ctx, oda.DefaultNamespace, name)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := migrate.NormalizedSpec(objs[0]); !bytes.Equal(got, want) {
		t.Errorf("on the Kubernetes API after the round trip:\n got %s\nwant %s", got, want)
	}
	if out := canvas("migrate", "diff", name, "--kubeconfig", kubeconfig, "--all", "-o", "json"); !strings.Contains(out, `"summary/status.deployment_status"`) {
		t.Errorf("diff:\n%s", out)
	}
}

// startKubeAPI starts etcd and apiextensions-apiserver on 127.0.0.1 (ports
// from the OS) and returns a kubeconfig whose client certificate is in
// system:masters, which the server's delegated authorizer always allows,
// so it needs no kube-apiserver to delegate to.
func startKubeAPI(ctx context.Context, t *testing.T) string {
	t.Helper()
	etcdBin, err := exec.LookPath("etcd")
	if err != nil {
		t.Fatal("etcd not found: run `make migrate-deps` (Debian's etcd-server)")
	}
	apiserver := os.Getenv("MIGRATE_APISERVER")
	if apiserver == "" {
		apiserver = filepath.Join("..", "bin", "apiextensions-apiserver")
	}
	if _, err := os.Stat(apiserver); err != nil {
		t.Fatalf("%s: %v: run `make migrate-deps` (go install k8s.io/apiextensions-apiserver@v0.37.2)", apiserver, err)
	}
	dir := t.TempDir()
	client, peer, secure := edgetest.FreeAddr(t), edgetest.FreeAddr(t), edgetest.FreeAddr(t)
	start(ctx, t, "etcd", etcdBin, "--name", "default", "--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", "http://"+client, "--advertise-client-urls", "http://"+client,
		"--listen-peer-urls", "http://"+peer, "--initial-advertise-peer-urls", "http://"+peer,
		"--initial-cluster", "default=http://"+peer)
	waitHTTP(t, http.DefaultClient, "http://"+client+"/health")

	caPEM, certPEM, keyPEM := clientPKI(t)
	for f, b := range map[string][]byte{"ca.crt": caPEM, "admin.crt": certPEM, "admin.key": keyPEM} {
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: migrate
  cluster:
    server: https://%s
    insecure-skip-tls-verify: true
users:
- name: admin
  user:
    client-certificate: %s
    client-key: %s
contexts:
- name: migrate
  context: {cluster: migrate, user: admin}
current-context: migrate
`, secure, filepath.Join(dir, "admin.crt"), filepath.Join(dir, "admin.key"))
	if err := os.WriteFile(kubeconfig, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	host, port, _ := strings.Cut(secure, ":")
	start(ctx, t, "apiextensions-apiserver", apiserver,
		"--etcd-servers", "http://"+client, "--bind-address", host, "--secure-port", port, "--cert-dir", filepath.Join(dir, "serving"),
		"--client-ca-file", filepath.Join(dir, "ca.crt"),
		"--kubeconfig", kubeconfig, "--authentication-kubeconfig", kubeconfig, "--authorization-kubeconfig", kubeconfig,
		"--authentication-skip-lookup",
		"--disable-admission-plugins", "NamespaceLifecycle,MutatingAdmissionWebhook,ValidatingAdmissionWebhook,ValidatingAdmissionPolicy,MutatingAdmissionPolicy",
		"--enable-priority-and-fairness=false")
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{Certificates: []tls.Certificate{cert}, InsecureSkipVerify: true}}}
	waitHTTP(t, hc, "https://"+secure+"/apis/apiextensions.k8s.io/v1")
	return kubeconfig
}

// start runs a process until the test ends (SIGKILL in Cleanup); its
// output is logged when the test fails.
func start(ctx context.Context, t *testing.T, name, bin string, args ...string) {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("%s output:\n%s", name, lastLines(out.String(), 60))
		}
	})
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func waitHTTP(t *testing.T, hc *http.Client, url string) {
	t.Helper()
	err := daemontest.WaitFor(60*time.Second, func() error {
		resp, err := hc.Get(url)
		if err != nil {
			return daemontest.ErrNotYet
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %s", url, resp.Status)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%s not ready: %v", url, err)
	}
}

// clientPKI makes a CA and an admin client certificate in system:masters.
func clientPKI(t *testing.T) (caPEM, certPEM, keyPEM []byte) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "migrate-ca"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "admin", Organization: []string{"system:masters"}},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	caCert, _ := x509.ParseCertificate(caDER)
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}

// helmTemplate matches the chart's template expressions in the CRD file.
var helmTemplate = regexp.MustCompile(`\{\{[^}]*\}\}`)

// installComponentCRD installs the upstream Component CRD (its Helm
// template values filled in) with conversion strategy None: the test runs
// no conversion webhook, and reads and writes v1 only.
func installComponentCRD(ctx context.Context, t *testing.T, dyn dynamic.Interface) {
	t.Helper()
	data, err := os.ReadFile(testref.Path(t, "oda", "crds", "oda-component-crd.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var crd map[string]any
	if err := yaml.Unmarshal(helmTemplate.ReplaceAll(data, []byte("canvas")), &crd); err != nil {
		t.Fatal(err)
	}
	spec := crd["spec"].(map[string]any)
	spec["conversion"] = map[string]any{"strategy": "None"}
	delete(crd["metadata"].(map[string]any), "annotations")
	gvr := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	if _, err := dyn.Resource(gvr).Create(ctx, &unstructured.Unstructured{Object: crd}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("installing the Component CRD: %v", err)
	}
	err = daemontest.WaitFor(60*time.Second, func() error {
		got, err := dyn.Resource(gvr).Get(ctx, "components.oda.tmforum.org", metav1.GetOptions{})
		if err != nil {
			return err
		}
		conds, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
		for _, c := range conds {
			if m, _ := c.(map[string]any); m["type"] == "Established" && m["status"] == "True" {
				return nil
			}
		}
		return daemontest.ErrNotYet
	})
	if err != nil {
		t.Fatalf("the Component CRD is not established: %v", err)
	}
	// Discovery of the new group may lag the condition.
	err = daemontest.WaitFor(30*time.Second, func() error {
		_, err := dyn.Resource(schema.GroupVersionResource{Group: oda.Group, Version: "v1", Resource: "components"}).Namespace(oda.DefaultNamespace).List(ctx, metav1.ListOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("components.%s not served: %v", oda.Group, err)
	}
}
