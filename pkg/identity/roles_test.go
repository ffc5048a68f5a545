package identity

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"

	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

// partyRoleAPI plays a Component's TMF669 partyRole API on 127.0.0.1:
// GET /partyRole lists its roles (or what list serves instead), POST
// /hub takes a listener unless refuse is set, and emit posts an event to
// the registered callback as the Component's hub would.
type fakePartyRoleAPI struct {
	srv    *httptest.Server
	refuse bool
	reads  atomic.Int64

	mu       sync.Mutex
	roles    []string
	list     func(w http.ResponseWriter) // nil: the roles as JSON
	callback string
	deleted  []string
}

const rolePath = "/tmf-api/partyRoleManagement/v4"

// hubID is the listener id the fake hub gives: the Component chooses it,
// and it holds what a URL path must escape.
const hubID = "h1/x?y"

func startPartyRoleAPI(t *testing.T, refuse bool, roles ...string) *fakePartyRoleAPI {
	t.Helper()
	f := &fakePartyRoleAPI{refuse: refuse, roles: roles}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+rolePath+"/partyRole", func(w http.ResponseWriter, r *http.Request) {
		f.reads.Add(1)
		f.mu.Lock()
		list, roles := f.list, slices.Clone(f.roles)
		f.mu.Unlock()
		if list != nil {
			list(w)
			return
		}
		out := []map[string]string{}
		for i, name := range roles {
			out = append(out, map[string]string{"id": fmt.Sprint(i), "href": rolePath + "/partyRole/" + fmt.Sprint(i), "name": name, "@type": "PartyRole"})
		}
		w.Header().Set("Content-Type", "application/json;charset=utf-8")
		_ = json.NewEncoder(w).Encode(out)
	})
	mux.HandleFunc("POST "+rolePath+"/hub", func(w http.ResponseWriter, r *http.Request) {
		if f.refuse {
			http.Error(w, "no hub here", http.StatusNotImplemented)
			return
		}
		var body struct {
			Callback string `json:"callback"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Callback == "" {
			http.Error(w, "want {callback}", http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.callback = body.Callback
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]string{"id": hubID, "callback": body.Callback})
	})
	mux.HandleFunc("DELETE "+rolePath+"/hub/{id}", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.deleted = append(f.deleted, r.PathValue("id"))
		f.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakePartyRoleAPI) url() string { return f.srv.URL + rolePath }

func (f *fakePartyRoleAPI) callbackURL() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.callback
}

// emit posts a TMF669 event about role to the listener's callback.
func (f *fakePartyRoleAPI) emit(t *testing.T, eventType, role string) int {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"eventId": "e1", "eventType": eventType,
		"event": map[string]any{"partyRole": map[string]string{"name": role, "@baseType": "PartyRole", "href": rolePath + "/partyRole/9"}}})
	return post(t, f.callbackURL(), "application/json", body)
}

func post(t *testing.T, url, contentType string, body []byte) int {
	t.Helper()
	resp, err := http.Post(url, contentType, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func withRoleAPI(ns, name string) *oda.Component {
	c := secured(ns, name)
	c.Spec.SecurityFunction.ExposedAPIs = []oda.ExposedAPI{{Name: "partyrole", Path: "/" + name + rolePath}}
	return c
}

type roleEnv struct {
	env   *embeddedEnv
	l     *RoleListener
	canvz *httptest.Server // canvasd's callback endpoint
}

func startRoleListener(t *testing.T, poll time.Duration) *roleEnv {
	t.Helper()
	env := startIssuer(t, "", IssuerOptions{})
	mux := http.NewServeMux()
	canvasd := httptest.NewServer(mux)
	t.Cleanup(canvasd.Close)
	l, err := NewRoleListener(RoleListenerOptions{
		Apply: ComponentClients{Issuer: env.is}, CallbackURL: canvasd.URL + RoleEventsPath,
		Token: env.is.TokenSource(SystemClient).AccessToken, Poll: poll, Logger: testkit.Logger(t, zapcore.DebugLevel),
	})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle(RoleEventsPath+"/", l.Handler())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = l.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return &roleEnv{env: env, l: l, canvz: canvasd}
}

// tokenRoles are the roles of a fresh token of client for audience, as
// Verify sees them.
func (e *roleEnv) tokenRoles(t *testing.T, client, audience string) []string {
	t.Helper()
	ctx := context.Background()
	tok, err := e.env.is.TokenSource(client).AccessToken(ctx, audience)
	if err != nil {
		t.Fatal(err)
	}
	c, err := e.env.is.Verifier().ForAudience(audience).Verify(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(c.Roles)
	return c.Roles
}

// waitRoles waits until Follow reports want (in any order) and updates.
func (e *roleEnv) waitRoles(t *testing.T, c *oda.Component, url string, want []string, updates string) {
	t.Helper()
	want = sorted(want)
	testkit.WaitFor(t, 10*time.Second, fmt.Sprintf("dynamic roles %v by %s", want, updates), func() bool {
		roles, listener, up := e.l.Follow(c, "partyrole", url)
		slices.Sort(roles)
		return slices.Equal(roles, want) && up == updates && listener == (updates == RoleUpdatesHub)
	})
}

// The roles a Component's partyRole API lists become roles of its client
// (a token of a client granted one carries it); create and delete events
// on the registered listener add and remove them; hostile lists and
// events change nothing.
func TestRoleListenerFollowsPartyRoleAPI(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := startRoleListener(t, time.Minute)
	api := startPartyRoleAPI(t, false, "Seller", "Buyer")
	c := withRoleAPI(oda.DefaultNamespace, "catalog")
	if _, err := (ComponentClients{Issuer: e.env.is}).Configure(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := e.env.is.Grant(ctx, "caller", "catalog", "Seller", "Manager", "reader"); err != nil {
		t.Fatal(err)
	}
	if got := e.tokenRoles(t, "caller", "catalog"); !slices.Equal(got, []string{"reader"}) {
		t.Fatalf("before the role API was read, the token carries %v, want only the componentRole reader", got)
	}

	e.waitRoles(t, c, api.url(), []string{"Buyer", "Seller"}, RoleUpdatesHub)
	if !strings.HasPrefix(api.callbackURL(), e.canvz.URL+RoleEventsPath+"/") || len(api.callbackURL()) < len(e.canvz.URL+RoleEventsPath)+40 {
		t.Fatalf("callback %q: want canvasd's endpoint and a long token", api.callbackURL())
	}
	if got := e.tokenRoles(t, "caller", "catalog"); !slices.Equal(got, []string{"Seller", "reader"}) {
		t.Fatalf("token roles %v, want [Seller reader]", got)
	}
	// A reconcile registers the componentRole again: the dynamic roles stay.
	if _, err := (ComponentClients{Issuer: e.env.is}).Configure(ctx, c); err != nil {
		t.Fatal(err)
	}
	if got := e.tokenRoles(t, "caller", "catalog"); !slices.Equal(got, []string{"Seller", "reader"}) {
		t.Fatalf("after Configure again the token carries %v, want [Seller reader]", got)
	}

	if code := api.emit(t, "PartyRoleCreateEvent", "Manager"); code != http.StatusNoContent {
		t.Fatalf("create event: %d", code)
	}
	e.waitRoles(t, c, api.url(), []string{"Buyer", "Manager", "Seller"}, RoleUpdatesHub)
	if got := e.tokenRoles(t, "caller", "catalog"); !slices.Equal(got, []string{"Manager", "Seller", "reader"}) {
		t.Fatalf("after the create event the token carries %v", got)
	}
	if code := api.emit(t, "PartyRoleRemoveNotification", "Seller"); code != http.StatusNoContent {
		t.Fatalf("remove event: %d", code)
	}
	e.waitRoles(t, c, api.url(), []string{"Buyer", "Manager"}, RoleUpdatesHub)
	if got := e.tokenRoles(t, "caller", "catalog"); !slices.Equal(got, []string{"Manager", "reader"}) {
		t.Fatalf("after the delete event the token carries %v", got)
	}

	// Hostile lists, read again on a change event: each is refused.
	hostile := map[string]func(w http.ResponseWriter){
		"huge body": func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`[{"name":"` + strings.Repeat("A", maxRoleList) + `"}]`))
		},
		"wrong JSON": func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"name":"Root"}`))
		},
		"wrong content": func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write([]byte(`[{"name":"Root"}]`))
		},
		"bad name": func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`[{"name":"Root"},{"name":"a\nb"}]`))
		},
		"no name": func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`[{"name":"Root"},{"id":"2"}]`))
		},
	}
	for what, list := range hostile {
		api.mu.Lock()
		api.list = list
		api.mu.Unlock()
		before := api.reads.Load()
		if code := api.emit(t, "PartyRoleAttributeValueChangeEvent", "Buyer"); code != http.StatusNoContent {
			t.Fatalf("%s: change event: %d", what, code)
		}
		testkit.WaitFor(t, 10*time.Second, what+": list read again", func() bool { return api.reads.Load() > before })
		// Events are applied in order: once this one shows, the hostile
		// list was handled.
		marker := "After" + strings.ReplaceAll(what, " ", "")
		if code := api.emit(t, "PartyRoleCreateEvent", marker); code != http.StatusNoContent {
			t.Fatalf("%s: create event: %d", what, code)
		}
		e.waitRoles(t, c, api.url(), []string{"Buyer", "Manager", marker}, RoleUpdatesHub)
		if code := api.emit(t, "PartyRoleDeleteEvent", marker); code != http.StatusNoContent {
			t.Fatalf("%s: delete event: %d", what, code)
		}
		e.waitRoles(t, c, api.url(), []string{"Buyer", "Manager"}, RoleUpdatesHub)
	}

	// Hostile events: refused at the door.
	cb := api.callbackURL()
	event := func(eventType, baseType, name string) []byte {
		b, _ := json.Marshal(map[string]any{"eventType": eventType, "event": map[string]any{"partyRole": map[string]string{"name": name, "@baseType": baseType}}})
		return b
	}
	for _, tc := range []struct {
		what, url, contentType string
		body                   []byte
		want                   int
	}{
		{"unknown token", e.canvz.URL + RoleEventsPath + "/not-a-token", "application/json", event("PartyRoleCreateEvent", "PartyRole", "Root"), http.StatusNotFound},
		{"no token", e.canvz.URL + RoleEventsPath + "/", "application/json", event("PartyRoleCreateEvent", "PartyRole", "Root"), http.StatusNotFound},
		{"wrong content type", cb, "text/plain", event("PartyRoleCreateEvent", "PartyRole", "Root"), http.StatusBadRequest},
		{"garbage", cb, "application/json", []byte("{{{"), http.StatusBadRequest},
		{"huge", cb, "application/json", event("PartyRoleCreateEvent", "PartyRole", strings.Repeat("R", maxRoleEvent)), http.StatusBadRequest},
		{"other resource", cb, "application/json", []byte(`{"eventType":"PartyRoleCreateEvent","event":{"party":{"name":"Root"}}}`), http.StatusBadRequest},
		{"wrong base type", cb, "application/json", event("PartyRoleCreateEvent", "Individual", "Root"), http.StatusBadRequest},
		{"other event type", cb, "application/json", event("ProductCreateEvent", "PartyRole", "Root"), http.StatusBadRequest},
		{"control character", cb, "application/json", event("PartyRoleCreateEvent", "PartyRole", "Ro\x00ot"), http.StatusBadRequest},
		{"empty name", cb, "application/json", event("PartyRoleCreateEvent", "PartyRole", ""), http.StatusBadRequest},
	} {
		if got := post(t, tc.url, tc.contentType, tc.body); got != tc.want {
			t.Errorf("%s: status %d, want %d", tc.what, got, tc.want)
		}
	}
	if roles, _, _ := e.l.Follow(c, "partyrole", api.url()); slices.Contains(roles, "Root") {
		t.Fatalf("a hostile event added Root: %v", roles)
	}
	if got := e.tokenRoles(t, "caller", "catalog"); !slices.Equal(got, []string{"Manager", "reader"}) {
		t.Fatalf("after hostile input the token carries %v", got)
	}

	// Forget unregisters the listener; its token no longer binds.
	e.l.Forget(c.Metadata.Namespace, c.Metadata.Name)
	testkit.WaitFor(t, 10*time.Second, "listener unregistered", func() bool {
		api.mu.Lock()
		defer api.mu.Unlock()
		return slices.Equal(api.deleted, []string{hubID})
	})
	if got := api.emit(t, "PartyRoleCreateEvent", "Late"); got != http.StatusNotFound {
		t.Fatalf("event after Forget: %d, want 404", got)
	}
}

