package translate

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/wasmcanvas/wasmcanvas/pkg/gateway/policy"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm"
)

// Annotations and labels written on (or read from) Components and
// manifests.
const (
	// AnnotationProvenance maps each manifest part to the ODA field path it
	// came from (a JSON object, keys like "components/ingress/traits/0").
	AnnotationProvenance = "wasmcanvas.io/provenance"
	// AnnotationInstances sets the spreadscaler instance count (default 1).
	AnnotationInstances = "wasmcanvas.io/instances"
	// AnnotationSites spreads instances evenly over hosts labelled
	// site=NAME, for a comma-separated list of site names.
	AnnotationSites = "wasmcanvas.io/sites"
	// AnnotationSpread gives wadm spread entries as JSON:
	// [{"name":"edge-1","requirements":{"site":"edge-1"},"weight":50}].
	AnnotationSpread = "wasmcanvas.io/spread"

	// LabelComponentName is the reference canvas's label tying resources
	// to their Component.
	LabelComponentName = "oda.tmforum.org/componentName"
	// LabelNamespace records the Component's namespace on the manifest.
	LabelNamespace = "wasmcanvas.io/namespace"
	// AnnotationAPIVersion records the Component apiVersion translated.
	AnnotationAPIVersion = "oda.tmforum.org/apiVersion"
	// AnnotationComponentID and AnnotationComponentVersion copy
	// spec.componentMetadata.id and .version.
	AnnotationComponentID      = "oda.tmforum.org/componentId"
	AnnotationComponentVersion = "oda.tmforum.org/componentVersion"

	// SiteLabel is the host label AnnotationSites and a placement's sites
	// match.
	SiteLabel = oda.SiteLabel
)

// Names of the shared components of the system application.
const (
	DefaultSystemApp = "wasmcanvas-system"
	IngressName      = "http-ingress"
	HTTPClientName   = "http-client"
	MessagingName    = "messaging"
	BridgeName       = "canvas-bridge"
	KeyValueName     = "keyvalue"
)

// The WIT interfaces the links use.
var (
	ifaceIncoming = witIface{"wasi", "http", "incoming-handler"}
	ifaceOutgoing = witIface{"wasi", "http", "outgoing-handler"}
	ifaceConsumer = witIface{"wasmcloud", "messaging", "consumer"}
	ifaceHandler  = witIface{"wasmcloud", "messaging", "handler"}
	ifaceIdentity = witIface{"wasmcanvas", "identity", "tokens"}
	ifaceKeyValue = []string{"store", "atomics"}
	// ifaceObservers are the interfaces of wasmcanvas:observe@0.2.0 that
	// canvas-bridge serves: the imports of its world `observed`
	// (wit/observe.wit; a test keeps the two the same).
	ifaceObservers = []string{"metrics", "tracing", "logging"}
	ifaceObserve   = witIface{namespace: "wasmcanvas", pkg: "observe"} // the package of ifaceObservers
)

type witIface struct{ namespace, pkg, iface string }

// Options are the inputs of a translation besides the Component.
type Options struct {
	// Implementations maps implementation names to Wasm artefacts (an OCI
	// reference or an absolute file:// path). Entries here override the
	// Component's wasmcanvas.io/implementations annotation.
	Implementations map[string]string
	// SystemApp is the shared application holding the ingress, HTTP client,
	// messaging provider and canvas-bridge (default DefaultSystemApp).
	SystemApp string
}

// Keys of the "oda" config every implementation's manifest component gets
// (its wasi:config values): which ODA Component and implementation it is.
const (
	ConfigComponent      = "oda.component"
	ConfigNamespace      = "oda.namespace"
	ConfigImplementation = "oda.implementation"
)

// AppName is the wadm application name of a Component: {namespace}-{name},
// the namespace defaulted as Parse does.
func AppName(c *oda.Component) string { return KeyAppName(c.Key()) }

// KeyAppName is the wadm application name of the Component with key k:
// what AppName gives for it, also when only the key is left (after a
// delete).
func KeyAppName(k oda.Key) string { return k.Namespace + "-" + k.Name }

