package cli_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wasmcanvas/wasmcanvas/pkg/auth"
	"github.com/wasmcanvas/wasmcanvas/pkg/daemon"
	"github.com/wasmcanvas/wasmcanvas/pkg/identity"
)

// TestToken: canvas token gets a client-credentials token from canvasd's
// embedded issuer that canvasd's verifier accepts with the client's roles.
func TestToken(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, dir := startCanvasd(ctx, t)
	secretFile := filepath.Join(dir, auth.AdminTokenFile)
	base := []string{"token", "--server", d.APIURL()}

	code, out, errOut := run(t, "", append(base, "--client-id", identity.AdminClient, "--client-secret-file", secretFile)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	c, err := d.Verifier().Verify(ctx, strings.TrimSpace(out))
	if err != nil || !slices.Contains(c.Roles, auth.RoleWrite) || c.Client != identity.AdminClient {
		t.Fatalf("the token: %+v %v", c, err)
	}

	code, out, errOut = run(t, "", append(base, "--client-id", identity.AdminClient, "--client-secret-file", secretFile, "-o", "json")...)
	var tr identity.TokenResponse
	if code != 0 || json.Unmarshal([]byte(out), &tr) != nil || tr.TokenType != "Bearer" || tr.ExpiresIn <= 0 {
		t.Fatalf("-o json: exit %d %s %s", code, out, errOut)
	}

	wrong := writeFile(t, t.TempDir(), "wrong", []byte("not-the-secret\n"))
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--client-id", identity.AdminClient, "--client-secret-file", wrong}, 1, "invalid_client"},
		{[]string{"--client-id", identity.AdminClient}, 2, "go together"},
		{[]string{"--audience", "no-such-api", "--client-id", identity.AdminClient, "--client-secret-file", secretFile}, 1, "invalid_target"},
		{[]string{"-o", "xml"}, 2, "--output"},
	} {
		code, out, errOut := run(t, "", append(base, tc.args...)...)
		if code != tc.code || !strings.Contains(out+errOut, tc.want) {
			t.Errorf("canvas token %v: exit %d (want %d), want %q in %s%s", tc.args, code, tc.code, tc.want, out, errOut)
		}
	}
}

// startCanvasd starts canvasd with embedded NATS and its embedded issuer
// on a state directory of its own.
func startCanvasd(ctx context.Context, t *testing.T) (*daemon.Daemon, string) {
	t.Helper()
	dir := t.TempDir()
	d, err := daemon.New(daemon.Options{EmbeddedNATS: true, EmbeddedNATSPort: -1, StateDir: dir, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Shutdown(context.Background()) })
	return d, dir
}

// TestClient: canvas client create prints a secret once that canvas token
// turns into a token carrying the granted roles; list, grant and delete
// follow, and the canvas's own clients are refused.
func TestClient(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, dir := startCanvasd(ctx, t)
	admin, err := auth.ReadAdminToken(dir)
	if err != nil {
		t.Fatal(err)
	}
	srv := []string{"--server", d.APIURL(), "--token", admin}
	cli := func(args ...string) (int, string, string) { t.Helper(); return run(t, "", append(args, srv...)...) }

	code, secret, errOut := cli("client", "create", "ci", "--grant", identity.CanvasAudience+"="+auth.RoleRead)
	if code != 0 || strings.TrimSpace(secret) == "" || !strings.Contains(errOut, "keep its secret now") {
		t.Fatalf("client create: exit %d %q %s", code, secret, errOut)
	}
	secretFile := writeFile(t, t.TempDir(), "ci.secret", []byte(secret))
	code, out, errOut := run(t, "", "token", "--server", d.APIURL(), "--client-id", "ci", "--client-secret-file", secretFile)
	if code != 0 {
		t.Fatalf("token: exit %d %s", code, errOut)
	}
	c, err := d.Verifier().Verify(ctx, strings.TrimSpace(out))
	if err != nil || c.Client != "ci" || !slices.Equal(c.Roles, []string{auth.RoleRead}) {
		t.Fatalf("ci's token: %+v %v", c, err)
	}
	if code, out, errOut := cli("client", "grant", "ci", identity.CanvasAudience+"="+auth.RoleWrite); code != 0 || !strings.Contains(out, auth.RoleRead+","+auth.RoleWrite) {
		t.Errorf("client grant: exit %d %s %s", code, out, errOut)
	}
	code, out, errOut = cli("client", "list", "-o", "json")
	var list struct{ Items []struct{ ID string } }
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list.Items) != 3 || list.Items[0].ID != identity.AdminClient || list.Items[2].ID != "ci" {
		t.Errorf("client list -o json: exit %d %s %s", code, out, errOut)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"client", "create", "ci"}, 1, "exists"},
		{[]string{"client", "grant", identity.AdminClient, "x=y"}, 1, "the canvas's own"},
		{[]string{"client", "delete", identity.SystemClient}, 1, "the canvas's own"},
		{[]string{"client", "create", "x", "--grant", "productcatalog"}, 2, "AUDIENCE=ROLE"},
		{[]string{"client", "delete", "ci"}, 0, "client ci deleted"},
		{[]string{"client", "delete", "ci"}, 1, "no client"},
	} {
		code, out, errOut := cli(tc.args...)
		if code != tc.code || !strings.Contains(out+errOut, tc.want) {
			t.Errorf("canvas %v: exit %d (want %d), want %q in %s%s", tc.args, code, tc.code, tc.want, out, errOut)
		}
	}
}
