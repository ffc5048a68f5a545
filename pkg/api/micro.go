package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"go.uber.org/zap"

	"github.com/wasmcanvas/wasmcanvas/pkg/api/wire"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
	"github.com/wasmcanvas/wasmcanvas/pkg/version"
)

// ServeNATS serves the API as the NATS micro service subject.CanvasServiceName
// with endpoints canvas.api.components.{get,list,apply,delete,events,status}, and
// publishes every watch event on wire.WatchSubject (and each break in that
// stream on wire.WatchEndedSubject), until ctx ends. Replies
// are the same JSON as over HTTP; a failure is a micro error whose code is
// the HTTP status and whose data is the wire.Problem.
func (s *Server) ServeNATS(ctx context.Context, nc *nats.Conn) error {
	svc, err := micro.AddService(nc, micro.Config{
		Name:        subject.CanvasServiceName,
		Version:     microVersion(),
		Description: "wasmcanvas control plane: ODA Components",
	})
	if err != nil {
		return fmt.Errorf("add NATS micro service %s: %w", subject.CanvasServiceName, err)
	}
	defer func() { _ = svc.Stop() }()
	g := svc.AddGroup(subject.CanvasAPI(wire.MicroGroup))
	endpoints := []struct {
		name string
		h    func(context.Context, micro.Request) (any, micro.Headers, *wire.Problem)
	}{
		{wire.MicroGet, s.microGet},
		{wire.MicroList, s.microList},
		{wire.MicroApply, s.microApply},
		{wire.MicroDelete, s.microDelete},
		{wire.MicroEvents, s.microEvents},
		{wire.MicroStatus, s.microStatus},
	}
	for _, ep := range endpoints {
		if err := g.AddEndpoint(ep.name, s.microHandler(ctx, ep.name, ep.h)); err != nil {
			return fmt.Errorf("add NATS micro endpoint %s.%s: %w", subject.CanvasAPI(wire.MicroGroup), ep.name, err)
		}
	}
	s.log.Info("nats api serving", zap.String("service", subject.CanvasServiceName), zap.String("subjects", subject.CanvasAPI(wire.MicroGroup, "*")))
	s.publishWatch(ctx, nc)
	return ctx.Err()
}