// Bucket is the keyvalue bucket of one implementation of a Component: a
// JetStream KV bucket name ([A-Za-z0-9_-]), unique per namespace,
// Component and implementation.
func Bucket(c *oda.Component, impl string) string {
	return "kv_" + strings.ReplaceAll(linkName(AppName(c)+"_"+impl), "-", "_")
}

// Component translates c (a v1 Component, as oda.Parse returns it) into a
// wadm manifest. Every problem is reported at once as an oda.ErrorList
// naming the ODA field path and the fix.
func Component(c *oda.Component, opts Options) (*wadm.Manifest, error) {
	t := &translator{c: c, opts: opts, prov: make([]provEntry, 0, 32)}
	if t.opts.SystemApp == "" {
		t.opts.SystemApp = DefaultSystemApp
	}
	m := t.run()
	if len(t.errs) > 0 {
		return nil, t.errs
	}
	return m, nil
}

type translator struct {
	c     *oda.Component
	opts  Options
	errs  oda.ErrorList
	prov  []provEntry
	impls map[string]string // resolved artefacts

	comps    []*wadm.Component
	byName   map[string]*wadm.Component
	scale    wadm.ScalerProperties
	external map[string]*wadm.Component
}

func (t *translator) fail(path, msg, fix string) {
	t.errs = append(t.errs, oda.FieldError{Path: path, Msg: msg, Fix: fix})
}

// api is an exposed API with its resolved implementation, path and port.
type api struct {
	path    string // ODA field path of the API entry
	name    string
	impl    string
	route   string
	apiType string // the ODA apiType, e.g. openapi or prometheus
	policy  policy.Spec
}

