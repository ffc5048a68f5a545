package identityrpc

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/wasmcanvas/wasmcanvas/pkg/auth"
	"github.com/wasmcanvas/wasmcanvas/pkg/bridge"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
	"github.com/wasmcanvas/wasmcanvas/pkg/translate"
	"github.com/wasmcanvas/wasmcanvas/pkg/wrpc"
	"github.com/wasmcanvas/wasmcanvas/pkg/wrpc/wire"
)

// Component is the ODA Component a caller belongs to.
type Component struct {
	Namespace, Name string
}

// Options are the service's settings.
type Options struct {
	// Tokens gives what serves the ODA Component c: its auth.Verifier
	// (verify) and auth.TokenSource (access-token, its client
	// credentials). Nil, or a result with neither, answers every linked
	// caller unavailable: canvas-bridge has no issuer configured.
	Tokens func(c Component) auth.Tokens
	// TokenService sends access-token, for a Component whose Tokens have
	// no Source, to canvasd's token service on the bridge's lattice
	// (RemoteTokenSource): canvasd issues the token in-process for that
	// Component's client, so the bridge holds no client secret.
	TokenService bool
}

// Service serves wasmcanvas:identity as a bridge.Service.
type Service struct {
	opts Options
}

// New returns the Service; nothing runs until the bridge starts it.
func New(opts Options) *Service { return &Service{opts: opts} }

// Name is the WIT package served.
func (s *Service) Name() string { return Package }

// Serve runs the wRPC handlers until ctx ends.
func (s *Service) Serve(ctx context.Context, nc *nats.Conn, env bridge.Env) error {
	log := env.Log
	if log == nil {
		log = zap.NewNop()
	}
	srv := &server{opts: s.opts, links: env.Links, lattice: env.Lattice, log: log, nc: nc}
	ws, err := srv.serve(nc, subject.WRPCPrefix(env.Lattice, env.ProviderKey))
	if err != nil {
		return err
	}
	if env.Ready != nil {
		env.Ready()
	}
	<-ctx.Done()
	return ws.Close()
}

// server holds what every call needs.
type server struct {
	opts    Options
	links   *bridge.Links
	lattice string
	log     *zap.Logger
	nc      *nats.Conn
}

// serve registers one handler per WIT function under prefix.
func (s *server) serve(nc *nats.Conn, prefix string) (*wrpc.Server, error) {
	ws, err := wrpc.NewServer(nc, prefix, s.log)
	if err != nil {
		return nil, err
	}
	errs := make([]error, 0, len(functions)+1)
	for _, fn := range functions {
		errs = append(errs, ws.Handle(Instance(fn.iface), fn.name, s.handler(fn)))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, errors.Join(err, ws.Close())
	}
	return ws, nil
}

// handler serves fn: params first (all of them, so garbage fails the call
// before anything is asked of the issuer), then the link, then the
// caller's Component's auth.Tokens.
func (s *server) handler(fn function) wrpc.Handler {
	return func(ctx context.Context, d *wire.Decoder, r *wire.Encoder) error {
		c := fn.decode(d)
		if err := d.Finish(); err != nil {
			return fmt.Errorf("%s: params do not match wit/identity.wit: %w", describe(fn), err)
		}
		id := wrpc.Header(ctx).Get(wrpc.HeaderSourceID)
		l, err := s.links.Target(id)
		if err != nil {
			encodeError(r, auth.TokensUnavailable, err.Error())
			return nil
		}
		comp := s.componentOf(id, l)
		var t auth.Tokens
		if s.opts.Tokens != nil {
			t = s.opts.Tokens(comp)
		}
		if t.Source == nil && s.opts.TokenService {
			t.Source = RemoteTokenSource(s.nc, s.lattice, comp)
		}
		if !t.Linked() {
			encodeError(r, auth.TokensUnavailable, "canvas-bridge has no issuer configured to serve wasmcanvas:identity")
			return nil
		}
		if err := c(ctx, t, r); err != nil {
			kind, msg, logged := auth.TokensError(err)
			if logged {
				s.log.Warn(describe(fn)+" failed", zap.String("source_id", id),
					zap.String("namespace", comp.Namespace), zap.String("component", comp.Name), zap.Error(err))
			}
			encodeError(r, kind, msg)
		}
		return nil
	}
}

// componentOf is the ODA Component that caller id, linked by l, belongs
// to: the link's target config when it names both, else the lattice and
// the id.
func (s *server) componentOf(id string, l bridge.Link) Component {
	if ns, c := l.Config[translate.IdentityConfigNamespace], l.Config[translate.IdentityConfigComponent]; ns != "" && c != "" {
		return Component{Namespace: ns, Name: c}
	}
	return Component{Namespace: s.lattice, Name: id}
}
