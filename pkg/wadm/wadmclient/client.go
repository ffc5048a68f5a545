package wadmclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm"
)

// DefaultTimeout bounds each API request unless the context ends sooner.
const DefaultTimeout = 5 * time.Second

// Client speaks wadm's NATS API for one lattice. It is safe for concurrent
// use; it owns no goroutines except those of the watches it returns.
type Client struct {
	nc      *nats.Conn
	lattice string
	prefix  string
	timeout time.Duration
}

// Option configures a Client.
type Option func(*Client)

// WithAPIPrefix sets the API subject prefix (wadm's --api-prefix); the
// default is subject.WadmDefaultAPIPrefix.
func WithAPIPrefix(prefix string) Option {
	return func(c *Client) { c.prefix = strings.Trim(strings.TrimSpace(prefix), ".") }
}

// WithTimeout sets the per-request timeout; the default is DefaultTimeout.
func WithTimeout(d time.Duration) Option {
	return func(c *Client) { c.timeout = d }
}

// NewClient returns a client for lattice over nc.
func New(nc *nats.Conn, lattice string, opts ...Option) (*Client, error) {
	c := &Client{nc: nc, lattice: lattice, prefix: subject.WadmDefaultAPIPrefix, timeout: DefaultTimeout}
	for _, o := range opts {
		o(c)
	}
	if nc == nil {
		return nil, errors.New("wadm: NewClient needs a NATS connection")
	}
	if err := subject.ValidateLattice(lattice); err != nil {
		return nil, fmt.Errorf("wadm: NewClient: %w", err)
	}
	if err := subject.ValidatePrefix(c.prefix); err != nil {
		return nil, fmt.Errorf("wadm: NewClient: %w", err)
	}
	if c.timeout <= 0 {
		return nil, fmt.Errorf("wadm: NewClient: timeout %s must be positive", c.timeout)
	}
	return c, nil
}

// Lattice returns the lattice the client talks to.
func (c *Client) Lattice() string { return c.lattice }

func (c *Client) subj(op, name string) string {
	return subject.WadmModel(c.prefix, c.lattice, op, name)
}

// request sends one API request and decodes the reply into out.
func (c *Client) request(ctx context.Context, op, name string, hdr nats.Header, body []byte, out any) error {
	subj := c.subj(op, name)
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	msg := &nats.Msg{Subject: subj, Data: body, Header: hdr}
	reply, err := c.nc.RequestMsgWithContext(ctx, msg)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return &noWadmError{lattice: c.lattice, subjects: subject.WadmLatticeAPI(c.prefix, c.lattice), cause: err}
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout):
		return fmt.Errorf("wadm request %s got no reply in time (timeout %s): check that wadm is running and healthy: %w", subj, c.timeout, err)
	case err != nil:
		return fmt.Errorf("wadm request %s: %w", subj, err)
	}
	if err := json.Unmarshal(reply.Data, out); err != nil {
		return fmt.Errorf("wadm reply on %s is not the expected JSON (is this wadm 0.21?): %w", subj, err)
	}
	return nil
}

func apiError(op, subj, result, message string) error {
	return &wadm.APIError{Op: op, Subject: subj, Result: result, Message: message}
}

// Put stores a new version of m (it does not deploy it). A version that
// already exists yields wadm.ErrVersionExists.
func (c *Client) Put(ctx context.Context, m *wadm.Manifest) (wadm.PutModelResponse, error) {
	var resp wadm.PutModelResponse
	if m == nil {
		return resp, errors.New("wadm: Put: nil manifest")
	}
	if err := subject.ValidateAppName(m.Metadata.Name); err != nil {
		return resp, fmt.Errorf("wadm: Put: %w", err)
	}
	body, err := wadm.MarshalJSON(m)
	if err != nil {
		return resp, fmt.Errorf("wadm: Put: %w", err)
	}
	hdr := nats.Header{}
	hdr.Set(wadm.ContentTypeHeader, wadm.ContentTypeJSON)
	if err := c.request(ctx, subject.WadmPut, "", hdr, body, &resp); err != nil {
		return resp, err
	}
	if resp.Result != wadm.PutResultCreated && resp.Result != wadm.PutResultNewVersion {
		return resp, apiError(subject.WadmPut, c.subj(subject.WadmPut, ""), string(resp.Result), resp.Message)
	}
	return resp, nil
}

// Get fetches one version of an application ("" for the current one).
func (c *Client) Get(ctx context.Context, name, version string) (wadm.GetModelResponse, error) {
	var resp wadm.GetModelResponse
	if err := subject.ValidateAppName(name); err != nil {
		return resp, fmt.Errorf("wadm: Get: %w", err)
	}
	var body []byte
	if version != "" {
		body, _ = json.Marshal(wadm.GetModelRequest{Version: version})
	}
	if err := c.request(ctx, subject.WadmGet, name, nil, body, &resp); err != nil {
		return resp, err
	}
	if resp.Result != wadm.GetResultSuccess {
		return resp, apiError(subject.WadmGet, c.subj(subject.WadmGet, name), string(resp.Result), resp.Message)
	}
	if resp.Manifest == nil {
		return resp, fmt.Errorf("wadm: Get %s: success reply without a manifest", name)
	}
	return resp, nil
}

