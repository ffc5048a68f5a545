package gateway

import (
	"net/http"

	"github.com/wasmcanvas/wasmcanvas/pkg/gateway/problem"
)

// writeProblem answers with the ingress's one failure format, owned by
// package problem (the runtime writes it too).
func writeProblem(w http.ResponseWriter, r *http.Request, status int, detail string) {
	problem.Write(w, r, status, detail)
}