// A hub that refuses the listener leaves listenerRegistered false and
// the list is polled instead.
func TestRoleListenerPollsWhenTheHubRefuses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := startRoleListener(t, 100*time.Millisecond)
	api := startPartyRoleAPI(t, true, "Seller")
	c := withRoleAPI("shop", "orders")
	if _, err := (ComponentClients{Issuer: e.env.is}).Configure(ctx, c); err != nil {
		t.Fatal(err)
	}
	e.waitRoles(t, c, api.url(), []string{"Seller"}, RoleUpdatesPolling)
	api.mu.Lock()
	api.roles = []string{"Seller", "Auditor"}
	api.mu.Unlock()
	e.waitRoles(t, c, api.url(), []string{"Auditor", "Seller"}, RoleUpdatesPolling)
	if err := e.env.is.Grant(ctx, "caller", "shop.orders", "Auditor"); err != nil {
		t.Fatal(err)
	}
	if got := e.tokenRoles(t, "caller", "shop.orders"); !slices.Equal(got, []string{"Auditor"}) {
		t.Fatalf("token roles %v", got)
	}
}

func TestParseRoleList(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		body string
		want []string
		ok   bool
	}{
		{`[]`, []string{}, true},
		{`[{"name":"A"},{"name":"B"},{"name":"A"}]`, []string{"A", "B"}, true},
		{`[{"name":"A"},{"name":" B"}]`, nil, false},
		{`[{"name":"` + strings.Repeat("x", maxRoleName+1) + `"}]`, nil, false},
		{`[{"name":7}]`, nil, false},
		{`null`, []string{}, true},
		{`"x"`, nil, false},
		{`[` + strings.Repeat(`{"name":"r"},`, maxRoles) + `{"name":"r"}]`, nil, false},
	} {
		got, err := parseRoleList([]byte(tc.body))
		if (err == nil) != tc.ok || !slices.Equal(got, tc.want) {
			t.Errorf("%.40s: %v %v", tc.body, got, err)
		}
	}
}
