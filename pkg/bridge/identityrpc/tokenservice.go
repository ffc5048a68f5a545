package identityrpc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/wasmcanvas/wasmcanvas/pkg/auth"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
)

// The token service: canvasd issues a Component's client-credentials
// access tokens in-process and answers canvas-bridge over NATS on
// subject.BridgeTokens(lattice), so access-token works on a lattice
// without the bridge holding any client secret. One JSON request, one
// JSON reply; a token is never logged on either side.

// TokenRequest asks for an access token of the ODA Component's client
// (identity.ClientID(Namespace, Name)) for Audience.
type TokenRequest struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Audience  string `json:"audience"`
}

// TokenReply is the token, or why there is none: Kind is
// auth.TokensInvalid when the request is at fault (the component may be
// told why), auth.TokensUnavailable otherwise.
type TokenReply struct {
	Token string `json:"token,omitempty"`
	Kind  string `json:"kind,omitempty"`
	Error string `json:"error,omitempty"`
}

// MaxTokenRequestBytes bounds a request: two names and an audience.
const MaxTokenRequestBytes = 8 << 10

// maxAudienceBytes is auth.Tokens' bound on access-token's audience.
const maxAudienceBytes = 2 << 10

// TokenIssuer issues an access token of Component c's client for
// audience. An error wrapping ErrNoClient or an *auth.Error reaches the
// bridge (and the component) with its message; any other is logged by
// the service and answered with a fixed message.
type TokenIssuer func(ctx context.Context, c Component, audience string) (string, error)

// ErrNoClient is what a TokenIssuer wraps when the Component has no
// client of the issuer (no securityFunction, or not registered yet).
var ErrNoClient = errors.New("the Component has no client of the canvas's issuer: give it a securityFunction")

// ServeTokenService answers token requests on subject.BridgeTokens(lattice)
// (queue group "canvasd") with issue until the subscription is drained or
// unsubscribed. Only canvas-bridge may publish there on a secured lattice
// (pkg/edge roles).
func ServeTokenService(nc *nats.Conn, lattice string, issue TokenIssuer, log *zap.Logger) (*nats.Subscription, error) {
	if log == nil {
		log = zap.NewNop()
	}
	return nc.QueueSubscribe(subject.BridgeTokens(lattice), "canvasd", func(m *nats.Msg) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		rep := answerToken(ctx, m.Data, issue, log)
		b, err := json.Marshal(rep)
		if err == nil {
			err = m.Respond(b)
		}
		if err != nil && !errors.Is(err, nats.ErrMsgNoReply) {
			log.Warn("bridge token service: reply not sent", zap.Error(err))
		}
	})
}

// answerToken decodes, checks and serves one request.
func answerToken(ctx context.Context, data []byte, issue TokenIssuer, log *zap.Logger) TokenReply {
	req, err := decodeTokenRequest(data)
	if err != nil {
		return TokenReply{Kind: auth.TokensInvalid, Error: err.Error()}
	}
	c := Component{Namespace: req.Namespace, Name: req.Name}
	tok, err := issue(ctx, c, req.Audience)
	var ae *auth.Error
	switch {
	case err == nil:
		return TokenReply{Token: tok}
	case errors.As(err, &ae):
		return TokenReply{Kind: auth.TokensInvalid, Error: ae.Reason}
	case errors.Is(err, ErrNoClient):
		return TokenReply{Kind: auth.TokensUnavailable, Error: err.Error()}
	}
	log.Warn("bridge token service: no token issued", zap.String("namespace", c.Namespace),
		zap.String("component", c.Name), zap.String("audience", req.Audience), zap.Error(err))
	return TokenReply{Kind: auth.TokensUnavailable, Error: "canvasd could not issue the token; retry later"}
}

// decodeTokenRequest reads a request strictly: bounded, no unknown
// fields, namespace and name given, audience 1 to 2 KiB.
func decodeTokenRequest(data []byte) (TokenRequest, error) {
	var req TokenRequest
	if len(data) > MaxTokenRequestBytes {
		return req, fmt.Errorf("token request of %d bytes: at most %d", len(data), MaxTokenRequestBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, fmt.Errorf("token request: want JSON {namespace, name, audience}: %w", err)
	}
	if dec.More() {
		return req, errors.New("token request: want one JSON object")
	}
	var errs []error
	if req.Namespace == "" || req.Name == "" {
		errs = append(errs, errors.New("namespace and name of the Component are required"))
	}
	if req.Audience == "" || len(req.Audience) > maxAudienceBytes {
		errs = append(errs, fmt.Errorf("audience must be 1 to %d bytes, not %d", maxAudienceBytes, len(req.Audience)))
	}
	if err := errors.Join(errs...); err != nil {
		return req, fmt.Errorf("token request: %w", err)
	}
	return req, nil
}

// RemoteTokenSource is the auth.TokenSource of Component c through
// canvasd's token service on lattice: what canvas-bridge's access-token
// calls (Options.TokenService). A refusal for the request's sake comes
// back as an *auth.Error; no canvasd answering as an error naming the
// subject (logged by the bridge, not shown to the component).
func RemoteTokenSource(nc *nats.Conn, lattice string, c Component) auth.TokenSource {
	return &remoteSource{nc: nc, subject: subject.BridgeTokens(lattice), c: c}
}

type remoteSource struct {
	nc      *nats.Conn
	subject string
	c       Component
}

// tokenServiceTimeout bounds one request when the caller's ctx has no
// earlier deadline.
const tokenServiceTimeout = 10 * time.Second

func (s *remoteSource) AccessToken(ctx context.Context, audience string) (string, error) {
	b, err := json.Marshal(TokenRequest{Namespace: s.c.Namespace, Name: s.c.Name, Audience: audience})
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, tokenServiceTimeout)
	defer cancel()
	m, err := s.nc.RequestWithContext(ctx, s.subject, b)
	if errors.Is(err, nats.ErrNoResponders) {
		return "", fmt.Errorf("no canvasd answers %s: canvasd serves it with its embedded issuer only", s.subject)
	}
	if err != nil {
		return "", fmt.Errorf("canvasd token service %s: %w", s.subject, err)
	}
	var rep TokenReply
	if err := json.Unmarshal(m.Data, &rep); err != nil {
		return "", fmt.Errorf("canvasd token service %s: reply is not a TokenReply: %w", s.subject, err)
	}
	switch {
	case rep.Kind == auth.TokensInvalid:
		return "", &auth.Error{Code: "invalid_request", Reason: rep.Error}
	case rep.Error != "" || rep.Kind != "":
		return "", fmt.Errorf("canvasd token service %s refused (%s): %s", s.subject, rep.Kind, rep.Error)
	case rep.Token == "":
		return "", fmt.Errorf("canvasd token service %s: empty reply", s.subject)
	}
	return rep.Token, nil
}
