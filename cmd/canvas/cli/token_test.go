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
	dir := t.TempDir()
	d, err := daemon.New(daemon.Options{EmbeddedNATS: true, EmbeddedNATSPort: -1, StateDir: dir, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Shutdown(context.Background()) })
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
