package wadm

import (
	"errors"
	"fmt"
	"strings"

	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
)

// Errors a Client returns; test them with errors.Is. A reply with result
// "error" or "notfound" comes back as an *APIError that matches the
// sentinels below where its meaning is known.
var (
	// ErrNotFound: the application (or the requested version) does not
	// exist (result "notfound").
	ErrNotFound = errors.New("wadm: application not found")
	// ErrVersionExists: a put named a version already stored; versions are
	// immutable, so bump the version or leave it out.
	ErrVersionExists = errors.New("wadm: manifest version already exists")
	// ErrVersionNotFound: a deploy or get named a version that is not stored.
	ErrVersionNotFound = errors.New("wadm: manifest version not found")
	// ErrInvalidManifest: wadm refused a put because the manifest did not
	// parse or validate.
	ErrInvalidManifest = errors.New("wadm: invalid manifest")
	// ErrIDConflict: a deploy would start a component whose explicit id is
	// deployed by another application.
	ErrIDConflict = errors.New("wadm: component id deployed by another application")
	// ErrNoWadm: nothing answers on the lattice's API subjects.
	ErrNoWadm = errors.New("wadm: no wadm is serving the lattice")
)

// APIError is a wadm reply whose result is "error" or "notfound".
type APIError struct {
	// Op is the model operation (subject.WadmPut, subject.WadmDeploy, ...).
	Op string
	// Subject is the request subject.
	Subject string
	// Result is the reply's result field.
	Result string
	// Message is wadm's message, verbatim.
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("wadm %s on %s: %s", e.Result, e.Subject, e.Message)
}

// Is maps wadm's results and messages onto the package's sentinels. The
// messages are wadm 0.21's own (crates/wadm/src/server/handlers.rs).
func (e *APIError) Is(target error) bool {
	m := e.Message
	switch target {
	case ErrNotFound:
		return e.Result == string(GetResultNotFound)
	case ErrVersionExists:
		return e.Result == ResultError && strings.HasPrefix(m, "Manifest version ") && strings.HasSuffix(m, " already exists")
	case ErrVersionNotFound:
		return strings.Contains(m, "does not have a version ") ||
			strings.Contains(m, "does not have the specified version") ||
			(e.Result == string(GetResultNotFound) && strings.Contains(m, " with version ") && strings.HasSuffix(m, " doesn't exist"))
	case ErrInvalidManifest:
		// Every refused put is a parse or validation failure, except a
		// duplicate version and wadm's own storage trouble.
		return e.Op == subject.WadmPut && e.Result == ResultError && !e.Is(ErrVersionExists) && m != "Internal storage error"
	case ErrIDConflict:
		return strings.HasPrefix(m, "Component identifier ") && strings.Contains(m, "is already deployed in a different application")
	}
	return false
}
