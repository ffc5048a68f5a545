package identity

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

// Dynamic roles: the reference canvas's identity-config operator registers
// a listener on the `/hub` (TMF630) of a Component's security API named
// partyrole (TMF669 partyRole) or userrolesandpermissions (TMF672
// permissionSpecificationSet) and adds or removes a client role for every
// create or remove event. RoleListener does the same, and also reads the
// API's current list first (the reference waits for events only), so roles
// the Component defined before the listener existed are not missed.

// RoleUpdatesHub and RoleUpdatesPolling are status.identityConfig.roleUpdates:
// how the canvas follows a role API's changes.
const (
	RoleUpdatesHub     = "hub"
	RoleUpdatesPolling = "polling"
)

// Limits on what a Component's role API may send.
const (
	maxRoleList  = 1 << 20  // bytes of a role list
	maxRoleEvent = 64 << 10 // bytes of one event
	maxRoles     = 1000     // roles of one Component
	maxRoleName  = 128      // bytes of one role name
)

// roleAPI is one kind of role API: the reference's partyRoleAPI or
// permissionSpecificationSetAPI.
type roleAPI struct {
	resource string // the collection path and the event's resource key
	baseType string
	hubType  string // "@type" of the hub registration ("" for none)
	create   []string
	remove   []string
}

var (
	partyRoleAPI = roleAPI{resource: "partyRole", baseType: "PartyRole",
		create: []string{"PartyRoleCreateEvent", "PartyRoleCreationNotification"},
		remove: []string{"PartyRoleDeleteEvent", "PartyRoleRemoveNotification"}}
	permissionAPI = roleAPI{resource: "permissionSpecificationSet", baseType: "PermissionSpecificationSet", hubType: "Hub",
		create: []string{"PermissionSpecificationSetCreateEvent", "PermissionSpecificationSetCreationNotification"},
		remove: []string{"PermissionSpecificationSetDeleteEvent", "PermissionSpecificationSetRemoveNotification"}}
)

func roleAPIKind(name string) roleAPI {
	if strings.Contains(strings.ToLower(name), "partyrole") {
		return partyRoleAPI
	}
	return permissionAPI
}

// RoleApplier sets the roles a Component's role API defines on its client,
// beside its componentRole: roles are all of them now, removed the ones it
// defined before and no longer does.
type RoleApplier interface {
	SetDynamicRoles(ctx context.Context, c *oda.Component, roles, removed []string) error
}

// RoleListenerOptions configure a RoleListener.
type RoleListenerOptions struct {
	Apply RoleApplier
	// CallbackURL is where the Component's hub reaches Handler; each
	// registration gets CallbackURL/{token}.
	CallbackURL string
	// Token, when set, gets a bearer token for the Component's API
	// (audience: its client id), as the canvas's system client.
	Token func(ctx context.Context, audience string) (string, error)
	// Changed is told when a Component's dynamic roles or listener state
	// changed (canvasd re-reconciles it, which writes its status).
	Changed func(namespace, name string)
	// HTTP calls the role API (default: 10 s timeout, no redirects).
	HTTP *http.Client
	// Poll is how often the list is read again when the hub refused the
	// listener, and how long to wait before retrying a failed read
	// (default 1 min).
	Poll   time.Duration
	Logger *zap.Logger
}

// RoleListener follows the role APIs of Components. Run owns its
// goroutines; Handler receives the hub's events.
type RoleListener struct {
	opts RoleListenerOptions

	mu      sync.Mutex
	base    context.Context // nil until Run
	wg      sync.WaitGroup
	watches map[oda.Key]*roleWatch
	tokens  map[string]*roleWatch
}

// roleWatch follows one Component's role API. Its goroutine alone changes
// roles; the fields under RoleListener.mu are what status reads.
type roleWatch struct {
	key    oda.Key
	comp   *oda.Component
	kind   roleAPI
	url    string
	token  string
	events chan roleEvent
	cancel context.CancelFunc
	done   chan struct{}

	// under RoleListener.mu
	roles    []string
	listener bool
	polling  bool
}