func (t *translator) run() *wadm.Manifest {
	c := t.c
	t.byName = map[string]*wadm.Component{}
	t.external = map[string]*wadm.Component{}
	t.impls = t.implementations()
	t.scale = t.placement()

	spec := c.Spec
	// Every exposed API's route policy lists all the component roles:
	// bounded before the policies are made.
	if !t.replicable(exposedCount(spec), "exposed APIs", rolesSize(spec.SecurityFunction), "spec.securityFunction.componentRole", "security policy (the component roles)", "component roles") {
		return nil
	}
	var exposed []api
	if spec.CoreFunction != nil {
		exposed = append(exposed, t.exposed("spec.coreFunction.exposedAPIs", spec.CoreFunction.ExposedAPIs)...)
	}
	if spec.ManagementFunction != nil {
		exposed = append(exposed, t.exposed("spec.managementFunction.exposedAPIs", spec.ManagementFunction.ExposedAPIs)...)
	}
	if spec.SecurityFunction != nil {
		exposed = append(exposed, t.exposed("spec.securityFunction.exposedAPIs", spec.SecurityFunction.ExposedAPIs)...)
	}
	for _, a := range exposed {
		t.implComponent(a.impl, a.path+".implementation")
	}
	pubs, subs := t.events()

	// Links from each implementation to the services its functions need.
	implNames := make([]string, 0, len(t.comps))
	for _, comp := range t.comps {
		implNames = append(implNames, comp.Name)
	}
	// Every implementation gets its own keyvalue bucket: the ODA spec does
	// not say which components keep state, and a link a component does not
	// use costs nothing.
	if len(implNames) > 0 {
		kv := t.shared(KeyValueName, "spec (every implementation gets a keyvalue bucket)")
		for _, n := range implNames {
			t.link(n, wadm.LinkProperties{
				Namespace: "wasi", Package: "keyvalue", Interfaces: slices.Clone(ifaceKeyValue),
				Target: wadm.LinkTarget{Name: kv.Name, Config: []wadm.ConfigProperty{{Name: "bucket-" + n, Properties: map[string]string{"bucket": Bucket(t.c, n)}}}},
			}, "spec (keyvalue for "+n+")")
		}
	}
	deps := t.dependencies()
	if !t.replicable(len(implNames), "implementations", configSize(deps), t.dependentAPIsPath(), "config of the dependent APIs", "dependent APIs") {
		deps = nil
	}
	if len(deps) > 0 {
		client := t.shared(HTTPClientName, "spec.coreFunction.dependentAPIs")
		for _, n := range implNames {
			t.link(n, wadm.LinkProperties{
				Namespace: ifaceOutgoing.namespace, Package: ifaceOutgoing.pkg, Interfaces: []string{ifaceOutgoing.iface},
				Target: wadm.LinkTarget{Name: client.Name},
			}, "dependentAPIs")
			comp := t.byName[n]
			comp.Properties.Config = append(comp.Properties.Config, wadm.ConfigProperty{Name: "dependencies", Properties: deps})
		}
	}
	if sec := spec.SecurityFunction; sec != nil && (sec.CanvasSystemRole != "" || len(sec.ExposedAPIs) > 0 || len(sec.ComponentRole) > 0) {
		if identity := t.identityConfig(); t.replicable(len(implNames), "implementations", configSize(identity), "spec.securityFunction.componentRole", "identity config (the component roles)", "component roles") {
			bridge := t.shared(BridgeName, "spec.securityFunction")
			for _, n := range implNames {
				t.link(n, wadm.LinkProperties{
					Namespace: ifaceIdentity.namespace, Package: ifaceIdentity.pkg, Interfaces: []string{ifaceIdentity.iface},
					Target: wadm.LinkTarget{Name: bridge.Name, Config: []wadm.ConfigProperty{{Name: "identity", Properties: maps.Clone(identity)}}},
				}, "spec.securityFunction")
			}
		}
	}
	if mf := spec.ManagementFunction; mf != nil && (len(mf.ExposedAPIs) > 0 || len(mf.DependentAPIs) > 0) {
		bridge := t.shared(BridgeName, "spec.managementFunction")
		for _, n := range implNames {
			t.link(n, wadm.LinkProperties{
				Namespace: ifaceObserve.namespace, Package: ifaceObserve.pkg, Interfaces: slices.Clone(ifaceObservers),
				Target: wadm.LinkTarget{Name: bridge.Name},
			}, "spec.managementFunction")
		}
	}
	for _, p := range pubs {
		msg := t.shared(MessagingName, "spec.eventNotification.publishedEvents")
		t.link(p.impl, wadm.LinkProperties{
			Namespace: ifaceConsumer.namespace, Package: ifaceConsumer.pkg, Interfaces: []string{ifaceConsumer.iface},
			Name:   linkName(p.name),
			Target: wadm.LinkTarget{Name: msg.Name, Config: []wadm.ConfigProperty{{Name: "publish-" + p.name, Properties: map[string]string{"subject": subject.ODAEvent(p.name)}}}},
		}, p.path)
	}
	for _, s := range subs {
		msg := t.shared(MessagingName, "spec.eventNotification.subscribedEvents")
		t.link(msg.Name, wadm.LinkProperties{
			Namespace: ifaceHandler.namespace, Package: ifaceHandler.pkg, Interfaces: []string{ifaceHandler.iface},
			Name:   linkName(AppName(t.c) + "-" + s.name),
			Source: &wadm.ConfigDefinition{Config: []wadm.ConfigProperty{{Name: "subscribe-" + s.name, Properties: map[string]string{"subscriptions": subject.ODAEvent(s.name)}}}},
			Target: wadm.LinkTarget{Name: s.impl},
		}, s.path)
	}
	if len(exposed) > 0 {
		ingress := t.shared(IngressName, "spec.*.exposedAPIs")
		for _, a := range exposed {
			route := map[string]string{routePath: a.route}
			if a.apiType != "" {
				route[routeAPIType] = a.apiType
			}
			if !a.policy.Empty() {
				route[routePolicy] = a.policy.Encode()
			}
			t.link(ingress.Name, wadm.LinkProperties{
				Namespace: ifaceIncoming.namespace, Package: ifaceIncoming.pkg, Interfaces: []string{ifaceIncoming.iface},
				Name:   linkName(AppName(t.c) + "-" + a.name),
				Source: &wadm.ConfigDefinition{Config: []wadm.ConfigProperty{{Name: routeConfigPrefix + a.name, Properties: route}}},
				Target: wadm.LinkTarget{Name: a.impl},
			}, a.path)
		}
	}
	if len(t.errs) > 0 {
		return nil
	}
	return t.manifest()
}

