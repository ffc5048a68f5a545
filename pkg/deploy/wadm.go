package deploy

import (
	"context"
	"errors"
	"fmt"

	"github.com/wasmcanvas/wasmcanvas/pkg/wadm"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm/wadmclient"
)

// Wadm is the lattice backend: it drives wadm through its NATS API.
type Wadm struct {
	client *wadmclient.Client
}

// NewWadm returns a Deployer that talks to wadm through client.
func NewWadm(client *wadmclient.Client) Deployer {
	return &Wadm{client: client}
}

// Put stores m; wadm refusing an existing version counts as success.
func (w *Wadm) Put(ctx context.Context, m *wadm.Manifest) (PutResult, error) {
	version := m.Version()
	if version == "" {
		// wadm would invent a ULID, so every put would be a new version and
		// reconcile could never tell that nothing changed.
		return PutResult{}, fmt.Errorf("put application %s: the manifest has no version annotation; set metadata.annotations.version (translate does)", m.Metadata.Name)
	}
	resp, err := w.client.Put(ctx, m)
	switch {
	case errors.Is(err, wadm.ErrVersionExists):
		return PutResult{Version: version, Created: false}, nil
	case err != nil:
		return PutResult{}, fmt.Errorf("put application %s version %s: %w", m.Metadata.Name, version, err)
	}
	if resp.CurrentVersion != "" {
		version = resp.CurrentVersion
	}
	return PutResult{Version: version, Created: true}, nil
}

// Deploy asks wadm to deploy version of name.
func (w *Wadm) Deploy(ctx context.Context, name, version string) error {
	if version == "" {
		return fmt.Errorf("deploy application %s: no version given; name the version Put returned", name)
	}
	if _, err := w.client.Deploy(ctx, name, version); err != nil {
		return fmt.Errorf("deploy application %s version %s: %w", name, version, err)
	}
	return nil
}

// Undeploy asks wadm to stop name; an unknown application is not an error.
func (w *Wadm) Undeploy(ctx context.Context, name string) error {
	_, err := w.client.Undeploy(ctx, name)
	if err != nil && !errors.Is(err, wadm.ErrNotFound) {
		return fmt.Errorf("undeploy application %s: %w", name, err)
	}
	return nil
}

// Delete removes every version of name; wadm answers noop when it is absent.
func (w *Wadm) Delete(ctx context.Context, name string) error {
	if _, err := w.client.Delete(ctx, name, ""); err != nil && !errors.Is(err, wadm.ErrNotFound) {
		return fmt.Errorf("delete application %s: %w", name, err)
	}
	return nil
}

// Status combines wadm's status reply with its version list, which is the
// only place wadm says which version is deployed (the status's own version
// field is deprecated and always empty).
func (w *Wadm) Status(ctx context.Context, name string) (AppStatus, error) {
	var st AppStatus
	vr, err := w.client.Versions(ctx, name)
	switch {
	case errors.Is(err, wadm.ErrNotFound):
		return AppStatus{Type: wadm.StatusUndeployed}, nil
	case err != nil:
		return st, fmt.Errorf("status of application %s: list versions: %w", name, err)
	}
	st.Exists = len(vr.Versions) > 0
	for _, v := range vr.Versions {
		if v.Deployed {
			st.DeployedVersion = v.Version
		}
	}
	sr, err := w.client.Status(ctx, name)
	if err != nil {
		return st, fmt.Errorf("status of application %s: %w", name, err)
	}
	st.Type = sr.Status.Info.Type
	st.Message = sr.Status.Info.Message
	st.Scalers = sr.Status.Scalers
	return st, nil
}

// Watch follows wadm.status.{lattice}.* on core NATS; the subscription
// survives reconnects, and messages missed while disconnected are the
// reason callers also resync.
func (w *Wadm) Watch(ctx context.Context) (<-chan StatusEvent, error) {
	sw, err := w.client.WatchStatus(ctx, "*")
	if err != nil {
		return nil, fmt.Errorf("watch wadm status in lattice %s: %w", w.client.Lattice(), err)
	}
	out := make(chan StatusEvent, cap(sw.C))
	go func() {
		defer close(out)
		defer sw.Stop()
		for u := range sw.C {
			// An undecodable message still says the application changed;
			// pass it on with an empty type so the caller looks again.
			ev := StatusEvent{App: u.Name}
			if u.Err == nil {
				ev.Status = AppStatus{Type: u.Status.Info.Type, Message: u.Status.Info.Message, Scalers: u.Status.Scalers}
			}
			select {
			case out <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

var _ Deployer = (*Wadm)(nil)
