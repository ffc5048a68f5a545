package kubeapi

import (
	"encoding/json"
	"fmt"
	"net/http"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmcanvas/wasmcanvas/pkg/api/wire"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

// statusError is a failed request as Kubernetes answers it.
type statusError struct{ st metav1.Status }

func (e *statusError) Error() string { return e.st.Message }

var reasons = map[int]metav1.StatusReason{
	http.StatusBadRequest:            metav1.StatusReasonBadRequest,
	http.StatusUnauthorized:          metav1.StatusReasonUnauthorized,
	http.StatusForbidden:             metav1.StatusReasonForbidden,
	http.StatusNotFound:              metav1.StatusReasonNotFound,
	http.StatusMethodNotAllowed:      metav1.StatusReasonMethodNotAllowed,
	http.StatusNotAcceptable:         metav1.StatusReasonNotAcceptable,
	http.StatusConflict:              metav1.StatusReasonConflict,
	http.StatusGone:                  metav1.StatusReasonExpired,
	http.StatusRequestEntityTooLarge: metav1.StatusReasonRequestEntityTooLarge,
	http.StatusUnsupportedMediaType:  metav1.StatusReasonUnsupportedMediaType,
	http.StatusUnprocessableEntity:   metav1.StatusReasonInvalid,
	http.StatusServiceUnavailable:    metav1.StatusReasonServiceUnavailable,
	http.StatusInternalServerError:   metav1.StatusReasonInternalError,
}

// failure is a Status of code about the object kind/name (either may be empty).
func failure(code int, r *resource, name, msg string) *statusError {
	st := metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure, Message: msg, Reason: reasons[code], Code: int32(code),
	}
	if r != nil || name != "" {
		st.Details = &metav1.StatusDetails{Name: name, Group: oda.Group}
		if r != nil {
			st.Details.Kind = r.plural
		}
	}
	return &statusError{st}
}

// conflict is the 409 of a write at a resourceVersion that is not the
// object's current one, worded as the apiserver words it.
func conflict(r *resource, name string) *statusError {
	return failure(http.StatusConflict, r, name, fmt.Sprintf("Operation cannot be fulfilled on %s.%s %q: the object has been modified; please apply your changes to the latest version and try again",
		r.plural, oda.Group, name))
}

// invalid is 422 Invalid with one cause per field error.
func invalid(r *resource, name, msg string, errs oda.ErrorList) *statusError {
	e := failure(http.StatusUnprocessableEntity, r, name, msg)
	if e.st.Details == nil {
		e.st.Details = &metav1.StatusDetails{Group: oda.Group}
	}
	if r != nil {
		e.st.Details.Kind = r.kind
	}
	for _, fe := range errs {
		m := fe.Msg
		if fe.Fix != "" {
			m += "; fix: " + fe.Fix
		}
		e.st.Details.Causes = append(e.st.Details.Causes, metav1.StatusCause{Type: metav1.CauseTypeFieldValueInvalid, Message: m, Field: fe.Path})
	}
	return e
}

// fromProblem maps an answer of pkg/api onto a Status.
func fromProblem(p *wire.Problem, r *resource, name string) *statusError {
	if p.Status == http.StatusUnprocessableEntity {
		return invalid(r, name, p.Detail, p.Errors)
	}
	return failure(p.Status, r, name, p.Detail)
}

func writeStatus(w http.ResponseWriter, e *statusError) {
	writeJSON(w, int(e.st.Code), e.st)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code = http.StatusInternalServerError
		b = []byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","message":"encoding the answer failed","reason":"InternalError","code":500}`)
	}
	writeRaw(w, code, b)
}

func writeRaw(w http.ResponseWriter, code int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(b)
	_, _ = w.Write([]byte("\n"))
}