// exposed resolves implementation, path and port of each exposed API, at
// the API root or (v1 after GA) in specification[0].
func (t *translator) exposed(base string, apis []oda.ExposedAPI) []api {
	var out []api
	for i, e := range apis {
		p := fmt.Sprintf("%s[%d]", base, i)
		impl, route := e.EffectiveImplementation(), e.EffectivePath()
		if impl == "" {
			t.fail(p+".implementation", "no implementation named for exposed API "+strconv.Quote(e.Name),
				"set implementation at the API root or in specification[0]")
			continue
		}
		if route == "" {
			t.fail(p+".path", "no path for exposed API "+strconv.Quote(e.Name), `set path (e.g. "/<component>/tmf-api/<api>/v4")`)
			continue
		}
		spec, err := policy.ForAPI(t.c, &apis[i], p)
		var fe oda.ErrorList
		if errors.As(err, &fe) {
			t.errs = append(t.errs, fe...)
			continue
		}
		out = append(out, api{path: p, name: e.Name, impl: impl, route: route, apiType: e.EffectiveAPIType(), policy: spec})
	}
	return out
}

type event struct {
	path, name, impl string
}

// events maps published and subscribed events to the implementation that
// handles them: the one named in the event's specification[0], else every
// implementation of the component.
func (t *translator) events() (pubs, subs []event) {
	en := t.c.Spec.EventNotification
	if en == nil {
		return nil, nil
	}
	for i, e := range en.PublishedEvents {
		impl := ""
		if len(e.Specification) > 0 {
			impl = e.Specification[0].Implementation
		}
		pubs = t.eventTargets(pubs, fmt.Sprintf("spec.eventNotification.publishedEvents[%d]", i), e.Name, impl)
	}
	for i, e := range en.SubscribedEvents {
		impl := ""
		if len(e.Specification) > 0 {
			impl = e.Specification[0].Implementation
		}
		subs = t.eventTargets(subs, fmt.Sprintf("spec.eventNotification.subscribedEvents[%d]", i), e.Name, impl)
	}
	return pubs, subs
}

// eventTargets appends the implementations handling one event.
func (t *translator) eventTargets(out []event, path, name, impl string) []event {
	if impl != "" {
		t.implComponent(impl, path+".specification[0].implementation")
		return append(out, event{path: path, name: name, impl: impl})
	}
	for _, comp := range t.comps {
		out = append(out, event{path: path, name: name, impl: comp.Name})
	}
	return out
}

// MaxReplicatedConfigBytes bounds what the manifest repeats: the config
// each implementation of a Component gets a copy of (its dependent APIs',
// its identity config) times the implementations, and the component roles
// each exposed API's route policy lists times the exposed APIs. A few
// thousand implementations and as many dependent APIs, a Component of a
// megabyte, would otherwise make a manifest of gigabytes. It is the
// largest Component (oda.MaxFileSize); the manifests of real Components
// carry a few kilobytes of copies.
const MaxReplicatedConfigBytes = oda.MaxFileSize

// replicable reports whether n carriers (implementations, routes) may
// each carry a copy of what, size bytes, else fails path with what the
// copies would weigh and the fix: fewer carriers or fewer of what the
// copy is made of (fewer).
func (t *translator) replicable(n int, carriers string, size int, path, what, fewer string) bool {
	if n*size <= MaxReplicatedConfigBytes {
		return true
	}
	t.fail(path, fmt.Sprintf("each of the %d %s would carry the %s (%d bytes), %d MB in all, over the manifest's limit of %d MB",
		n, carriers, what, size, n*size>>20, MaxReplicatedConfigBytes>>20),
		fmt.Sprintf("split the Component, or give it fewer %s or %s", carriers, fewer))
	return false
}

