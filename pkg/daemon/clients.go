package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/wasmcanvas/wasmcanvas/pkg/api/wire"
	"github.com/wasmcanvas/wasmcanvas/pkg/gateway/problem"
	"github.com/wasmcanvas/wasmcanvas/pkg/identity"
)

// clientRoutes are the embedded issuer's clients in the API, for callers
// holding canvas:write (listing shows what every client may do):
//
//	POST   /v1/clients               register ({"id", "grants"}); the answer alone holds the secret
//	GET    /v1/clients               list (never a secret)
//	POST   /v1/clients/{id}/grants   add roles on an audience ({"audience", "roles"})
//	DELETE /v1/clients/{id}          remove (its tokens live until they expire)
//
// The canvas's own clients are refused, and so is deleting a Component's
// client (it goes with its Component). With an external issuer every
// route answers 501: clients are managed there.
func (d *Daemon) clientRoutes(mux *http.ServeMux, write func(http.Handler) http.Handler) {
	handle := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, write(h)) }
	handle("POST "+wire.PathClients, d.handleClientCreate)
	handle("GET "+wire.PathClients, d.handleClientList)
	handle("POST "+wire.PathClients+"/{id}/grants", d.handleClientGrant)
	handle("DELETE "+wire.PathClients+"/{id}", d.handleClientDelete)
}

// clientTimeout bounds the issuer's KV calls of one request.
const clientTimeout = 10 * time.Second

// issuerFor is the embedded issuer, or false once the 501 is answered.
func (d *Daemon) issuerFor(w http.ResponseWriter, r *http.Request) (*identity.Issuer, bool) {
	if is := d.id.issuer; is != nil {
		return is, true
	}
	problem.Write(w, r, http.StatusNotImplemented, fmt.Sprintf(
		"this canvas verifies tokens of the external issuer %s: its clients and roles are managed in that issuer, not here", d.IssuerURL()))
	return nil, false
}

// ownClient refuses the canvas's own clients: their secrets and grants are
// canvasd's (canvas token uses canvas-admin; canvas-system holds the
// Components' canvasSystemRoles).
func ownClient(w http.ResponseWriter, r *http.Request, id string) bool {
	if id != identity.AdminClient && id != identity.SystemClient {
		return false
	}
	problem.Write(w, r, http.StatusConflict, fmt.Sprintf("client %q is the canvas's own: canvasd manages it; register a client of your own with `canvas client create NAME`", id))
	return true
}

func readBody(w http.ResponseWriter, r *http.Request, v any, want string) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err == nil {
		err = json.Unmarshal(body, v)
	}
	if err != nil {
		problem.Write(w, r, http.StatusBadRequest, fmt.Sprintf("body: %v: send %s", err, want))
		return false
	}
	return true
}

func clientWire(c identity.Client) wire.Client {
	return wire.Client{ID: c.ID, Grants: c.Grants, Roles: c.Roles, Owner: c.Owner, Created: c.Created}
}

func (d *Daemon) handleClientCreate(w http.ResponseWriter, r *http.Request) {
	is, ok := d.issuerFor(w, r)
	if !ok {
		return
	}
	var req wire.ClientRequest
	if !readBody(w, r, &req, `{"id": "NAME", "grants": {"AUDIENCE": ["ROLE"]}}`) || ownClient(w, r, req.ID) {
		return
	}
	for aud, roles := range req.Grants {
		if aud == "" || slices.Contains(roles, "") {
			problem.Write(w, r, http.StatusBadRequest, fmt.Sprintf("grants[%q]: an audience and its roles must not be empty", aud))
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), clientTimeout)
	defer cancel()
	if old, err := is.Client(ctx, req.ID); err != nil {
		d.clientFailed(w, r, "create", req.ID, err)
		return
	} else if old != nil {
		problem.Write(w, r, http.StatusConflict, fmt.Sprintf("client %q exists: add roles with `canvas client grant %s AUDIENCE=ROLE`, or delete it first", req.ID, req.ID))
		return
	}
	secret, err := is.RegisterClient(ctx, identity.ClientSpec{ID: req.ID, Grants: req.Grants})
	if err != nil {
		// A bad id, or a concurrent registration of the same id.
		problem.Write(w, r, http.StatusBadRequest, err.Error())
		return
	}
	c, err := is.Client(ctx, req.ID)
	if err != nil || c == nil {
		d.clientFailed(w, r, "create", req.ID, err)
		return
	}
	d.log.Info("client registered", zap.String("client", c.ID))
	out := clientWire(*c)
	out.Secret = secret
	writeClientJSON(w, http.StatusCreated, out)
}

