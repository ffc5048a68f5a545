package enforce

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/wasmcanvas/wasmcanvas/pkg/gateway/policy"
)

// exposed are the headers of the gateway's own policies a browser script
// may read.
const exposed = "RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Retry-After"

// cors answers preflight requests from c.Preflight (when set) and marks
// every answer to an allowed origin, refusals included, so that a
// browser's script can read why it was refused.
func cors(c *policy.CORS, next http.Handler) http.Handler {
	var methods, headers, maxAge string
	if p := c.Preflight; p != nil {
		methods = strings.Join(p.AllowMethods, ", ")
		headers = strings.Join(p.AllowHeaders, ", ")
		maxAge = strconv.Itoa(p.MaxAge)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" && c.Preflight != nil
		h := w.Header()
		h.Add("Vary", "Origin")
		allowed := origin != "" && c.Allowed(origin)
		if allowed {
			if c.AllowCredentials || !c.Allowed("*") {
				h.Set("Access-Control-Allow-Origin", origin)
			} else {
				h.Set("Access-Control-Allow-Origin", "*")
			}
			if c.AllowCredentials {
				h.Set("Access-Control-Allow-Credentials", "true")
			}
		}
		if !preflight {
			if allowed {
				h.Set("Access-Control-Expose-Headers", exposed)
			}
			next.ServeHTTP(w, r)
			return
		}
		// A preflight never reaches the component; one from an origin not
		// allowed gets no Access-Control-Allow-* headers, which the
		// browser reads as a refusal.
		h.Add("Vary", "Access-Control-Request-Method")
		h.Add("Vary", "Access-Control-Request-Headers")
		if allowed {
			h.Set("Access-Control-Allow-Methods", methods)
			h.Set("Access-Control-Allow-Headers", headers)
			h.Set("Access-Control-Max-Age", maxAge)
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