type roleEvent struct {
	name   string
	create bool
	resync bool
}

// NewRoleListener checks opts and fills in defaults.
func NewRoleListener(opts RoleListenerOptions) (*RoleListener, error) {
	if opts.Apply == nil || opts.CallbackURL == "" {
		return nil, errors.New("role listener: Apply and CallbackURL are required")
	}
	if opts.HTTP == nil {
		opts.HTTP = &http.Client{Timeout: 10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if opts.Poll <= 0 {
		opts.Poll = time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.Changed == nil {
		opts.Changed = func(string, string) {}
	}
	opts.CallbackURL = strings.TrimRight(opts.CallbackURL, "/")
	return &RoleListener{opts: opts, watches: map[oda.Key]*roleWatch{}, tokens: map[string]*roleWatch{}}, nil
}

// Run starts the watches asked for so far and those asked for later, and
// stops them all (unregistering their listeners) when ctx ends.
func (l *RoleListener) Run(ctx context.Context) error {
	l.mu.Lock()
	l.base = ctx
	for _, w := range l.watches {
		l.startLocked(w)
	}
	l.mu.Unlock()
	<-ctx.Done()
	l.mu.Lock()
	l.base = nil
	l.mu.Unlock()
	l.wg.Wait()
	return nil
}

// Follow follows c's role API at url (its URL in status) and says what is
// known now: the roles it defines, whether its hub accepted the listener
// and how updates arrive ("" until the first read). A new url, or a new
// role API, restarts the watch.
func (l *RoleListener) Follow(c *oda.Component, apiName, url string) (roles []string, listener bool, updates string) {
	key := oda.Key{Namespace: c.Metadata.Namespace, Name: c.Metadata.Name}
	kind := roleAPIKind(apiName)
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.watches[key]
	if w != nil && (w.url != url || w.kind.resource != kind.resource) {
		l.stopLocked(w)
		w = nil
	}
	if w == nil {
		tok, err := newCallbackToken()
		if err != nil {
			l.opts.Logger.Error("role listener: no callback token", zap.Error(err))
			return nil, false, ""
		}
		w = &roleWatch{key: key, kind: kind, url: strings.TrimRight(url, "/"), token: tok, events: make(chan roleEvent, 64)}
		l.watches[key] = w
		l.tokens[tok] = w
		if l.base != nil {
			l.startLocked(w)
		}
	}
	w.comp = c // its componentRole may have changed
	switch {
	case w.listener:
		updates = RoleUpdatesHub
	case w.polling:
		updates = RoleUpdatesPolling
	}
	return slices.Clone(w.roles), w.listener, updates
}

// Forget stops following the Component namespace/name.
func (l *RoleListener) Forget(namespace, name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if w := l.watches[oda.Key{Namespace: namespace, Name: name}]; w != nil {
		l.stopLocked(w)
	}
}

func (l *RoleListener) startLocked(w *roleWatch) {
	if w.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(l.base)
	w.cancel, w.done = cancel, make(chan struct{})
	l.wg.Go(func() {
		defer close(w.done)
		l.watch(ctx, w)
	})
}

func (l *RoleListener) stopLocked(w *roleWatch) {
	delete(l.watches, w.key)
	delete(l.tokens, w.token)
	if w.cancel != nil {
		w.cancel()
	}
}

// watch reads the list, registers the listener, then applies events (or
// polls) until ctx ends.
func (l *RoleListener) watch(ctx context.Context, w *roleWatch) {
	log := l.opts.Logger.With(zap.Stringer("component", w.key), zap.String("api", w.url))
	var roles []string
	for {
		got, err := l.readRoles(ctx, w)
		if err == nil {
			roles = l.apply(ctx, w, nil, got, log)
			break
		}
		log.Warn("role API: roles not read; retrying", zap.Error(err), zap.Duration("in", l.opts.Poll))
		if !sleep(ctx, l.opts.Poll) {
			return
		}
	}
	hubID, err := l.register(ctx, w)
	l.mu.Lock()
	w.listener, w.polling = err == nil, err != nil
	l.mu.Unlock()
	if err != nil {
		log.Warn("role API: the hub refused the listener; polling the role list instead", zap.Error(err), zap.Duration("every", l.opts.Poll))
	} else {
		log.Info("role API: listener registered", zap.String("hub", w.url+"/hub"))
	}
	l.opts.Changed(w.key.Namespace, w.key.Name)
	var tick <-chan time.Time
	if err != nil {
		t := time.NewTicker(l.opts.Poll)
		defer t.Stop()
		tick = t.C
	}
	for {
		next := roles
		select {
		case <-ctx.Done():
			if hubID != "" {
				l.unregister(w, hubID, log)
			}
			return
		case ev := <-w.events:
			switch {
			case ev.resync:
				got, err := l.readRoles(ctx, w)
				if err != nil {
					log.Warn("role API: roles not read again after a change event", zap.Error(err))
					continue
				}
				next = got
			case ev.create && !slices.Contains(roles, ev.name):
				if len(roles) >= maxRoles {
					log.Warn("role API: create event ignored: too many roles", zap.String("role", ev.name), zap.Int("max", maxRoles))
					continue
				}
				next = append(slices.Clone(roles), ev.name)
			case !ev.create && slices.Contains(roles, ev.name):
				next = slices.DeleteFunc(slices.Clone(roles), func(r string) bool { return r == ev.name })
			}
		case <-tick:
			got, err := l.readRoles(ctx, w)
			if err != nil {
				log.Warn("role API: roles not read", zap.Error(err))
				continue
			}
			next = got
		}
		if !slices.Equal(sorted(next), sorted(roles)) {
			roles = l.apply(ctx, w, roles, next, log)
		}
	}
}

// apply registers next on the Component's client and publishes it; on
// failure the old roles stay.
func (l *RoleListener) apply(ctx context.Context, w *roleWatch, old, next []string, log *zap.Logger) []string {
	var removed []string
	for _, r := range old {
		if !slices.Contains(next, r) {
			removed = append(removed, r)
		}
	}
	l.mu.Lock()
	c := w.comp
	l.mu.Unlock()
	if err := l.opts.Apply.SetDynamicRoles(ctx, c, next, removed); err != nil {
		log.Error("role API: roles not registered with the issuer", zap.Strings("roles", next), zap.Error(err))
		return old
	}
	log.Info("role API: dynamic roles registered", zap.Strings("roles", next), zap.Strings("removed", removed))
	l.mu.Lock()
	w.roles = slices.Clone(next)
	l.mu.Unlock()
	l.opts.Changed(w.key.Namespace, w.key.Name)
	return next
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// readRoles GETs the role list, three tries with backoff.
func (l *RoleListener) readRoles(ctx context.Context, w *roleWatch) ([]string, error) {
	var err error
	for i, wait := 0, 250*time.Millisecond; i < 3; i, wait = i+1, wait*4 {
		if i > 0 && !sleep(ctx, wait) {
			return nil, ctx.Err()
		}
		var roles []string
		var retry bool
		if roles, retry, err = l.readRolesOnce(ctx, w); err == nil || !retry {
			return roles, err
		}
	}
	return nil, err
}

func (l *RoleListener) readRolesOnce(ctx context.Context, w *roleWatch) (roles []string, retry bool, err error) {
	u := w.url + "/" + w.kind.resource
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, false, fmt.Errorf("GET %s: %w", u, err)
	}
	req.Header.Set("Accept", "application/json")
	if err := l.authorize(ctx, req, w); err != nil {
		return nil, true, err
	}
	resp, err := l.opts.HTTP.Do(req)
	if err != nil {
		return nil, true, fmt.Errorf("GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusPartialContent {
		return nil, resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests,
			fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	body, err := readJSONBody(resp.Header.Get("Content-Type"), resp.Body, maxRoleList)
	if err != nil {
		return nil, false, fmt.Errorf("GET %s: %w", u, err)
	}
	roles, err = parseRoleList(body)
	if err != nil {
		return nil, false, fmt.Errorf("GET %s: %w", u, err)
	}
	return roles, false, nil
}

func (l *RoleListener) authorize(ctx context.Context, req *http.Request, w *roleWatch) error {
	if l.opts.Token == nil {
		return nil
	}
	tok, err := l.opts.Token(ctx, ClientID(w.key.Namespace, w.key.Name))
	if err != nil {
		return fmt.Errorf("a token for the role API: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	return nil
}

// readJSONBody refuses what is not JSON or exceeds limit bytes.
func readJSONBody(contentType string, r io.Reader, limit int64) ([]byte, error) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return nil, fmt.Errorf("content type %q refused: want application/json", contentType)
	}
	return readBounded(r, limit)
}

// readBounded reads r whole, refusing more than limit bytes rather than
// truncating them (a cut document would fail later with a confusing
// parse error).
func readBounded(r io.Reader, limit int64) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("body over %d bytes refused", limit)
	}
	return body, nil
}

// parseRoleList takes the names of a TMF list response (an array of
// resources); one bad entry refuses the whole list.
func parseRoleList(body []byte) ([]string, error) {
	var list []struct {
		Name *string `json:"name"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, fmt.Errorf("not a JSON array of resources: %w", err)
	}
	if len(list) > maxRoles {
		return nil, fmt.Errorf("%d roles refused: at most %d", len(list), maxRoles)
	}
	roles := []string{}
	for i, e := range list {
		if e.Name == nil {
			return nil, fmt.Errorf("[%d]: no name", i)
		}
		if err := validRoleName(*e.Name); err != nil {
			return nil, fmt.Errorf("[%d].name: %w", i, err)
		}
		if !slices.Contains(roles, *e.Name) {
			roles = append(roles, *e.Name)
		}
	}
	return roles, nil
}

func validRoleName(s string) error {
	switch {
	case s == "" || len(s) > maxRoleName:
		return fmt.Errorf("want 1-%d bytes, got %d", maxRoleName, len(s))
	case !utf8.ValidString(s):
		return errors.New("not UTF-8")
	case strings.TrimSpace(s) != s:
		return fmt.Errorf("%q: leading or trailing space", s)
	case strings.ContainsFunc(s, unicode.IsControl):
		return fmt.Errorf("%q: control character", s)
	}
	return nil
}

// register POSTs the listener (TMF630 hub: {"callback": ...}; the
// permissionSpecificationSet API, a v5 API, also wants "@type": "Hub", as
// the reference sends) and returns the hub's id for it.
func (l *RoleListener) register(ctx context.Context, w *roleWatch) (string, error) {
	payload := map[string]string{"callback": l.opts.CallbackURL + "/" + w.token}
	if w.kind.hubType != "" {
		payload["@type"] = w.kind.hubType
	}
	data, err := json.Marshal(payload)
	if err != nil {
		return "", err
	}
	u := w.url + "/hub"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(data))
	if err != nil {
		return "", fmt.Errorf("POST %s: %w", u, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if err := l.authorize(ctx, req, w); err != nil {
		return "", err
	}
	resp, err := l.opts.HTTP.Do(req)
	if err != nil {
		return "", fmt.Errorf("POST %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return "", fmt.Errorf("POST %s: %s", u, resp.Status)
	}
	var hub struct {
		ID string `json:"id"`
	}
	if body, err := readJSONBody(resp.Header.Get("Content-Type"), resp.Body, maxRoleEvent); err == nil {
		_ = json.Unmarshal(body, &hub) // the id only serves to unregister
	}
	return hub.ID, nil
}

// unregister DELETEs the listener, best effort: the Component may be
// gone already.
func (l *RoleListener) unregister(w *roleWatch, id string, log *zap.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	u := w.url + "/hub/" + url.PathEscape(id) // the Component chose the id
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, u, nil)
	if err == nil {
		err = l.authorize(ctx, req, w)
	}
	if err == nil {
		var resp *http.Response
		if resp, err = l.opts.HTTP.Do(req); err == nil {
			resp.Body.Close()
		}
	}
	if err != nil {
		log.Info("role API: listener not unregistered", zap.Error(err))
	}
}

// RoleEventsPath is where canvasd serves Handler.
const RoleEventsPath = "/identity/role-events"

// Handler receives the hub's events at {CallbackURL}/{token}. It is not
// authenticated: the hub posts without credentials, as in the reference
// canvas. The token, 256 random bits made per registration and known only
// to the Component's hub, binds a callback to its Component: an unknown
// token is 404, and an event can change only the roles of the Component
// whose hub got the token.
func (l *RoleListener) Handler() http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			rw.Header().Set("Allow", http.MethodPost)
			http.Error(rw, "POST an event", http.StatusMethodNotAllowed)
			return
		}
		tok := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
		l.mu.Lock()
		w := l.tokens[tok]
		l.mu.Unlock()
		if w == nil {
			http.NotFound(rw, r)
			return
		}
		body, err := readJSONBody(r.Header.Get("Content-Type"), r.Body, maxRoleEvent)
		var ev roleEvent
		if err == nil {
			ev, err = parseRoleEvent(w.kind, body)
		}
		if err != nil {
			l.opts.Logger.Warn("role API: event refused", zap.Stringer("component", w.key), zap.Error(err))
			http.Error(rw, err.Error(), http.StatusBadRequest)
			return
		}
		select {
		case w.events <- ev:
			rw.WriteHeader(http.StatusNoContent)
		default:
			rw.Header().Set("Retry-After", "1")
			http.Error(rw, "too many events in flight", http.StatusServiceUnavailable)
		}
	})
}

// parseRoleEvent reads a TMF event ({eventType, event: {partyRole: {...}}}).
// Create and remove events name a role; other events of the resource (an
// attribute or state change) make the list read again.
func parseRoleEvent(kind roleAPI, body []byte) (roleEvent, error) {
	var doc struct {
		EventType string                     `json:"eventType"`
		Event     map[string]json.RawMessage `json:"event"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return roleEvent{}, fmt.Errorf("not a TMF event: %w", err)
	}
	raw, ok := doc.Event[kind.resource]
	if !ok {
		return roleEvent{}, fmt.Errorf("event.%s missing", kind.resource)
	}
	var res struct {
		Name     *string `json:"name"`
		BaseType *string `json:"@baseType"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		return roleEvent{}, fmt.Errorf("event.%s: %w", kind.resource, err)
	}
	if res.BaseType != nil && *res.BaseType != kind.baseType {
		return roleEvent{}, fmt.Errorf("event.%s.@baseType %q: want %q", kind.resource, *res.BaseType, kind.baseType)
	}
	create, remove := slices.Contains(kind.create, doc.EventType), slices.Contains(kind.remove, doc.EventType)
	if !create && !remove {
		if !strings.HasPrefix(doc.EventType, kind.baseType) {
			return roleEvent{}, fmt.Errorf("eventType %q is not a %s event", doc.EventType, kind.baseType)
		}
		return roleEvent{resync: true}, nil
	}
	if res.Name == nil {
		return roleEvent{}, fmt.Errorf("event.%s.name missing", kind.resource)
	}
	if err := validRoleName(*res.Name); err != nil {
		return roleEvent{}, fmt.Errorf("event.%s.name: %w", kind.resource, err)
	}
	return roleEvent{name: *res.Name, create: create}, nil
}

func newCallbackToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
