package wadm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
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
// default is DefaultAPIPrefix.
func WithAPIPrefix(prefix string) Option {
	return func(c *Client) { c.prefix = strings.Trim(strings.TrimSpace(prefix), ".") }
}

// WithTimeout sets the per-request timeout; the default is DefaultTimeout.
func WithTimeout(d time.Duration) Option {
	return func(c *Client) { c.timeout = d }
}

// NewClient returns a client for lattice over nc.
func NewClient(nc *nats.Conn, lattice string, opts ...Option) (*Client, error) {
	c := &Client{nc: nc, lattice: lattice, prefix: DefaultAPIPrefix, timeout: DefaultTimeout}
	for _, o := range opts {
		o(c)
	}
	if nc == nil {
		return nil, errors.New("wadm: NewClient needs a NATS connection")
	}
	if err := ValidateLattice(lattice); err != nil {
		return nil, fmt.Errorf("wadm: NewClient: %w", err)
	}
	if c.prefix == "" || strings.ContainsAny(c.prefix, "*> \t") {
		return nil, fmt.Errorf("wadm: NewClient: API prefix %q is not a plain subject prefix (want e.g. %s)", c.prefix, DefaultAPIPrefix)
	}
	if c.timeout <= 0 {
		return nil, fmt.Errorf("wadm: NewClient: timeout %s must be positive", c.timeout)
	}
	return c, nil
}

// Lattice returns the lattice the client talks to.
func (c *Client) Lattice() string { return c.lattice }

// ValidateLattice checks that a lattice id can sit in one subject token.
func ValidateLattice(lattice string) error {
	if lattice == "" || strings.ContainsAny(lattice, ".*> \t\r\n") {
		return fmt.Errorf("lattice %q must be one non-empty NATS subject token (no '.', '*', '>' or spaces)", lattice)
	}
	return nil
}

// ValidateName checks a manifest name: ASCII letters, digits, '-' and '_'.
// wadm's own regex (`^[-\w]+$`) also admits non-ASCII letters, but such a
// name cannot be a key in wadm's KV bucket, so it is refused here early.
func ValidateName(name string) error {
	if name == "" {
		return errors.New("application name is empty")
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return fmt.Errorf("application name %q may only contain ASCII letters, digits, '-' and '_'", name)
		}
	}
	return nil
}

// APISubject returns `{prefix}.{lattice}.model.{op}[.{name}]`.
func APISubject(prefix, lattice, op, name string) string {
	s := prefix + "." + lattice + ".model." + op
	if name != "" {
		s += "." + name
	}
	return s
}

// StatusSubject returns `wadm.status.{lattice}.{name}`; name may be "*".
func StatusSubject(lattice, name string) string {
	return StatusPrefix + "." + lattice + "." + name
}

func (c *Client) subject(op, name string) string { return APISubject(c.prefix, c.lattice, op, name) }

// request sends one API request and decodes the reply into out.
func (c *Client) request(ctx context.Context, op, name string, hdr nats.Header, body []byte, out any) error {
	subj := c.subject(op, name)
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	msg := &nats.Msg{Subject: subj, Data: body, Header: hdr}
	reply, err := c.nc.RequestMsgWithContext(ctx, msg)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return &noWadmError{lattice: c.lattice, subjects: c.prefix + "." + c.lattice + ".>", cause: err}
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
	return &APIError{Op: op, Subject: subj, Result: result, Message: message}
}

// Put stores a new version of m (it does not deploy it). A version that
// already exists yields ErrVersionExists.
func (c *Client) Put(ctx context.Context, m *Manifest) (PutModelResponse, error) {
	var resp PutModelResponse
	if m == nil {
		return resp, errors.New("wadm: Put: nil manifest")
	}
	if err := ValidateName(m.Metadata.Name); err != nil {
		return resp, fmt.Errorf("wadm: Put: %w", err)
	}
	body, err := MarshalJSON(m)
	if err != nil {
		return resp, fmt.Errorf("wadm: Put: %w", err)
	}
	hdr := nats.Header{}
	hdr.Set(ContentTypeHeader, ContentTypeJSON)
	if err := c.request(ctx, OpPut, "", hdr, body, &resp); err != nil {
		return resp, err
	}
	if resp.Result != PutResultCreated && resp.Result != PutResultNewVersion {
		return resp, apiError(OpPut, c.subject(OpPut, ""), string(resp.Result), resp.Message)
	}
	return resp, nil
}

// Get fetches one version of an application ("" for the current one).
func (c *Client) Get(ctx context.Context, name, version string) (GetModelResponse, error) {
	var resp GetModelResponse
	if err := ValidateName(name); err != nil {
		return resp, fmt.Errorf("wadm: Get: %w", err)
	}
	var body []byte
	if version != "" {
		body, _ = marshalJSON(GetModelRequest{Version: version})
	}
	if err := c.request(ctx, OpGet, name, nil, body, &resp); err != nil {
		return resp, err
	}
	if resp.Result != GetResultSuccess {
		return resp, apiError(OpGet, c.subject(OpGet, name), string(resp.Result), resp.Message)
	}
	if resp.Manifest == nil {
		return resp, fmt.Errorf("wadm: Get %s: success reply without a manifest", name)
	}
	return resp, nil
}

