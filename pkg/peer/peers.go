package peer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/wasmcanvas/wasmcanvas/pkg/api/wire"
)

// Defaults of Options.
const (
	DefaultInterval = 10 * time.Second
	DefaultTimeout  = 5 * time.Second
)

// Options configure Peers.
type Options struct {
	// URLs are the peers' base URLs: where their /canvas-info routes are
	// served (a canvasd API or a canvas's ingress).
	URLs []string
	// Canvas names this canvas to its peers (its ingress or API URL); the
	// ids of its registrations derive from it, so it must be stable.
	Canvas string
	// Self lists this canvas's TMF639 resources (api.Server.Inventory);
	// its API resources are registered with every peer.
	Self func(ctx context.Context) ([]wire.Resource, error)
	// Interval is how often each peer is read and registered with.
	Interval time.Duration
	// Timeout bounds each request to a peer.
	Timeout time.Duration
	// Client is the HTTP client (http.DefaultClient when nil).
	Client *http.Client
	// OnChange (may be nil) gets the specification URLs whose resolution
	// on a peer changed.
	OnChange func(specs []string)
	Logger   *zap.Logger
}

// Peers keeps, per peer, the APIs it lists and the registrations made
// with it. Create it with New, then Run it.
type Peers struct {
	opts     Options
	canvasID string

	mu    sync.Mutex
	state map[string]*peerState
}

type peerState struct {
	apis []wire.Resource
	err  error
	at   time.Time
	// seen is the name and time each specification URL was last listed
	// by the peer under, to say "gone" rather than "never there".
	seen map[string]seenAPI
	// registered are the ids of this canvas's registrations there.
	registered map[string]bool
}

type seenAPI struct {
	name string
	at   time.Time
}