// exposedCount is how many exposed APIs the Component's functions have.
func exposedCount(spec oda.ComponentSpec) int {
	n := 0
	if spec.CoreFunction != nil {
		n += len(spec.CoreFunction.ExposedAPIs)
	}
	if spec.ManagementFunction != nil {
		n += len(spec.ManagementFunction.ExposedAPIs)
	}
	if spec.SecurityFunction != nil {
		n += len(spec.SecurityFunction.ExposedAPIs)
	}
	return n
}

// configSize is about what cfg weighs in a manifest.
func configSize(cfg map[string]string) int {
	size := 0
	for k, v := range cfg {
		size += len(k) + len(v) + 8 // quotes, colon, comma, indentation
	}
	return size
}

// rolesSize is about what the component roles weigh in one exposed API's
// route policy, which lists them all.
func rolesSize(sec *oda.SecurityFunction) int {
	if sec == nil {
		return 0
	}
	size := len(sec.CanvasSystemRole)
	for _, r := range sec.ComponentRole {
		size += len(r.Name) + 3 // quotes, comma
	}
	return size
}

// dependentAPIsPath is the dependentAPIs list of the function that has
// the most: where an error about all of them points.
func (t *translator) dependentAPIsPath() string {
	spec := t.c.Spec
	path, most := "spec.coreFunction.dependentAPIs", 0
	if f := spec.CoreFunction; f != nil {
		most = len(f.DependentAPIs)
	}
	if f := spec.ManagementFunction; f != nil && len(f.DependentAPIs) > most {
		path, most = "spec.managementFunction.dependentAPIs", len(f.DependentAPIs)
	}
	if f := spec.SecurityFunction; f != nil && len(f.DependentAPIs) > most {
		path = "spec.securityFunction.dependentAPIs"
	}
	return path
}

// dependencies lists every dependent API of every function as config
// entries: dependency.<name>.specification is the first specification URL
// (the status reports the resolved URL once the canvas finds a provider).
func (t *translator) dependencies() map[string]string {
	spec := t.c.Spec
	var all []oda.DependentAPI
	if spec.CoreFunction != nil {
		all = append(all, spec.CoreFunction.DependentAPIs...)
	}
	if spec.ManagementFunction != nil {
		all = append(all, spec.ManagementFunction.DependentAPIs...)
	}
	if spec.SecurityFunction != nil {
		all = append(all, spec.SecurityFunction.DependentAPIs...)
	}
	if len(all) == 0 {
		return nil
	}
	deps := map[string]string{}
	for _, d := range all {
		url := ""
		if len(d.Specification) > 0 {
			url = d.Specification[0].URL
		}
		deps["dependency."+d.Name+".specification"] = url
		if d.ID != "" {
			deps["dependency."+d.Name+".id"] = d.ID
		}
	}
	return deps
}

// The identity link's target config keys that name the ODA Component,
// which canvas-bridge's wasmcanvas:identity (pkg/bridge/identityrpc)
// serves a caller as: its client, roles and tokens are that Component's.
const (
	IdentityConfigNamespace = "namespace"
	IdentityConfigComponent = "component"
)

func (t *translator) identityConfig() map[string]string {
	sec := t.c.Spec.SecurityFunction
	cfg := map[string]string{IdentityConfigNamespace: namespace(t.c), IdentityConfigComponent: t.c.Metadata.Name}
	if sec.CanvasSystemRole != "" {
		cfg["canvasSystemRole"] = sec.CanvasSystemRole
	}
	roles := make([]string, 0, len(sec.ComponentRole))
	for _, r := range sec.ComponentRole {
		roles = append(roles, r.Name)
	}
	if len(roles) > 0 {
		cfg["componentRoles"] = strings.Join(roles, ",")
	}
	for _, e := range sec.ExposedAPIs {
		switch e.Name {
		case "partyrole", "userrolesandpermissions":
			cfg["roleAPI"] = e.Name
		}
	}
	return cfg
}

