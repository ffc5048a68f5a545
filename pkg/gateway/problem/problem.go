// Package problem writes the RFC 9457 problem details every failure of the
// ingress path answers with, whether the gateway or the runtime behind it
// fails: one body shape and media type for clients to parse. It must stay
// a leaf (standard library only), so both can import it without importing
// each other.
package problem

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// ContentType is the media type RFC 9457 registers.
const ContentType = "application/problem+json"

// Details is an RFC 9457 problem details object. Type is always
// "about:blank", so Title is the status phrase and Detail carries the
// specifics; Instance is the request path.
type Details struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
}

// Write answers r with status and a problem body carrying detail (a HEAD
// request gets the headers only). detail reaches the client: keep
// internals (trap messages, file paths) out of it.
func Write(w http.ResponseWriter, r *http.Request, status int, detail string) {
	body, err := json.Marshal(Details{
		Type:     "about:blank",
		Title:    http.StatusText(status),
		Status:   status,
		Detail:   detail,
		Instance: r.URL.Path,
	})
	if err != nil {
		// Marshalling strings and ints cannot fail; fall back to the bare status.
		w.WriteHeader(status)
		return
	}
	h := w.Header()
	h.Set("Content-Type", ContentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}