// New checks opts and makes Peers.
func New(opts Options) (*Peers, error) {
	var errs []error
	for _, u := range opts.URLs {
		if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			errs = append(errs, fmt.Errorf("--peer-canvas %q: want the base URL of a canvas's canvas-info service, e.g. http://canvas-b:7443", u))
		}
	}
	if opts.Canvas == "" {
		errs = append(errs, errors.New("peer: Options.Canvas is empty: name this canvas (its ingress URL) so peers can tell its registrations apart"))
	}
	if opts.Self == nil {
		errs = append(errs, errors.New("peer: Options.Self is nil: pass the canvas's inventory"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Client == nil {
		opts.Client = http.DefaultClient
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	sum := sha256.Sum256([]byte(opts.Canvas))
	p := &Peers{opts: opts, canvasID: "canvas-" + hex.EncodeToString(sum[:4]), state: map[string]*peerState{}}
	for _, u := range opts.URLs {
		p.state[strings.TrimRight(u, "/")] = &peerState{seen: map[string]seenAPI{}, registered: map[string]bool{}}
	}
	return p, nil
}

// Run syncs with every peer each Interval until ctx ends, then withdraws
// this canvas's registrations (best effort, within Timeout).
func (p *Peers) Run(ctx context.Context) error {
	t := time.NewTicker(p.opts.Interval)
	defer t.Stop()
	for {
		p.Sync(ctx)
		select {
		case <-ctx.Done():
			wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.opts.Timeout)
			defer cancel()
			p.withdraw(wctx)
			return nil
		case <-t.C:
		}
	}
}

// Sync reads every peer's APIs and registers this canvas's with it once.
func (p *Peers) Sync(ctx context.Context) {
	self, err := p.opts.Self(ctx)
	if err != nil {
		p.opts.Logger.Warn("listing this canvas's APIs for its peers failed; registering nothing this round", zap.Error(err))
		self = nil
	}
	var changed []string
	for _, base := range slices.Sorted(maps.Keys(p.state)) {
		apis, ferr := p.fetch(ctx, base)
		p.mu.Lock()
		st := p.state[base]
		before := resolutions(st)
		if ferr != nil {
			st.err = ferr
		} else {
			st.apis, st.err, st.at = apis, nil, time.Now()
			for _, a := range apis {
				if u := specOf(a.ResourceCharacteristic); u != "" {
					st.seen[u] = seenAPI{name: a.Name, at: st.at}
				}
			}
			forgetOldest(st.seen, maxSeen)
		}
		after := resolutions(st)
		registered := maps.Clone(st.registered)
		p.mu.Unlock()
		for u := range maps.Keys(before) {
			if after[u] != before[u] {
				changed = append(changed, u)
			}
		}
		for u := range maps.Keys(after) {
			if _, had := before[u]; !had {
				changed = append(changed, u)
			}
		}
		if err == nil {
			now := p.register(ctx, base, self, registered)
			p.mu.Lock()
			st.registered = now
			p.mu.Unlock()
		}
	}
	if len(changed) > 0 && p.opts.OnChange != nil {
		p.opts.OnChange(changed)
	}
}

// maxSeen bounds the specification URLs a peer is remembered to have
// listed: one that lists new ones every round must not fill the canvas's
// memory. Those it listed longest ago are forgotten first (and then
// said to be absent, not gone).
const maxSeen = MaxRegistrations

func forgetOldest(seen map[string]seenAPI, keep int) {
	if len(seen) <= keep {
		return
	}
	urls := slices.SortedFunc(maps.Keys(seen), func(a, b string) int { return seen[a].at.Compare(seen[b].at) })
	for _, u := range urls[:len(urls)-keep] {
		delete(seen, u)
	}
}

// resolutions is what each specification URL resolves to on a peer
// ("" when unreachable or not ready), for change detection.
func resolutions(st *peerState) map[string]string {
	out := map[string]string{}
	for _, a := range st.apis {
		u := specOf(a.ResourceCharacteristic)
		if u == "" {
			continue
		}
		v := ""
		if st.err == nil && a.ResourceStatus == wire.ResourceAvailable {
			v = wire.CharacteristicValue(a.ResourceCharacteristic, wire.CharURL)
		}
		if out[u] == "" {
			out[u] = v
		}
	}
	return out
}

func (p *Peers) fetch(ctx context.Context, base string) ([]wire.Resource, error) {
	var out []wire.Resource
	err := p.do(ctx, http.MethodGet, base+wire.PathResourceInventory+"?category="+wire.CategoryAPI, nil, &out)
	return out, err
}

// register posts self's ready and unready APIs to base and withdraws the
// ones registered before that are gone; it returns the ids registered.
func (p *Peers) register(ctx context.Context, base string, self []wire.Resource, before map[string]bool) map[string]bool {
	now := map[string]bool{}
	for _, r := range self {
		if r.Category != wire.CategoryAPI || specOf(r.ResourceCharacteristic) == "" {
			continue
		}
		svc := p.service(r)
		if err := p.do(ctx, http.MethodPost, base+wire.PathCanvasInfo, svc, nil); err != nil {
			p.opts.Logger.Warn("registering an API with a peer failed; retrying next round", zap.String("peer", base), zap.String("api", r.Name), zap.Error(err))
			if before[svc.ID] {
				now[svc.ID] = true // still there as far as we know
			}
			continue
		}
		now[svc.ID] = true
	}
	for id := range before {
		if !now[id] {
			if err := p.do(ctx, http.MethodDelete, base+wire.PathCanvasInfo+"/"+url.PathEscape(id), nil, nil); err != nil {
				p.opts.Logger.Warn("withdrawing an API from a peer failed; its registration expires", zap.String("peer", base), zap.String("id", id), zap.Error(err))
			}
		}
	}
	return now
}

func (p *Peers) withdraw(ctx context.Context) {
	p.mu.Lock()
	all := map[string][]string{}
	for base, st := range p.state {
		all[base] = slices.Collect(maps.Keys(st.registered))
		st.registered = map[string]bool{}
	}
	p.mu.Unlock()
	for base, ids := range all {
		for _, id := range ids {
			_ = p.do(ctx, http.MethodDelete, base+wire.PathCanvasInfo+"/"+url.PathEscape(id), nil, nil) // it expires otherwise
		}
	}
}

// service is resource r (an API of this canvas) as a TMF638 Service
// registered with a peer.
func (p *Peers) service(r wire.Resource) wire.Service {
	state := wire.ServiceInactive
	if r.ResourceStatus == wire.ResourceAvailable {
		state = wire.ServiceActive
	}
	chars := []wire.Characteristic{
		wire.StringCharacteristic(wire.CharCanvas, p.opts.Canvas),
		wire.StringCharacteristic(wire.CharComponentName, wire.CharacteristicValue(r.ResourceCharacteristic, wire.CharComponentName)),
		wire.StringCharacteristic(wire.CharNamespace, wire.CharacteristicValue(r.ResourceCharacteristic, wire.CharNamespace)),
		wire.StringCharacteristic(wire.CharOASSpecification, specOf(r.ResourceCharacteristic)),
	}
	if state == wire.ServiceActive {
		chars = append(chars, wire.StringCharacteristic(wire.CharURL, wire.CharacteristicValue(r.ResourceCharacteristic, wire.CharURL)))
	}
	return wire.Service{ID: p.canvasID + "-" + r.ID, Name: r.Name, ServiceType: "API", State: state, ServiceCharacteristic: chars, Type: "Service"}
}

func (p *Peers) do(ctx context.Context, method, u string, body, out any) error {
	ctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", wire.ContentTypeJSON)
	}
	resp, err := p.opts.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, wire.MaxBodySize+1))
	if err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", method, u, err)
	}
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %s: %s", method, u, resp.Status, quoteAnswer(data))
	}
	if len(data) > wire.MaxBodySize {
		return fmt.Errorf("%s %s: the answer is over %d bytes: ask the peer's operator to list fewer APIs, or remove it from --peer-canvas", method, u, wire.MaxBodySize)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: not a TMF list: %w", method, u, err)
		}
	}
	return nil
}

