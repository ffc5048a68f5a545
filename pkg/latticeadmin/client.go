package latticeadmin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
)

// DefaultTimeout bounds one request, and is how long a scatter/gather
// (host.ping) collects replies: upstream's client default.
const DefaultTimeout = 2 * time.Second

// Client speaks the control interface of one lattice.
type Client struct {
	nc      *nats.Conn
	lattice string
	prefix  string
	timeout time.Duration
}

// Option configures a Client.
type Option func(*Client)

// WithPrefix sets the ctl topic prefix the hosts were started with
// (default subject.CtlDefaultPrefix).
func WithPrefix(prefix string) Option { return func(c *Client) { c.prefix = prefix } }

// WithTimeout sets the request timeout and the ping collection window.
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// New returns a client of lattice over nc.
func New(nc *nats.Conn, lattice string, opts ...Option) (*Client, error) {
	if nc == nil {
		return nil, errors.New("latticeadmin: New needs a NATS connection")
	}
	if err := subject.ValidateLattice(lattice); err != nil {
		return nil, err
	}
	c := &Client{nc: nc, lattice: lattice, prefix: subject.CtlDefaultPrefix, timeout: DefaultTimeout}
	for _, o := range opts {
		o(c)
	}
	if err := subject.ValidatePrefix(c.prefix); err != nil {
		return nil, fmt.Errorf("ctl prefix: %w", err)
	}
	if c.timeout <= 0 {
		return nil, fmt.Errorf("timeout %v: must be positive", c.timeout)
	}
	return c, nil
}

// Lattice is the lattice the client talks to.
func (c *Client) Lattice() string { return c.lattice }

// CtlError is a reply with success false: the host refused the request.
type CtlError struct {
	Subject string
	Message string
}

func (e *CtlError) Error() string {
	return fmt.Sprintf("%s: the host refused: %s", e.Subject, e.Message)
}

// ErrNoHost is returned (wrapped) when no host answers a request.
var ErrNoHost = errors.New("no wasmCloud host answered")

// request sends body on op[.arg] and decodes the CtlResponse; a reply with
// success false is a *CtlError.
func request[T any](ctx context.Context, c *Client, op, arg string, body []byte) (CtlResponse[T], error) {
	var resp CtlResponse[T]
	subj := subject.Ctl(c.prefix, c.lattice, op, arg)
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	msg, err := c.nc.RequestWithContext(ctx, subj, body)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return resp, fmt.Errorf("%s: %w on lattice %q (is a host running, with this lattice and ctl prefix?)", subj, ErrNoHost, c.lattice)
	case errors.Is(err, context.DeadlineExceeded):
		return resp, fmt.Errorf("%s: %w within %v", subj, ErrNoHost, c.timeout)
	case err != nil:
		return resp, fmt.Errorf("%s: %w", subj, err)
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return resp, fmt.Errorf("%s: reply is not a control interface response: %w", subj, err)
	}
	if !resp.Success {
		return resp, &CtlError{Subject: subj, Message: resp.Message}
	}
	return resp, nil
}

// PingReply is one host's answer to host.ping and how long it took.
type PingReply struct {
	Host Host
	RTT  time.Duration
}

// Ping asks every host of the lattice for its summary and collects the
// answers for the client's timeout (a scatter/gather: there is no telling
// how many hosts there are). Replies come sorted by host id; a reply that
// does not decode or says success false is an error naming it.
func (c *Client) Ping(ctx context.Context) ([]PingReply, error) {
	subj := subject.Ctl(c.prefix, c.lattice, subject.CtlHostPing, "")
	inbox := c.nc.NewRespInbox()
	ch := make(chan *nats.Msg, 256)
	sub, err := c.nc.ChanSubscribe(inbox, ch)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", subj, err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	start := time.Now()
	if err := c.nc.PublishRequest(subj, inbox, nil); err != nil {
		return nil, fmt.Errorf("%s: %w", subj, err)
	}
	window := time.NewTimer(c.timeout)
	defer window.Stop()
	var (
		out  []PingReply
		errs []error
	)
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%s: %w", subj, ctx.Err())
		case <-window.C:
			slices.SortFunc(out, func(a, b PingReply) int { return strings.Compare(a.Host.ID, b.Host.ID) })
			return out, errors.Join(errs...)
		case m := <-ch:
			if len(m.Data) == 0 && m.Header.Get("Status") != "" {
				// The server's no-responders notice: no host is listening.
				continue
			}
			rtt := time.Since(start)
			var resp CtlResponse[Host]
			switch err := json.Unmarshal(m.Data, &resp); {
			case err != nil:
				errs = append(errs, fmt.Errorf("%s: a reply is not a control interface response: %w", subj, err))
			case !resp.Success:
				errs = append(errs, &CtlError{Subject: subj, Message: resp.Message})
			case resp.Response == nil:
				errs = append(errs, &CtlError{Subject: subj, Message: "success without a host"})
			default:
				out = append(out, PingReply{Host: *resp.Response, RTT: rtt})
			}
		}
	}
}