// msgNoArtefact starts the error for an implementation without an artefact.
const msgNoArtefact = "no Wasm artefact for implementation"

// InputErrors keeps the errors of a translation that are faults of the
// Component itself and drops those that only say an implementation has no
// Wasm artefact yet: a canvas accepts such a Component and reports the
// missing artefact in its status, as the reference canvas accepts a
// Component whose Service does not exist yet. Nil when nothing is left.
func InputErrors(err error) error {
	var list oda.ErrorList
	if !errors.As(err, &list) {
		return err
	}
	var out oda.ErrorList
	for _, fe := range list {
		if !strings.HasPrefix(fe.Msg, msgNoArtefact) {
			out = append(out, fe)
		}
	}
	return out.Err()
}

// MissingImplementations is the complement of InputErrors: the errors of
// a translation that only say an implementation has no Wasm artefact yet,
// which a canvas stores as Failed (`canvas validate` warns about them).
func MissingImplementations(err error) oda.ErrorList {
	var list oda.ErrorList
	if !errors.As(err, &list) {
		return nil
	}
	var out oda.ErrorList
	for _, fe := range list {
		if strings.HasPrefix(fe.Msg, msgNoArtefact) {
			out = append(out, fe)
		}
	}
	return out
}

// MissingArtefactFix says how to provide a file:// artefact that does not
// exist: the repository's examples are built by `make examples`.
func MissingArtefactFix(path string) string {
	if strings.Contains(path, "/examples/") {
		return "build it with `make examples` (in the wasmcanvas repository)"
	}
	return "build the component there, or point the implementation at the .wasm file that exists"
}

// implComponent adds the Wasm component for an implementation once.
func (t *translator) implComponent(impl, path string) {
	if _, ok := t.byName[impl]; ok {
		return
	}
	image, ok := t.impls[impl]
	if !ok {
		t.fail(path, fmt.Sprintf(msgNoArtefact+" %q", impl),
			fmt.Sprintf(`add "%s": "<oci reference or file:///path/to.wasm>" to the %s annotation or to the --implementations file`, impl, oda.AnnotationImplementations))
		t.byName[impl] = nil
		return
	}
	comp := &wadm.Component{
		Name: impl,
		Type: wadm.ComponentTypeComponent,
		Properties: wadm.Properties{
			Image: image,
			Config: []wadm.ConfigProperty{{Name: "oda", Properties: map[string]string{
				ConfigComponent:      t.c.Metadata.Name,
				ConfigNamespace:      namespace(t.c),
				ConfigImplementation: impl,
			}}},
		},
		// Room for the scaler and the usual links (keyvalue, identity,
		// observability, outgoing HTTP) without regrowing.
		Traits: append(make([]wadm.Trait, 0, 6), wadm.Trait{Type: wadm.TraitSpreadScaler, Scaler: &wadm.ScalerProperties{Instances: t.scale.Instances, Spread: t.scale.Spread}}),
	}
	t.prov = append(t.prov, provEntry{"components/" + impl, path}, provEntry{"components/" + impl + "/traits/0", t.placementSource()})
	t.comps = append(t.comps, comp)
	t.byName[impl] = comp
}

// provEntry is one provenance record: a manifest part and the ODA field it
// came from. A later record for the same part replaces an earlier one.
type provEntry struct{ key, path string }

// provenanceJSON encodes the provenance records as a JSON object with
// sorted keys (deterministic), without json.Marshal's reflection, which was
// a tenth of a translation, or a map, which was another.
func provenanceJSON(prov []provEntry) string {
	slices.SortStableFunc(prov, func(a, b provEntry) int { return strings.Compare(a.key, b.key) })
	n := 2
	for _, e := range prov {
		n += len(e.key) + len(e.path) + 6
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteByte('{')
	for i, e := range prov {
		if i+1 < len(prov) && prov[i+1].key == e.key {
			continue // the later record wins
		}
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		writeJSONString(&b, e.key)
		b.WriteByte(':')
		writeJSONString(&b, e.path)
	}
	b.WriteByte('}')
	return b.String()
}

// writeJSONString writes s as a JSON string. Invalid UTF-8 takes
// encoding/json's path, which replaces it as json.Marshal does.
func writeJSONString(b *strings.Builder, s string) {
	if !utf8.ValidString(s) {
		q, _ := json.Marshal(s) // a string always marshals
		b.Write(q)
		return
	}
	const hexDigits = "0123456789abcdef"
	b.WriteByte('"')
	if !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == '"' || r == '\\' }) {
		b.WriteString(s)
		b.WriteByte('"')
		return
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0xf])
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
}

