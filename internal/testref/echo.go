package testref

import (
	"fmt"
	"path/filepath"
)

// EchoComponent is an ODA Component (oda.tmforum.org/v1) exposing one API
// at path (its coreFunction last, so a test may append dependentAPIs),
// implemented by the runtime's echo test component (the binary kept beside
// its WAT text, so no build step is needed).
func EchoComponent(name, path string) []byte {
	root, err := RepoRoot()
	if err != nil {
		panic(err) // only without source file information, never in go test
	}
	wasm := filepath.Join(root, "pkg", "runtime", "testdata", "echo-http.wasm")
	return fmt.Appendf(nil, `apiVersion: oda.tmforum.org/v1
kind: Component
metadata:
  name: %s
  annotations:
    wasmcanvas.io/implementations: '{"impl": "file://%s"}'
spec:
  coreFunction:
    exposedAPIs:
    - name: api
      specification:
      - url: https://example.org/api.json
        version: 1.0.0
      apiType: openapi
      implementation: impl
      path: %s
      port: 8080
`, name, wasm, path)
}
