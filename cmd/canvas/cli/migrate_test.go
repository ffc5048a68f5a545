package cli_test

import (
	"path/filepath"
	"strings"
	"testing"
)

// canvas migrate refuses bad command lines before it reaches any canvas:
// exit 2 with the flag named; a directory that is no bundle is exit 1
// naming the missing file.
func TestMigrateUsage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	kubeconfig := writeFile(t, dir, "kubeconfig", []byte("apiVersion: v1\nkind: Config\n"))
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"migrate", "export", "--kubeconfig", kubeconfig}, 2, "--out DIR is required"},
		{[]string{"migrate", "export", "--out", dir, "--from", "openshift"}, 2, `--from "openshift"`},
		{[]string{"migrate", "export", "--out", dir, "-o", "xml"}, 2, `--output "xml"`},
		{[]string{"migrate", "export", "--out", dir, "--kubeconfig", filepath.Join(dir, "none")}, 1, "kubeconfig"},
		{[]string{"migrate", "import"}, 2, "takes the bundle directory DIR"},
		{[]string{"migrate", "import", dir, "--server", "http://127.0.0.1:1"}, 1, "implementations.yaml"},
		{[]string{"migrate", "diff", "x", "-o", "xml"}, 2, `--output "xml"`},
	}
	for _, tt := range tests {
		code, out, errb := run(t, "", tt.args...)
		if code != tt.code || !strings.Contains(out+errb, tt.want) {
			t.Errorf("canvas %v: exit %d, %q; want exit %d and %q", tt.args, code, out+errb, tt.code, tt.want)
		}
	}
}