// HostSummary is a host with the size of its inventory.
type HostSummary struct {
	Host       Host `json:"host"`
	Components int  `json:"components"`
	Providers  int  `json:"providers"`
}

// Hosts pings the lattice, then asks each host that answered for its
// inventory to count its components and providers.
func (c *Client) Hosts(ctx context.Context) ([]HostSummary, error) {
	replies, err := c.Ping(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]HostSummary, 0, len(replies))
	for _, r := range replies {
		inv, err := c.Inventory(ctx, r.Host.ID)
		if err != nil {
			return nil, fmt.Errorf("host %s answered the ping but not host.get: %w", r.Host.ID, err)
		}
		out = append(out, HostSummary{Host: r.Host, Components: len(inv.Components), Providers: len(inv.Providers)})
	}
	return out, nil
}

// ValidateHostID checks that id is a host's id: an nkey server public key
// (56 characters starting with N), as `canvas lattice hosts` lists them.
func ValidateHostID(id string) error {
	if !nkeys.IsValidPublicServerKey(id) {
		return fmt.Errorf("host id %q is not a host's nkey public key (56 characters, starting with N): copy one from `canvas lattice hosts`", id)
	}
	return nil
}

// ValidateConfigName checks that name can stand as the last token of a
// config.* subject: not empty, no '.', '*', '>' or white space.
func ValidateConfigName(name string) error {
	if name == "" {
		return errors.New("config name is empty")
	}
	if i := strings.IndexAny(name, ".*> \t\r\n"); i >= 0 {
		return fmt.Errorf("config name %q: character %q at offset %d is not allowed in a subject token", name, name[i], i)
	}
	return nil
}

// Inventory asks one host for what it runs (host.get).
func (c *Client) Inventory(ctx context.Context, hostID string) (HostInventory, error) {
	if err := ValidateHostID(hostID); err != nil {
		return HostInventory{}, err
	}
	resp, err := request[HostInventory](ctx, c, subject.CtlHostGet, hostID, nil)
	if err != nil {
		return HostInventory{}, err
	}
	if resp.Response == nil {
		return HostInventory{}, &CtlError{Subject: subject.Ctl(c.prefix, c.lattice, subject.CtlHostGet, hostID), Message: "success without an inventory"}
	}
	return *resp.Response, nil
}

// Links lists every link of the lattice (link.get; one host answers).
func (c *Client) Links(ctx context.Context) ([]Link, error) {
	resp, err := request[[]Link](ctx, c, subject.CtlLinkGet, "", nil)
	if err != nil || resp.Response == nil {
		return nil, err
	}
	return *resp.Response, nil
}

// ConfigGet reads a named config. found is false when the lattice has no
// config of that name (the host answers success with no response).
func (c *Client) ConfigGet(ctx context.Context, name string) (values map[string]string, found bool, err error) {
	if err := ValidateConfigName(name); err != nil {
		return nil, false, err
	}
	resp, err := request[map[string]string](ctx, c, subject.CtlConfigGet, name, nil)
	if err != nil || resp.Response == nil {
		return nil, false, err
	}
	return *resp.Response, true, nil
}

// ConfigPut stores values as the named config, replacing it whole, and
// returns the host's message.
func (c *Client) ConfigPut(ctx context.Context, name string, values map[string]string) (string, error) {
	if err := ValidateConfigName(name); err != nil {
		return "", err
	}
	if values == nil {
		values = map[string]string{}
	}
	body, err := Marshal(values)
	if err != nil {
		return "", err
	}
	resp, err := request[struct{}](ctx, c, subject.CtlConfigPut, name, body)
	return resp.Message, err
}

// ConfigDelete deletes the named config and returns the host's message.
func (c *Client) ConfigDelete(ctx context.Context, name string) (string, error) {
	if err := ValidateConfigName(name); err != nil {
		return "", err
	}
	resp, err := request[struct{}](ctx, c, subject.CtlConfigDel, name, nil)
	return resp.Message, err
}

// LabelPut sets a label on one host and returns its message. Hosts refuse
// keys starting with "hostcore." (their own labels).
func (c *Client) LabelPut(ctx context.Context, hostID, key, value string) (string, error) {
	if err := validateLabel(hostID, key); err != nil {
		return "", err
	}
	body, err := Marshal(HostLabel{Key: key, Value: value})
	if err != nil {
		return "", err
	}
	resp, err := request[struct{}](ctx, c, subject.CtlLabelPut, hostID, body)
	return resp.Message, err
}

// LabelDelete removes a label from one host and returns its message.
func (c *Client) LabelDelete(ctx context.Context, hostID, key string) (string, error) {
	if err := validateLabel(hostID, key); err != nil {
		return "", err
	}
	body, err := Marshal(HostLabelIdentifier{Key: key})
	if err != nil {
		return "", err
	}
	resp, err := request[struct{}](ctx, c, subject.CtlLabelDel, hostID, body)
	return resp.Message, err
}

func validateLabel(hostID, key string) error {
	if err := ValidateHostID(hostID); err != nil {
		return err
	}
	if key == "" {
		return errors.New("label key is empty")
	}
	return nil
}