var semver = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$`)

// microVersion is the build's version when it is a semantic version (micro
// refuses anything else), else 0.0.0 (untagged builds).
func microVersion() string {
	if v := strings.TrimPrefix(version.Version, "v"); semver.MatchString(v) {
		return v
	}
	return "0.0.0"
}

func (s *Server) microHandler(ctx context.Context, route string, h func(context.Context, micro.Request) (any, micro.Headers, *wire.Problem)) micro.Handler {
	return micro.HandlerFunc(func(req micro.Request) {
		start := time.Now()
		rctx, cancel := context.WithTimeout(ctx, s.opts.RequestTimeout)
		defer cancel()
		out, hdr, p := h(rctx, req)
		if p != nil {
			data, _ := json.Marshal(p) // a Problem always marshals
			_ = req.Error(strconv.Itoa(p.Status), p.Title, data)
			s.metrics.observe("nats", route, p.Status, start)
			return
		}
		opts := []micro.RespondOpt{}
		if hdr != nil {
			opts = append(opts, micro.WithHeaders(hdr))
		}
		if err := req.RespondJSON(out, opts...); err != nil {
			s.log.Warn("nats api reply failed", zap.String("route", route), zap.Error(err))
		}
		s.metrics.observe("nats", route, http.StatusOK, start)
	})
}

func decodeRef(req micro.Request) (wire.MicroRef, oda.Key, *wire.Problem) {
	var ref wire.MicroRef
	if err := json.Unmarshal(req.Data(), &ref); err != nil {
		return ref, oda.Key{}, problem(http.StatusBadRequest, wire.ProblemBadInput, fmt.Sprintf("request body: want {\"namespace\":…,\"name\":…}: %v", err))
	}
	if ref.Namespace == "" {
		ref.Namespace = oda.DefaultNamespace
	}
	k, p := requestKey(ref.Namespace, ref.Name, "request body:")
	return ref, k, p
}

func (s *Server) microGet(ctx context.Context, req micro.Request) (any, micro.Headers, *wire.Problem) {
	_, key, p := decodeRef(req)
	if p != nil {
		return nil, nil, p
	}
	c, p := s.get(ctx, key)
	return c, nil, p
}

func (s *Server) microList(ctx context.Context, req micro.Request) (any, micro.Headers, *wire.Problem) {
	var lr wire.MicroListRequest
	if len(req.Data()) > 0 {
		if err := json.Unmarshal(req.Data(), &lr); err != nil {
			return nil, nil, problem(http.StatusBadRequest, wire.ProblemBadInput, fmt.Sprintf("request body: want {\"namespace\":…} or nothing: %v", err))
		}
	}
	if lr.Namespace != "" {
		if err := oda.CheckDNSLabel(lr.Namespace); err != nil {
			return nil, nil, problem(http.StatusBadRequest, wire.ProblemBadInput, fmt.Sprintf("namespace %q: %v", lr.Namespace, err))
		}
	}
	items, p := s.list(ctx, lr.Namespace)
	if p != nil {
		return nil, nil, p
	}
	return wire.ComponentList{APIVersion: oda.APIVersionV1, Kind: wire.KindComponentList, Items: items}, nil, nil
}

func (s *Server) microApply(ctx context.Context, req micro.Request) (any, micro.Headers, *wire.Problem) {
	file := req.Headers().Get(wire.HeaderFileName)
	if file == "" {
		file = wire.BodyFileName
	}
	dry, p := dryRunOf(req.Headers().Values(wire.HeaderDryRun), "header "+wire.HeaderDryRun)
	if p != nil {
		return nil, nil, p
	}
	if len(req.Data()) == 0 {
		return nil, nil, problem(http.StatusBadRequest, wire.ProblemBadInput, "empty request body: send a Component as YAML or JSON")
	}
	c, p := s.admit(file, req.Data())
	if p != nil {
		return nil, nil, p
	}
	out, created, p := s.apply(ctx, c, c.Metadata.ResourceVersion, dry)
	if p != nil {
		return nil, nil, p
	}
	if dry {
		return out, micro.Headers{wire.HeaderCreated: []string{strconv.FormatBool(created)}}, nil
	}
	s.log.Info("component applied", zap.Stringer("key", out.Key()), zap.Bool("created", created), zap.String("via", "nats"),
		zap.Int64("generation", out.Metadata.Generation), zap.String("resourceVersion", out.Metadata.ResourceVersion))
	return out, micro.Headers{wire.HeaderCreated: []string{strconv.FormatBool(created)}}, nil
}

func (s *Server) microDelete(ctx context.Context, req micro.Request) (any, micro.Headers, *wire.Problem) {
	ref, key, p := decodeRef(req)
	if p != nil {
		return nil, nil, p
	}
	c, p := s.remove(ctx, key, ref.ResourceVersion)
	if p == nil {
		s.log.Info("component deleted", zap.Stringer("key", key), zap.String("via", "nats"))
	}
	return c, nil, p
}

func (s *Server) microEvents(ctx context.Context, req micro.Request) (any, micro.Headers, *wire.Problem) {
	_, key, p := decodeRef(req)
	if p != nil {
		return nil, nil, p
	}
	evs, p := s.events(ctx, key)
	if p != nil {
		return nil, nil, p
	}
	return wire.EventList{Items: evs}, nil, nil
}

// publishWatch republishes the watch fan-out on NATS until ctx ends,
// subscribing again whenever the hub cut the subscription (store watch
// lost). The initial state is not published: NATS watchers list first.
// Changes made while no subscription forwards are never published, so
// the stream's end and every (re)start are announced on
// wire.WatchEndedSubject: watchers then list again, as an HTTP watcher
// whose stream ended does. The announcement follows the subscription, so
// a list made after it misses nothing.
func (s *Server) publishWatch(ctx context.Context, nc *nats.Conn) {
	for ctx.Err() == nil {
		sctx, cancel := context.WithTimeout(ctx, watchSyncWait)
		sb, _, err := s.hub.subscribe(sctx, "", "")
		cancel()
		if err != nil {
			select { // not synced yet, or shutting down
			case <-ctx.Done():
			case <-time.After(rewatchDelay):
			}
			continue
		}
		s.announceWatchEnded(nc, "started")
		s.forward(ctx, nc, sb)
		s.hub.unsubscribe(sb)
		s.announceWatchEnded(nc, "ended")
	}
}

// announceWatchEnded tells NATS watchers to list again; why is only for
// people reading the subject.
func (s *Server) announceWatchEnded(nc *nats.Conn, why string) {
	if err := nc.Publish(wire.WatchEndedSubject, []byte(why)); err != nil && !errors.Is(err, nats.ErrConnectionReconnecting) {
		s.log.Warn("announcing the end of the watch stream failed", zap.String("subject", wire.WatchEndedSubject), zap.Error(err))
	}
}

func (s *Server) forward(ctx context.Context, nc *nats.Conn, sb *sub) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-sb.ch:
			if !ok {
				return
			}
			data, err := json.Marshal(ev)
			if err != nil {
				s.log.Error("watch event does not marshal", zap.Error(err))
				continue
			}
			err = nc.Publish(wire.WatchSubject(ev.Object.Metadata.Namespace, ev.Object.Metadata.Name), data)
			if err != nil && !errors.Is(err, nats.ErrConnectionReconnecting) {
				s.log.Warn("publishing watch event failed", zap.Error(err))
			}
		}
	}
}

func (s *Server) microStatus(ctx context.Context, req micro.Request) (any, micro.Headers, *wire.Problem) {
	_, key, p := decodeRef(req)
	if p != nil {
		return nil, nil, p
	}
	st, p := s.status(ctx, key)
	return st, nil, p
}