// List summarizes every application in the lattice.
func (c *Client) List(ctx context.Context) (wadm.ListModelsResponse, error) {
	var resp wadm.ListModelsResponse
	if err := c.request(ctx, subject.WadmGet, "", nil, nil, &resp); err != nil {
		return resp, err
	}
	if resp.Result != wadm.GetResultSuccess {
		return resp, apiError(subject.WadmGet, c.subj(subject.WadmGet, ""), string(resp.Result), resp.Message)
	}
	return resp, nil
}

// Versions lists the stored versions of an application in creation order.
func (c *Client) Versions(ctx context.Context, name string) (wadm.VersionResponse, error) {
	var resp wadm.VersionResponse
	if err := subject.ValidateAppName(name); err != nil {
		return resp, fmt.Errorf("wadm: Versions: %w", err)
	}
	if err := c.request(ctx, subject.WadmVersions, name, nil, nil, &resp); err != nil {
		return resp, err
	}
	if resp.Result != wadm.GetResultSuccess {
		return resp, apiError(subject.WadmVersions, c.subj(subject.WadmVersions, name), string(resp.Result), resp.Message)
	}
	return resp, nil
}

// Deploy asks wadm to deploy a version ("" or wadm.LatestVersion for the current
// one). Acknowledged means accepted; watch Status for the outcome.
func (c *Client) Deploy(ctx context.Context, name, version string) (wadm.DeployModelResponse, error) {
	var resp wadm.DeployModelResponse
	if err := subject.ValidateAppName(name); err != nil {
		return resp, fmt.Errorf("wadm: Deploy: %w", err)
	}
	req := wadm.DeployModelRequest{}
	if version != "" {
		req.Version = &version
	}
	body, _ := json.Marshal(req)
	if err := c.request(ctx, subject.WadmDeploy, name, nil, body, &resp); err != nil {
		return resp, err
	}
	if resp.Result != wadm.DeployResultAcknowledged {
		return resp, apiError(subject.WadmDeploy, c.subj(subject.WadmDeploy, name), string(resp.Result), resp.Message)
	}
	return resp, nil
}

// Undeploy asks wadm to stop an application; undeploying an undeployed
// application is acknowledged too.
func (c *Client) Undeploy(ctx context.Context, name string) (wadm.DeployModelResponse, error) {
	var resp wadm.DeployModelResponse
	if err := subject.ValidateAppName(name); err != nil {
		return resp, fmt.Errorf("wadm: Undeploy: %w", err)
	}
	if err := c.request(ctx, subject.WadmUndeploy, name, nil, []byte("{}"), &resp); err != nil {
		return resp, err
	}
	if resp.Result != wadm.DeployResultAcknowledged {
		return resp, apiError(subject.WadmUndeploy, c.subj(subject.WadmUndeploy, name), string(resp.Result), resp.Message)
	}
	return resp, nil
}

// Delete deletes one version ("" deletes every version). Deleting what does
// not exist is a noop, not an error: check resp.Result.
func (c *Client) Delete(ctx context.Context, name, version string) (wadm.DeleteModelResponse, error) {
	var resp wadm.DeleteModelResponse
	if err := subject.ValidateAppName(name); err != nil {
		return resp, fmt.Errorf("wadm: Delete: %w", err)
	}
	req := wadm.DeleteModelRequest{}
	if version != "" {
		req.Version = &version
	}
	body, _ := json.Marshal(req)
	if err := c.request(ctx, subject.WadmDelete, name, nil, body, &resp); err != nil {
		return resp, err
	}
	if resp.Result != wadm.DeleteResultDeleted && resp.Result != wadm.DeleteResultNoop {
		return resp, apiError(subject.WadmDelete, c.subj(subject.WadmDelete, name), string(resp.Result), resp.Message)
	}
	return resp, nil
}

// Status fetches an application's last published status. wadm answers for
// unknown applications too, with the default (undeployed) status.
func (c *Client) Status(ctx context.Context, name string) (wadm.StatusResponse, error) {
	var resp wadm.StatusResponse
	if err := subject.ValidateAppName(name); err != nil {
		return resp, fmt.Errorf("wadm: wadm.Status: %w", err)
	}
	if err := c.request(ctx, subject.WadmStatus, name, nil, nil, &resp); err != nil {
		return resp, err
	}
	if resp.Result != wadm.StatusResultOK {
		return resp, apiError(subject.WadmStatus, c.subj(subject.WadmStatus, name), string(resp.Result), resp.Message)
	}
	if resp.Status == nil {
		return resp, fmt.Errorf("wadm: wadm.Status %s: ok reply without a status", name)
	}
	return resp, nil
}

