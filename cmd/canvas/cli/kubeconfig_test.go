package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/wasmcanvas/wasmcanvas/pkg/auth"
	"github.com/wasmcanvas/wasmcanvas/pkg/daemon"
	"github.com/wasmcanvas/wasmcanvas/pkg/kubeapi"
)

// TestKubeconfig: for a canvasd whose runtime file names its kube API, the
// kubeconfig carries that URL, the state directory's CA and admin
// credential, and the components namespace; without one it says why.
func TestKubeconfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if code, _, stderr := run(t, "", "kubeconfig", "--state-dir", dir); code == 0 || !strings.Contains(stderr, dir) {
		t.Errorf("no canvas: exit %d, stderr %q; want a failure naming the state directory", code, stderr)
	}
	tok, err := auth.EnsureAdminToken(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, ca, err := kubeapi.EnsureTLS(dir)
	if err != nil {
		t.Fatal(err)
	}
	ri, _ := json.Marshal(daemon.RuntimeInfo{PID: os.Getpid(), API: "http://127.0.0.1:1", Kube: "https://127.0.0.1:2"})
	if err := os.WriteFile(filepath.Join(dir, daemon.RuntimeFile), ri, 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := run(t, "", "kubeconfig", "--state-dir", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	cfg, err := clientcmd.Load([]byte(stdout))
	if err != nil {
		t.Fatalf("not a kubeconfig: %v\n%s", err, stdout)
	}
	ctx := cfg.Contexts[cfg.CurrentContext]
	if ctx == nil || ctx.Namespace != "components" {
		t.Fatalf("current context %+v", ctx)
	}
	cluster, user := cfg.Clusters[ctx.Cluster], cfg.AuthInfos[ctx.AuthInfo]
	if cluster.Server != "https://127.0.0.1:2" || string(cluster.CertificateAuthorityData) != string(ca) || user.Token != tok {
		t.Errorf("server %q, CA matches %v, token matches %v", cluster.Server, string(cluster.CertificateAuthorityData) == string(ca), user.Token == tok)
	}
}
