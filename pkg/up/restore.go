package up

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/wasmcanvas/wasmcanvas/pkg/api"
	"github.com/wasmcanvas/wasmcanvas/pkg/api/wire"
	"github.com/wasmcanvas/wasmcanvas/pkg/deploy"
	"github.com/wasmcanvas/wasmcanvas/pkg/gateway"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
	"github.com/wasmcanvas/wasmcanvas/pkg/store"
	"github.com/wasmcanvas/wasmcanvas/pkg/translate"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm"
)

// DefaultRestoreTimeout bounds how long readiness waits for the stored
// Components to serve again after a start; one still loading then is
// logged and left to finish (its routes answer 503 meanwhile).
const DefaultRestoreTimeout = 2 * time.Minute

// restoreReason is the 503 detail of a stored Component's routes until
// the deployer serves it again.
const restoreReason = "restoring after canvas up started"

// restore makes a restart invisible to clients: every stored Component's
// routes answer 503 with Retry-After from the moment the gateway listens,
// and the canvas is ready (canvasd's /readyz, and `canvas up` returning)
// only once each of those applications is deployed or has failed.
type restore struct {
	log      *zap.Logger
	deployer deploy.Deployer
	deadline time.Time

	mu      sync.Mutex
	pending []string // wadm application names, sorted
}

// claimStoredRoutes reads the stored Components and gives the gateway
// each one's routes, unavailable until the deployer replaces them. A
// Component that does not translate, or whose path another one holds,
// serves nothing after the restart either, so it is left out.
func claimStoredRoutes(ctx context.Context, js jetstream.JetStream, gw *gateway.Gateway, log *zap.Logger) ([]string, error) {
	desired, err := store.New[oda.Component](ctx, js, store.Options{})
	if err != nil {
		return nil, fmt.Errorf("read the stored Components: %w", err)
	}
	stored, err := desired.List(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("read the stored Components: %w", err)
	}
	// The gateway answers for an unavailable app itself; the handler only
	// runs should the app be marked ready before the deployer's routes
	// replace these.
	unavailable := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "1")
		http.Error(w, restoreReason, http.StatusServiceUnavailable)
	})
	var apps []string
	for _, e := range stored {
		c := e.Value
		c.Metadata.Namespace, c.Metadata.Name = e.Namespace, e.Name
		m, err := translate.Component(&c, translate.Options{})
		if err != nil {
			continue
		}
		var routes []gateway.Route
		for _, r := range translate.IngressRoutes(m) {
			if r.Path == wire.PathCanvasInfoRoot {
				routes = nil // the canvas's own route; reconcile reports the conflict
				break
			}
			routes = append(routes, gateway.Route{API: r.API, Path: r.Path, Handler: unavailable})
		}
		if len(routes) == 0 {
			continue
		}
		app := m.Metadata.Name
		gw.SetUnavailable(app, restoreReason)
		if err := gw.SetRoutes(app, routes); err != nil {
			gw.RemoveApp(app)
			log.Debug("stored Component not restored: its routes conflict", zap.String("app", app), zap.Error(err))
			continue
		}
		apps = append(apps, app)
	}
	slices.Sort(apps)
	return apps, nil
}

func newRestore(apps []string, d deploy.Deployer, log *zap.Logger) *restore {
	return &restore{log: log, deployer: d, deadline: time.Now().Add(DefaultRestoreTimeout), pending: apps}
}

// check is the "components" readiness check: it fails while an application
// restored at start is neither deployed nor failed, up to the deadline.
func (r *restore) check(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.pending) == 0 {
		return nil
	}
	var still []string
	for _, app := range r.pending {
		st, err := r.deployer.Status(ctx, app)
		if err != nil {
			return fmt.Errorf("restoring %s: %w", app, err)
		}
		if st.Type != wadm.StatusDeployed && st.Type != wadm.StatusFailed {
			still = append(still, app)
		}
	}
	r.pending = still
	if len(still) == 0 {
		return nil
	}
	if time.Now().After(r.deadline) {
		r.log.Warn("stored Components still loading; ready without them (their routes answer 503 until they serve)", zap.Strings("apps", still))
		r.pending = nil
		return nil
	}
	return fmt.Errorf("%d stored Component(s) not serving again yet: %s", len(still), strings.Join(still, ", "))
}

// readinessCheck is check as a canvasd readiness check.
func (r *restore) readinessCheck() api.Check {
	return api.Check{Name: "components", Check: r.check}
}
