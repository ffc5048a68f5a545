package cli_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/wasmcanvas/wasmcanvas/internal/testref"
	"github.com/wasmcanvas/wasmcanvas/pkg/api/wire"
)

// TestAPIKeyCommands: create prints the key alone on stdout, list shows
// its id and consumer but never the key, revoke names it; errors say how
// to fix the call.
func TestAPIKeyCommands(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	info := startCanvas(t)
	file := writeFile(t, t.TempDir(), "echo.yaml", testref.EchoComponent("echo", "/echo/api"))
	if code, out, errOut := run(t, "", "apply", "-f", file, "--wait", "--timeout", "1m", "--server", info.API); code != 0 {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errOut)
	}
	code, key, errOut := run(t, "", "apikey", "create", "echo", "--consumer", "partner-a", "--server", info.API)
	key = strings.TrimSpace(key)
	if code != 0 || !strings.HasPrefix(key, "wck_") || strings.Contains(key, "\n") || !strings.Contains(errOut, "stores only its hash") {
		t.Fatalf("create: exit %d, stdout %q, stderr %q", code, key, errOut)
	}
	code, list, _ := run(t, "", "apikey", "list", "echo", "--server", info.API)
	if code != 0 || !strings.Contains(list, "partner-a") || strings.Contains(list, key) {
		t.Fatalf("list: exit %d\n%s", code, list)
	}
	id := strings.Fields(strings.Split(list, "\n")[1])[0]
	if code, out, errOut := run(t, "", "apikey", "revoke", "echo", id, "--server", info.API); code != 0 || !strings.Contains(out, id+" of components/echo (consumer partner-a) revoked") {
		t.Fatalf("revoke: exit %d\n%s%s", code, out, errOut)
	}
	// For scripts: the key and its id in one JSON object, YAML lists.
	code, out, errOut := run(t, "", "apikey", "create", "echo", "--consumer", "partner-b", "-o", "json", "--server", info.API)
	var made wire.APIKey
	if code != 0 || json.Unmarshal([]byte(out), &made) != nil || !strings.HasPrefix(made.Key, "wck_") || made.ID == "" || made.Consumer != "partner-b" {
		t.Fatalf("create -o json: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, _ = run(t, "", "apikey", "list", "echo", "-o", "yaml", "--server", info.API)
	var listed wire.APIKeyList
	if code != 0 || yaml.Unmarshal([]byte(out), &listed) != nil || !slices.ContainsFunc(listed.Items, func(k wire.APIKey) bool { return k.ID == made.ID && k.Key == "" }) {
		t.Fatalf("list -o yaml: exit %d\n%s", code, out)
	}
	code, out, _ = run(t, "", "apikey", "revoke", "echo", made.ID, "-o", "json", "--server", info.API)
	var revoked wire.APIKey
	if code != 0 || json.Unmarshal([]byte(out), &revoked) != nil || revoked.ID != made.ID || revoked.Key != "" {
		t.Fatalf("revoke -o json: exit %d\n%s", code, out)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"apikey", "create", "echo", "--consumer", "x", "-o", "xml", "--server", info.API}, `--output "xml": must be one of [plain json yaml]`},
		{[]string{"apikey", "create", "echo", "--server", info.API}, "--consumer is required"},
		{[]string{"apikey", "revoke", "echo", id, "--server", info.API}, "no such API key"},
		{[]string{"apikey", "list", "nothere", "--server", info.API}, "not found"},
		{[]string{"apikey", "list", "echo", "--nats", info.NATS}, "use --server"},
	} {
		if code, _, errOut := run(t, "", tt.args...); code == 0 || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: exit %d, stderr %q, want it to say %q", tt.args, code, errOut, tt.want)
		}
	}
}