// StatusUpdate is one status message from a watch. Err is set (and Status
// empty) when the message did not decode.
type StatusUpdate struct {
	Name   string
	Status wadm.Status
	Err    error
}

// StatusWatch delivers status updates on C until its context ends or Stop
// is called; then C is closed.
type StatusWatch struct {
	C    <-chan StatusUpdate
	stop context.CancelFunc
	done chan struct{}
	once sync.Once
}

// Stop ends the watch and waits until C is closed. It is safe to call more
// than once.
func (w *StatusWatch) Stop() {
	w.once.Do(w.stop)
	<-w.done
}

// statusBuffer absorbs bursts of status messages between reads.
const statusBuffer = 64

// WatchStatus subscribes to live status updates of one application, or of
// all applications in the lattice with name "*". It sees only what is
// published after it starts; call Status for the current state.
func (c *Client) WatchStatus(ctx context.Context, name string) (*StatusWatch, error) {
	if name != "*" {
		if err := subject.ValidateAppName(name); err != nil {
			return nil, fmt.Errorf("wadm: WatchStatus: %w", err)
		}
	}
	subj := subject.WadmAppStatus(c.lattice, name)
	msgs := make(chan *nats.Msg, statusBuffer)
	sub, err := c.nc.ChanSubscribe(subj, msgs)
	if err != nil {
		return nil, fmt.Errorf("wadm: subscribe to %s: %w", subj, err)
	}
	// Flush so the subscription is registered with the server before the
	// caller acts on the assumption that it is watching.
	fctx, fcancel := context.WithTimeout(ctx, c.timeout)
	err = c.nc.FlushWithContext(fctx)
	fcancel()
	if err != nil {
		_ = sub.Unsubscribe()
		return nil, fmt.Errorf("wadm: subscribe to %s: flush: %w", subj, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	out := make(chan StatusUpdate, statusBuffer)
	w := &StatusWatch{C: out, stop: cancel, done: make(chan struct{})}
	prefix := subject.WadmAppStatusPrefix(c.lattice)
	go func() {
		defer close(w.done)
		defer close(out)
		defer func() { _ = sub.Unsubscribe() }()
		for {
			select {
			case <-ctx.Done():
				return
			case m := <-msgs:
				u := StatusUpdate{Name: strings.TrimPrefix(m.Subject, prefix)}
				if err := json.Unmarshal(m.Data, &u.Status); err != nil {
					u.Err = fmt.Errorf("wadm: status message on %s: %w", m.Subject, err)
				}
				select {
				case out <- u:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return w, nil
}

// PutAndDeploy stores m and deploys the version just stored, as wadm's own
// client does for `wash app deploy`.
func (c *Client) PutAndDeploy(ctx context.Context, m *wadm.Manifest) (wadm.PutModelResponse, wadm.DeployModelResponse, error) {
	put, err := c.Put(ctx, m)
	if err != nil {
		return put, wadm.DeployModelResponse{}, err
	}
	dep, err := c.Deploy(ctx, put.Name, put.CurrentVersion)
	return put, dep, err
}

// WaitForStatus returns name's status once done accepts it, or ctx's error.
// It watches before it reads the current status, so no change in between
// is missed; a status that is already acceptable returns at once.
func (c *Client) WaitForStatus(ctx context.Context, name string, done func(wadm.Status) bool) (wadm.Status, error) {
	w, err := c.WatchStatus(ctx, name)
	if err != nil {
		return wadm.Status{}, err
	}
	defer w.Stop()
	resp, err := c.Status(ctx, name)
	if err != nil {
		return wadm.Status{}, err
	}
	last := *resp.Status
	if done(last) {
		return last, nil
	}
	for {
		select {
		case <-ctx.Done():
			return last, fmt.Errorf("wadm: waiting for the status of %s (last %s %q): %w", name, last.Info.Type, last.Info.Message, ctx.Err())
		case u, ok := <-w.C:
			if !ok {
				return last, fmt.Errorf("wadm: status watch of %s ended: %w", name, ctx.Err())
			}
			if u.Err != nil {
				// Not a status wadm wrote; the next one decides.
				continue
			}
			last = u.Status
			if done(last) {
				return last, nil
			}
		}
	}
}

// noWadmError reports that no wadm answered; it matches wadm.ErrNoWadm and
// unwraps to the NATS error (nats.ErrNoResponders).
type noWadmError struct {
	lattice, subjects string
	cause             error
}

func (e *noWadmError) Error() string {
	return fmt.Sprintf("no wadm is serving lattice %s on %s: is wadm running?", e.lattice, e.subjects)
}

func (e *noWadmError) Is(target error) bool { return target == wadm.ErrNoWadm }

func (e *noWadmError) Unwrap() error { return e.cause }
