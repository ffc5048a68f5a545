package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"go.uber.org/zap"

	"github.com/wasmcanvas/wasmcanvas/pkg/api/wire"
	"github.com/wasmcanvas/wasmcanvas/pkg/gateway/enforce"
	"github.com/wasmcanvas/wasmcanvas/pkg/gateway/policykv"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

// APIKeys manages the keys of Components' APIs (policykv.Keys).
type APIKeys interface {
	Create(ctx context.Context, component oda.Key, consumer string) (string, enforce.APIKey, error)
	List(ctx context.Context, component oda.Key) ([]enforce.APIKey, error)
	// Revoke returns an error wrapping policykv.ErrNotFound for an id
	// the Component has no key with.
	Revoke(ctx context.Context, component oda.Key, id string) (enforce.APIKey, error)
}

func apiKeyWire(k oda.Key, a enforce.APIKey) wire.APIKey {
	return wire.APIKey{ID: a.ID, Namespace: k.Namespace, Component: k.Name, Consumer: a.Consumer, Created: a.Created}
}

// apiKeysFor answers the problem of a request about key's API keys that
// cannot be served: no key store, or no such Component.
func (s *Server) apiKeysFor(ctx context.Context, key oda.Key) *wire.Problem {
	if s.opts.APIKeys == nil {
		return problem(http.StatusNotImplemented, wire.ProblemUnavailable, "this canvasd keeps no API keys (it runs without JetStream KV for them)")
	}
	_, p := s.get(ctx, key)
	return p
}

// apiKeyTarget is the Component of a create or list request, or false
// once the problem is answered.
func (s *Server) apiKeyTarget(w http.ResponseWriter, r *http.Request) (oda.Key, bool) {
	key, p := pathKey(r)
	if p == nil {
		p = s.apiKeysFor(r.Context(), key)
	}
	if p != nil {
		writeProblem(w, p)
		return key, false
	}
	return key, true
}

func (s *Server) handleAPIKeyCreate(w http.ResponseWriter, r *http.Request) {
	key, ok := s.apiKeyTarget(w, r)
	if !ok {
		return
	}
	var req wire.APIKeyRequest
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	if err != nil {
		writeProblem(w, problem(http.StatusBadRequest, wire.ProblemBadInput, fmt.Sprintf(`body: %v: send {"consumer": "NAME"}`, err)))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.RequestTimeout)
	defer cancel()
	plain, rec, err := s.opts.APIKeys.Create(ctx, key, req.Consumer)
	if err != nil {
		writeProblem(w, s.keyProblem("create", key, err))
		return
	}
	s.log.Info("API key created", zap.Stringer("component", key), zap.String("id", rec.ID), zap.String("consumer", rec.Consumer))
	out := apiKeyWire(key, rec)
	out.Key = plain
	writeJSON(w, http.StatusCreated, out)
}

func (s *Server) handleAPIKeyList(w http.ResponseWriter, r *http.Request) {
	key, ok := s.apiKeyTarget(w, r)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.RequestTimeout)
	defer cancel()
	recs, err := s.opts.APIKeys.List(ctx, key)
	if err != nil {
		writeProblem(w, s.keyProblem("list", key, err))
		return
	}
	out := wire.APIKeyList{Items: []wire.APIKey{}}
	for _, a := range recs {
		out.Items = append(out.Items, apiKeyWire(key, a))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleAPIKeyRevoke(w http.ResponseWriter, r *http.Request) {
	key, p := pathKey(r)
	if p != nil {
		writeProblem(w, p)
		return
	}
	if s.opts.APIKeys == nil {
		writeProblem(w, s.apiKeysFor(r.Context(), key))
		return
	}
	// A deleted Component's keys can still be revoked: no Get first.
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.RequestTimeout)
	defer cancel()
	rec, err := s.opts.APIKeys.Revoke(ctx, key, r.PathValue("id"))
	if err != nil {
		writeProblem(w, s.keyProblem("revoke", key, err))
		return
	}
	s.log.Info("API key revoked", zap.Stringer("component", key), zap.String("id", rec.ID))
	writeJSON(w, http.StatusOK, apiKeyWire(key, rec))
}

func (s *Server) keyProblem(op string, key oda.Key, err error) *wire.Problem {
	switch {
	case errors.Is(err, policykv.ErrNotFound):
		return problem(http.StatusNotFound, wire.ProblemNotFound, err.Error()+": see `canvas apikey list`")
	case errors.Is(err, policykv.ErrBadConsumer):
		return problem(http.StatusBadRequest, wire.ProblemBadInput, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return problem(http.StatusServiceUnavailable, wire.ProblemUnavailable, fmt.Sprintf("%s API key of %s: the key store did not answer in time: check that NATS JetStream is reachable (/readyz)", op, key.Display()))
	}
	s.log.Error("API key store call failed", zap.String("op", op), zap.Stringer("component", key), zap.Error(err))
	return problem(http.StatusInternalServerError, wire.ProblemInternal, fmt.Sprintf("%s API key of %s failed; see canvasd's log", op, key.Display()))
}