// List summarizes every application in the lattice.
func (c *Client) List(ctx context.Context) (ListModelsResponse, error) {
	var resp ListModelsResponse
	if err := c.request(ctx, OpGet, "", nil, nil, &resp); err != nil {
		return resp, err
	}
	if resp.Result != GetResultSuccess {
		return resp, apiError(OpGet, c.subject(OpGet, ""), string(resp.Result), resp.Message)
	}
	return resp, nil
}

// Versions lists the stored versions of an application in creation order.
func (c *Client) Versions(ctx context.Context, name string) (VersionResponse, error) {
	var resp VersionResponse
	if err := ValidateName(name); err != nil {
		return resp, fmt.Errorf("wadm: Versions: %w", err)
	}
	if err := c.request(ctx, OpVersions, name, nil, nil, &resp); err != nil {
		return resp, err
	}
	if resp.Result != GetResultSuccess {
		return resp, apiError(OpVersions, c.subject(OpVersions, name), string(resp.Result), resp.Message)
	}
	return resp, nil
}

// Deploy asks wadm to deploy a version ("" or LatestVersion for the current
// one). Acknowledged means accepted; watch Status for the outcome.
func (c *Client) Deploy(ctx context.Context, name, version string) (DeployModelResponse, error) {
	var resp DeployModelResponse
	if err := ValidateName(name); err != nil {
		return resp, fmt.Errorf("wadm: Deploy: %w", err)
	}
	req := DeployModelRequest{}
	if version != "" {
		req.Version = &version
	}
	body, _ := marshalJSON(req)
	if err := c.request(ctx, OpDeploy, name, nil, body, &resp); err != nil {
		return resp, err
	}
	if resp.Result != DeployResultAcknowledged {
		return resp, apiError(OpDeploy, c.subject(OpDeploy, name), string(resp.Result), resp.Message)
	}
	return resp, nil
}

// Undeploy asks wadm to stop an application; undeploying an undeployed
// application is acknowledged too.
func (c *Client) Undeploy(ctx context.Context, name string) (DeployModelResponse, error) {
	var resp DeployModelResponse
	if err := ValidateName(name); err != nil {
		return resp, fmt.Errorf("wadm: Undeploy: %w", err)
	}
	if err := c.request(ctx, OpUndeploy, name, nil, []byte("{}"), &resp); err != nil {
		return resp, err
	}
	if resp.Result != DeployResultAcknowledged {
		return resp, apiError(OpUndeploy, c.subject(OpUndeploy, name), string(resp.Result), resp.Message)
	}
	return resp, nil
}

// Delete deletes one version ("" deletes every version). Deleting what does
// not exist is a noop, not an error: check resp.Result.
func (c *Client) Delete(ctx context.Context, name, version string) (DeleteModelResponse, error) {
	var resp DeleteModelResponse
	if err := ValidateName(name); err != nil {
		return resp, fmt.Errorf("wadm: Delete: %w", err)
	}
	req := DeleteModelRequest{}
	if version != "" {
		req.Version = &version
	}
	body, _ := marshalJSON(req)
	if err := c.request(ctx, OpDelete, name, nil, body, &resp); err != nil {
		return resp, err
	}
	if resp.Result != DeleteResultDeleted && resp.Result != DeleteResultNoop {
		return resp, apiError(OpDelete, c.subject(OpDelete, name), string(resp.Result), resp.Message)
	}
	return resp, nil
}

// Status fetches an application's last published status. wadm answers for
// unknown applications too, with the default (undeployed) status.
func (c *Client) Status(ctx context.Context, name string) (StatusResponse, error) {
	var resp StatusResponse
	if err := ValidateName(name); err != nil {
		return resp, fmt.Errorf("wadm: Status: %w", err)
	}
	if err := c.request(ctx, OpStatus, name, nil, nil, &resp); err != nil {
		return resp, err
	}
	if resp.Result != StatusResultOK {
		return resp, apiError(OpStatus, c.subject(OpStatus, name), string(resp.Result), resp.Message)
	}
	if resp.Status == nil {
		return resp, fmt.Errorf("wadm: Status %s: ok reply without a status", name)
	}
	return resp, nil
}

// StatusUpdate is one status message from a watch. Err is set (and Status
// empty) when the message did not decode.
type StatusUpdate struct {
	Name   string
	Status Status
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
		if err := ValidateName(name); err != nil {
			return nil, fmt.Errorf("wadm: WatchStatus: %w", err)
		}
	}
	subj := StatusSubject(c.lattice, name)
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
	prefix := StatusPrefix + "." + c.lattice + "."
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
func (c *Client) PutAndDeploy(ctx context.Context, m *Manifest) (PutModelResponse, DeployModelResponse, error) {
	put, err := c.Put(ctx, m)
	if err != nil {
		return put, DeployModelResponse{}, err
	}
	dep, err := c.Deploy(ctx, put.Name, put.CurrentVersion)
	return put, dep, err
}

// WaitForStatus returns name's status once done accepts it, or ctx's error.
// It watches before it reads the current status, so no change in between
// is missed; a status that is already acceptable returns at once.
func (c *Client) WaitForStatus(ctx context.Context, name string, done func(Status) bool) (Status, error) {
	w, err := c.WatchStatus(ctx, name)
	if err != nil {
		return Status{}, err
	}
	defer w.Stop()
	resp, err := c.Status(ctx, name)
	if err != nil {
		return Status{}, err
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