func (d *Daemon) handleClientList(w http.ResponseWriter, r *http.Request) {
	is, ok := d.issuerFor(w, r)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), clientTimeout)
	defer cancel()
	list, err := is.Clients(ctx)
	if err != nil {
		d.clientFailed(w, r, "list", "", err)
		return
	}
	out := wire.ClientList{Items: []wire.Client{}}
	for _, c := range list {
		out.Items = append(out.Items, clientWire(c))
	}
	writeClientJSON(w, http.StatusOK, out)
}

func (d *Daemon) handleClientGrant(w http.ResponseWriter, r *http.Request) {
	is, ok := d.issuerFor(w, r)
	id := r.PathValue("id")
	if !ok || ownClient(w, r, id) {
		return
	}
	var req wire.GrantRequest
	if !readBody(w, r, &req, `{"audience": "AUDIENCE", "roles": ["ROLE"]}`) {
		return
	}
	if strings.TrimSpace(req.Audience) == "" || len(req.Roles) == 0 || slices.Contains(req.Roles, "") {
		problem.Write(w, r, http.StatusBadRequest, `audience and at least one role are required: send {"audience": "AUDIENCE", "roles": ["ROLE"]}`)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), clientTimeout)
	defer cancel()
	c, err := is.Client(ctx, id)
	if err != nil {
		d.clientFailed(w, r, "grant", id, err)
		return
	}
	if c == nil {
		problem.Write(w, r, http.StatusNotFound, fmt.Sprintf("no client %q: see `canvas client list`", id))
		return
	}
	// Grant keeps the client's owner: a Component's client may be granted
	// roles on the APIs it depends on.
	if err := is.Grant(ctx, id, req.Audience, req.Roles...); err != nil {
		d.clientFailed(w, r, "grant", id, err)
		return
	}
	if c, err = is.Client(ctx, id); err != nil || c == nil {
		d.clientFailed(w, r, "grant", id, err)
		return
	}
	d.log.Info("client granted roles", zap.String("client", id), zap.String("audience", req.Audience), zap.Strings("roles", req.Roles))
	writeClientJSON(w, http.StatusOK, clientWire(*c))
}

func (d *Daemon) handleClientDelete(w http.ResponseWriter, r *http.Request) {
	is, ok := d.issuerFor(w, r)
	id := r.PathValue("id")
	if !ok || ownClient(w, r, id) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), clientTimeout)
	defer cancel()
	c, err := is.Client(ctx, id)
	if err != nil {
		d.clientFailed(w, r, "delete", id, err)
		return
	}
	switch {
	case c == nil:
		problem.Write(w, r, http.StatusNotFound, fmt.Sprintf("no client %q: see `canvas client list`", id))
		return
	case c.Owner != "":
		problem.Write(w, r, http.StatusConflict, fmt.Sprintf("client %q belongs to Component %s: it is removed with `canvas delete` of the Component", id, c.Owner))
		return
	}
	if err := is.DeleteClient(ctx, id); err != nil {
		d.clientFailed(w, r, "delete", id, err)
		return
	}
	d.log.Info("client deleted", zap.String("client", id))
	writeClientJSON(w, http.StatusOK, clientWire(*c))
}

func (d *Daemon) clientFailed(w http.ResponseWriter, r *http.Request, op, id string, err error) {
	d.log.Error("issuer client store call failed", zap.String("op", op), zap.String("client", id), zap.Error(err))
	problem.Write(w, r, http.StatusInternalServerError, fmt.Sprintf("%s client %q failed; see canvasd's log", op, id))
}

func writeClientJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", wire.ContentTypeJSON)
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the client went away: nothing left to tell it
}
