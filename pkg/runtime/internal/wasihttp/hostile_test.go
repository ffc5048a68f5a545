package wasihttp

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/wasmcanvas/wasmcanvas/pkg/runtime/internal/wasi"
)

// TestHoardedHeaderBytesTrap: a guest appending 16 KiB header values to
// a fields, 16 MiB in all, traps once the host holds wasi.MaxHeldBytes
// for it (500), and the log names the component and the limit.
func TestHoardedHeaderBytesTrap(t *testing.T) {
	t.Parallel()
	s := startEcho(t, 10*time.Second, 16<<20)
	resp, err := client().Get(s.url + "/hoard-headers")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("status %d (%s), want 500: the host held 16 MiB of header values", resp.StatusCode, body)
	}
	logged := s.logs.FilterMessageSnippet("hold too many bytes").All()
	if len(logged) != 1 || logged[0].ContextMap()["component"] != "echo" || logged[0].ContextMap()["limit"] != int64(wasi.MaxHeldBytes) {
		t.Errorf("log = %v, want one line with the component and the limit", logged)
	}
}