// placementSource names where the spreadscaler settings came from.
func (t *translator) placementSource() string {
	var keys []string
	for _, k := range []string{oda.AnnotationPlacement, AnnotationInstances, AnnotationSites, AnnotationSpread} {
		if _, ok := t.c.Metadata.Annotations[k]; ok {
			keys = append(keys, fmt.Sprintf("metadata.annotations[%q]", k))
		}
	}
	if len(keys) == 0 {
		return "default placement (1 instance)"
	}
	return strings.Join(keys, ",")
}

// shared adds a reference to a component of the system application once.
func (t *translator) shared(name, path string) *wadm.Component {
	if c, ok := t.external[name]; ok {
		return c
	}
	c := &wadm.Component{
		Name:       name,
		Type:       wadm.ComponentTypeCapability,
		Properties: wadm.Properties{Application: &wadm.SharedApplication{Name: t.opts.SystemApp, Component: name}},
	}
	t.prov = append(t.prov, provEntry{"components/" + name, path})
	t.external[name] = c
	t.byName[name] = c
	return c
}

func (t *translator) link(source string, l wadm.LinkProperties, path string) {
	comp := t.byName[source]
	if comp == nil || t.byName[l.Target.Name] == nil {
		return // a missing implementation was reported already
	}
	comp.Traits = append(comp.Traits, wadm.Trait{Type: wadm.TraitLink, Link: &l})
	t.prov = append(t.prov, provEntry{"components/" + source + "/traits/" + strconv.Itoa(len(comp.Traits)-1), path})
}

func (t *translator) manifest() *wadm.Manifest {
	c := t.c
	m := &wadm.Manifest{
		APIVersion: wadm.APIVersion,
		Kind:       wadm.Kind,
		Metadata: wadm.Metadata{
			Name: AppName(c),
			Annotations: map[string]string{
				AnnotationAPIVersion: c.APIVersion,
			},
			Labels: map[string]string{
				LabelComponentName: c.Metadata.Name,
				LabelNamespace:     namespace(c),
			},
		},
	}
	if md := c.Spec.ComponentMetadata; md != nil {
		if md.Description != "" {
			m.Metadata.Annotations[wadm.AnnotationDescription] = md.Description
		}
		if md.ID != "" {
			m.Metadata.Annotations[AnnotationComponentID] = md.ID
		}
		if md.Version != "" {
			m.Metadata.Annotations[AnnotationComponentVersion] = md.Version
		}
	}
	m.Spec.Components = make([]wadm.Component, 0, len(t.comps)+len(t.external))
	for _, comp := range t.comps {
		m.Spec.Components = append(m.Spec.Components, *comp)
	}
	for _, name := range sharedNames {
		if comp, ok := t.external[name]; ok {
			m.Spec.Components = append(m.Spec.Components, *comp)
		}
	}
	m.Metadata.Annotations[AnnotationProvenance] = provenanceJSON(t.prov)
	m.SetVersion(Version(m))
	return m
}

func namespace(c *oda.Component) string {
	if c.Metadata.Namespace == "" {
		return oda.DefaultNamespace
	}
	return c.Metadata.Namespace
}

// linkName makes a wasmCloud link name: lower case letters, digits, '-'
// and '_'. Link names must differ for links of one source over the same
// WIT package, so names carry the application and API name.
func linkName(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_')
	}) {
		return s // already a link name: no copy
	}
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// sortedKeys returns the keys of m in order.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