// maxQuotedAnswer bounds how much of a peer's refusal its error quotes:
// the error becomes the reason of every dependent API the peer would
// serve, written to each Component's status.
const maxQuotedAnswer = 256

// quoteAnswer is the start of a refusal's body, on one line.
func quoteAnswer(data []byte) string {
	head := data[:min(len(data), 4*maxQuotedAnswer)]
	s := strings.Join(strings.Fields(strings.ToValidUTF8(string(head), "\uFFFD")), " ")
	if r := []rune(s); len(r) > maxQuotedAnswer || len(head) < len(data) {
		return string(r[:min(len(r), maxQuotedAnswer)]) + "…"
	}
	return s
}

// lookup finds spec on the peers: a ready API's url, or why there is none.
func (p *Peers) lookup(spec string) (url string, ready bool, reasons []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, base := range slices.Sorted(maps.Keys(p.state)) {
		st := p.state[base]
		if st.err != nil {
			reasons = append(reasons, fmt.Sprintf("peer %s is unreachable (%v)", base, st.err))
			continue
		}
		listed := false
		for _, a := range st.apis {
			if specOf(a.ResourceCharacteristic) != spec {
				continue
			}
			listed = true
			if u := wire.CharacteristicValue(a.ResourceCharacteristic, wire.CharURL); a.ResourceStatus == wire.ResourceAvailable && u != "" {
				return u, true, nil
			}
			reasons = append(reasons, fmt.Sprintf("API %s on peer %s is not ready (%s)", a.Name, base, a.ResourceStatus))
		}
		if s, ok := st.seen[spec]; ok && !listed {
			reasons = append(reasons, fmt.Sprintf("API %s on peer %s is gone (last listed %s)", s.name, base, s.at.UTC().Format(time.RFC3339)))
		}
	}
	return "", false, reasons
}

// Resolver finds dependencies in a Registry and on Peers (either may be nil).
type Resolver struct {
	Registry *Registry
	Peers    *Peers
}

// Resolve finds a ready API with one of specs, else says why there is
// none. Registrations come first, then peers in URL order.
func (r Resolver) Resolve(specs []string) (url string, ready bool, reason string) {
	var reasons []string
	for _, spec := range specs {
		spec = strings.TrimSpace(spec)
		if r.Registry != nil {
			if svc, ok := r.Registry.lookup(spec); ok {
				if svc.State == wire.ServiceActive {
					return wire.CharacteristicValue(svc.ServiceCharacteristic, wire.CharURL), true, ""
				}
				reasons = append(reasons, fmt.Sprintf("API %s registered by canvas %s is not ready", svc.Name, wire.CharacteristicValue(svc.ServiceCharacteristic, wire.CharCanvas)))
			}
		}
		if r.Peers != nil {
			u, ok, why := r.Peers.lookup(spec)
			if ok {
				return u, true, ""
			}
			reasons = append(reasons, why...)
		}
	}
	if len(reasons) == 0 {
		return "", false, fmt.Sprintf("no API with specification URL %s is exposed on this canvas, registered by another canvas or listed by a peer", strings.Join(specs, " or "))
	}
	return "", false, strings.Join(reasons, "; ")
}
