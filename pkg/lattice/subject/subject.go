// Package subject owns every NATS subject, stream and KV bucket name
// wasmcanvas uses, so no other package spells one by hand (a test in this
// package greps the tree to keep it so). Upstream names follow wadm 0.21 and
// the wasmCloud 1.x control interface (shared reference WADM-API.md and
// CONTROL-INTERFACE.md).
//
// It is pure: names and the checks that keep a name one subject token, no
// I/O and no NATS import, so the pure core (pkg/translate, pkg/api/wire) may
// use it.
package subject

import (
	"fmt"
	"strconv"
	"strings"
)

// DefaultLattice is wasmCloud's default lattice name.
const DefaultLattice = "default"

// wadm: its API (request/reply; wadm queue-subscribes to {prefix}.>), the
// application status it publishes and its own events.
const (
	// WadmDefaultAPIPrefix is wadm's default --api-prefix.
	WadmDefaultAPIPrefix = "wadm.api"
	// WadmQueueGroup is the queue group wadm replicas share.
	WadmQueueGroup = "wadm_server"
	// WadmStatusStream keeps the last status message of each application.
	WadmStatusStream = "wadm_status"
	// WadmEventsStream keeps wadm's events.
	WadmEventsStream = "wadm_events"
	// WadmManifestBucket is the KV bucket wadm stores manifests in, one key
	// {lattice}-{name} per application.
	WadmManifestBucket = "wadm_manifests"

	wadmStatusPrefix = "wadm.status"
	wadmEventPrefix  = "wadm.evt"
)

// The wadm model operations: the token after {prefix}.{lattice}.model.
// WadmList is deprecated upstream (a bare JSON array reply); WadmGet without
// a name lists models in the current shape.
const (
	WadmPut      = "put"
	WadmGet      = "get"
	WadmList     = "list"
	WadmVersions = "versions"
	WadmDeploy   = "deploy"
	WadmUndeploy = "undeploy"
	WadmDelete   = "del"
	WadmStatus   = "status"
	WadmHistory  = "history"
)

// WadmModel is {prefix}.{lattice}.model.{op}[.{name}]; an empty prefix means
// WadmDefaultAPIPrefix and an empty name leaves the last token off (model.put,
// model.get as list).
func WadmModel(prefix, lattice, op, name string) string {
	if prefix == "" {
		prefix = WadmDefaultAPIPrefix
	}
	s := prefix + "." + lattice + ".model." + op
	if name != "" {
		s += "." + name
	}
	return s
}

// WadmLatticeAPI matches every wadm API request of lattice under prefix.
func WadmLatticeAPI(prefix, lattice string) string {
	if prefix == "" {
		prefix = WadmDefaultAPIPrefix
	}
	return prefix + "." + lattice + ".>"
}

// WadmAppStatus is where wadm publishes an application's status:
// wadm.status.{lattice}.{app}; app may be "*".
func WadmAppStatus(lattice, app string) string {
	return WadmAppStatusPrefix(lattice) + app
}

// WadmAppStatusPrefix is wadm.status.{lattice}. (with the trailing dot): what
// is left of a status subject once the application name is cut off.
func WadmAppStatusPrefix(lattice string) string {
	return wadmStatusPrefix + "." + lattice + "."
}

// WadmEvent is wadm.evt.{lattice}.{event}, e.g. manifest_published.
func WadmEvent(lattice, event string) string {
	return wadmEventPrefix + "." + lattice + "." + event
}

// WadmEventsAll and WadmStatusAll match wadm's events and application
// status of every lattice: the subjects of WadmEventsStream and
// WadmStatusStream.
const (
	WadmEventsAll = wadmEventPrefix + ".>"
	WadmStatusAll = wadmStatusPrefix + ".>"
)

// The canvas's own API, served as a NATS micro service.
const (
	CanvasServiceName = "wasmcanvas"
	CanvasAPIPrefix   = "canvas.api"
)

// CanvasAPI is canvas.api.{tokens...}, e.g. CanvasAPI("components", "apply").
func CanvasAPI(tokens ...string) string {
	return strings.Join(append([]string{CanvasAPIPrefix}, tokens...), ".")
}

// JetStream KV buckets owned by the canvas.
const (
	// ComponentsBucket holds desired state: key {namespace}.{name}, value the
	// ODA Component as applied (pkg/store).
	ComponentsBucket = "CANVAS_COMPONENTS"
	// StatusBucket holds each Component's ODA status under the same key,
	// apart from desired state (like a Kubernetes status subresource).
	StatusBucket = "CANVAS_STATUS"
)

// The canvas's record of what happened to each Component: one JetStream
// stream over canvas.events.>.
const (
	// ComponentEventStream is the stream that keeps Component events.
	ComponentEventStream = "CANVAS_EVENTS"
	// ComponentEventsAll matches the events of every Component.
	ComponentEventsAll = componentEventPrefix + ".>"

	componentEventPrefix = "canvas.events"
)

// ComponentEvents is canvas.events.{namespace}.{name}: the subject the
// events of the Component with store key {namespace}.{name} are recorded on.
// Not to be confused with ODAEvent, which carries a component's own
// business events.
func ComponentEvents(key string) string { return componentEventPrefix + "." + key }

// ODAEvent is oda.evt.{event}: the subject a Component's published or
// subscribed ODA event (spec.eventNotification) travels on between
// components.
func ODAEvent(event string) string { return "oda.evt." + event }

const maxLatticeLen = 128

// ValidateLattice checks that name can stand as one subject token and in
// wadm's {lattice}-{name} keys: 1-128 ASCII letters, digits, '-' or '_'.
func ValidateLattice(name string) error {
	if name == "" {
		return fmt.Errorf("lattice name is empty: use %q unless the hosts were started with another", DefaultLattice)
	}
	if len(name) > maxLatticeLen {
		return fmt.Errorf("lattice name %.20q... is %d characters long: the limit is %d", name, len(name), maxLatticeLen)
	}
	if err := tokenChars(name); err != nil {
		return fmt.Errorf("lattice name %q: %w", name, err)
	}
	return nil
}

// ValidateBucketName checks a JetStream KV bucket name: ASCII letters,
// digits, '-' and '_' only.
func ValidateBucketName(name string) error {
	if name == "" {
		return fmt.Errorf("bucket name is empty")
	}
	if err := tokenChars(name); err != nil {
		return fmt.Errorf("bucket name %q: %w", name, err)
	}
	return nil
}

// ValidateAppName checks a wadm application name: ASCII letters, digits,
// '-' and '_'. wadm's own regex (`^[-\w]+$`) also admits non-ASCII letters,
// but such a name cannot be a key in wadm's KV bucket, so it is refused here
// early.
func ValidateAppName(name string) error {
	if name == "" {
		return fmt.Errorf("application name is empty")
	}
	if err := tokenChars(name); err != nil {
		return fmt.Errorf("application name %q: %w", name, err)
	}
	return nil
}

// ValidatePrefix checks an API subject prefix such as wadm's --api-prefix:
// dot-separated tokens with no wildcard or space.
func ValidatePrefix(prefix string) error {
	if prefix == "" || strings.ContainsAny(prefix, "*> \t\r\n") || strings.Contains(prefix, "..") ||
		strings.HasPrefix(prefix, ".") || strings.HasSuffix(prefix, ".") {
		return fmt.Errorf("API prefix %q is not a plain subject prefix (want e.g. %s)", prefix, WadmDefaultAPIPrefix)
	}
	return nil
}

func tokenChars(name string) error {
	for i, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return fmt.Errorf("character %q at offset %d is not allowed: use ASCII letters, digits, '-' and '_'", r, i)
		}
	}
	return nil
}

// wRPC: the NATS transport of wasmCloud 1.x (wrpc-transport-nats 0.29,
// shared reference WRPC.md §1-2). pkg/wrpc builds every wRPC subject here.

// WRPCProtocol is the fixed protocol token of every invocation subject.
const WRPCProtocol = "wrpc.0.0.1"

// WRPCPrefix is wasmCloud's invocation prefix for a component or provider:
// {lattice}.{id}. Servers also use it as their queue group, so replicas of
// one target share the calls.
func WRPCPrefix(lattice, id string) string { return lattice + "." + id }

// WRPCInvoke is [{prefix}.]wrpc.0.0.1.[{instance}.]{fn}: an empty prefix or
// an empty instance (a world-level function) is left out with its dot. The
// instance keeps its version, e.g. wasmcanvas:observe/metrics@0.1.0; the
// dots in the version become more tokens, unescaped, as upstream does.
func WRPCInvoke(prefix, instance, fn string) string {
	s := WRPCProtocol + "."
	if prefix != "" {
		s = prefix + "." + s
	}
	if instance != "" {
		s += instance + "."
	}
	return s + fn
}

// WRPCParams is {inbox}.params: where a client sends the params that did
// not fit in the invocation message, to the inbox the server accepted with.
func WRPCParams(inbox string) string { return inbox + ".params" }

// WRPCResults is {inbox}.results: where the server writes the results, to
// the inbox the client invoked with.
func WRPCResults(inbox string) string { return inbox + ".results" }

// WRPCIndex is {base}.{i}.{j}...: the channel of an async value at a path
// (WRPC.md §4), e.g. WRPCIndex(WRPCResults(r), 0).
func WRPCIndex(base string, path ...uint32) string {
	for _, i := range path {
		base += "." + strconv.FormatUint(uint64(i), 10)
	}
	return base
}

// WRPCInbox is {base}.{n}: one call's inbox under a peer's inbox base, and
// WRPCInboxAll matches all of them (the one subscription a peer demultiplexes).
func WRPCInbox(base string, n uint64) string { return base + "." + strconv.FormatUint(n, 10) }

// WRPCInboxAll is {base}.>.
func WRPCInboxAll(base string) string { return base + ".>" }

// providers: the wasmCloud 1.x capability-provider control subjects a host
// uses with a provider process such as canvas-bridge (shared reference
// PROVIDER.md, section 2). key is the provider's id in the lattice
// (host data provider_key); for ProviderLinkPut it is the provider's xkey
// public key when the host gave one (hosts ≥ 1.1), else the provider id.
const providerRPCPrefix = "wasmbus.rpc"

func providerSubject(lattice, key, op string) string {
	return providerRPCPrefix + "." + lattice + "." + key + "." + op
}

// ProviderHealth is wasmbus.rpc.{lattice}.{key}.health: the host's health
// check request.
func ProviderHealth(lattice, key string) string { return providerSubject(lattice, key, "health") }

// ProviderShutdown is wasmbus.rpc.{lattice}.{key}.{linkName}.shutdown: the
// host's stop request, carrying the host id it is meant for. linkName is
// the host data's link_name; empty means "default", what 1.x hosts send.
func ProviderShutdown(lattice, key, linkName string) string {
	if linkName == "" {
		linkName = "default"
	}
	return providerSubject(lattice, key, linkName+".shutdown")
}

// ProviderLinkPut is wasmbus.rpc.{lattice}.{key}.linkdefs.put, key being
// the provider's xkey public key when it has one.
func ProviderLinkPut(lattice, key string) string {
	return providerSubject(lattice, key, "linkdefs.put")
}

// ProviderLinkDel is wasmbus.rpc.{lattice}.{key}.linkdefs.del.
func ProviderLinkDel(lattice, key string) string {
	return providerSubject(lattice, key, "linkdefs.del")
}

// ProviderConfigUpdate is wasmbus.rpc.{lattice}.{key}.config.update.
func ProviderConfigUpdate(lattice, key string) string {
	return providerSubject(lattice, key, "config.update")
}

// ValidateToken checks that s can stand as one subject token (a provider
// id, an xkey public key): what ValidateLattice admits, without its length
// limit. what names s in the error.
func ValidateToken(what, s string) error {
	if s == "" {
		return fmt.Errorf("%s is empty", what)
	}
	if err := tokenChars(s); err != nil {
		return fmt.Errorf("%s %q: %w", what, s, err)
	}
	return nil
}

// Control interface: the wasmCloud 1.x host control interface and host
// events (shared reference CONTROL-INTERFACE.md), spoken by pkg/latticeadmin
// for `canvas lattice …`. Subjects are {prefix}.v1.{lattice}.{area}.{op}[.{arg}];
// hosts may be started with another prefix than CtlDefaultPrefix.

// CtlDefaultPrefix is the host's default ctl topic prefix.
const CtlDefaultPrefix = "wasmbus.ctl"

// ctlVersion is the control interface API version token.
const ctlVersion = "v1"

// The control interface operations pkg/latticeadmin sends, as the
// {area}.{op} tokens after {prefix}.v1.{lattice}.
const (
	CtlHostPing  = "host.ping"
	CtlHostGet   = "host.get"
	CtlLinkGet   = "link.get"
	CtlConfigGet = "config.get"
	CtlConfigPut = "config.put"
	CtlConfigDel = "config.del"
	CtlLabelPut  = "label.put"
	CtlLabelDel  = "label.del"
)

// Ctl is {prefix}.v1.{lattice}.{op}[.{arg}]: arg is the host id of a
// host-targeted operation (host.get, label.*) or the config name of
// config.*, and is left off when empty (host.ping, link.get). An empty
// prefix means CtlDefaultPrefix.
func Ctl(prefix, lattice, op, arg string) string {
	if prefix == "" {
		prefix = CtlDefaultPrefix
	}
	s := prefix + "." + ctlVersion + "." + lattice + "." + op
	if arg != "" {
		s += "." + arg
	}
	return s
}

// CtlLatticeAll matches every control interface request of lattice: what a
// host (or the tests' host double) subscribes to.
func CtlLatticeAll(prefix, lattice string) string { return Ctl(prefix, lattice, ">", "") }

// CtlOpPrefix is {prefix}.v1.{lattice}. (with the trailing dot): what is
// left of a control subject once {op}[.{arg}] is cut off.
func CtlOpPrefix(prefix, lattice string) string { return Ctl(prefix, lattice, "", "") }

// hostEventPrefix roots the host events; unlike the ctl prefix it is fixed
// upstream.
const hostEventPrefix = "wasmbus.evt"

// HostEventTypePrefix is the CloudEvents type of a host event without its
// event name: com.wasmcloud.lattice.{event}.
const HostEventTypePrefix = "com.wasmcloud.lattice."

// HostEvent is wasmbus.evt.{lattice}.{event}, e.g. labels_changed; event
// may be "*" or ">".
func HostEvent(lattice, event string) string { return hostEventPrefix + "." + lattice + "." + event }

// HostEventsAll matches every host event of lattice: wasmbus.evt.{lattice}.>.
func HostEventsAll(lattice string) string { return HostEvent(lattice, ">") }

// Secured lattices and edge sites (pkg/edge): the subject patterns each
// role's NATS permissions allow or deny, and the system-account requests
// that push account JWTs and ask the servers about their leaf nodes.

// WRPCLatticeAll is {lattice}.*.wrpc.>: every wRPC invocation of a lattice,
// whatever component or provider it targets.
func WRPCLatticeAll(lattice string) string { return lattice + ".*.wrpc.>" }

// WadmLatticeAll is wadm.*.{lattice}.>: everything wadm publishes or
// serves for one lattice with the default API prefix (its API, status,
// events and internal commands).
func WadmLatticeAll(lattice string) string { return "wadm.*." + lattice + ".>" }

// CanvasAPIAll matches every request of the canvas's own API.
const CanvasAPIAll = CanvasAPIPrefix + ".>"

// EdgeSite is edge.{lattice}.{site}: the subjects only the edge site's
// credentials may use, e.g. for the site's own telemetry.
func EdgeSite(lattice, site string) string { return "edge." + lattice + "." + site }

// EdgeSiteAll is edge.{lattice}.{site}.>.
func EdgeSiteAll(lattice, site string) string { return EdgeSite(lattice, site) + ".>" }

// NATS's own subjects a role may need: request inboxes, JetStream's API,
// acknowledgements and flow control, KV writes and the micro service
// discovery subjects.
const (
	InboxAll   = "_INBOX.>"
	JSAPIAll   = "$JS.API.>"
	JSAPIInfo  = "$JS.API.INFO"
	JSAckAll   = "$JS.ACK.>"
	JSFlowAll  = "$JS.FC.>"
	ServiceAll = "$SRV.>"
)

// KVAll is $KV.{bucket}.>: the writes to every key of a KV bucket.
func KVAll(bucket string) string { return "$KV." + bucket + ".>" }

// HostConfigBucket is CONFIGDATA_{lattice} and HostDataBucket
// LATTICEDATA_{lattice}: the KV buckets wasmCloud 1.x hosts keep named
// configuration and lattice data (links, component specs) in
// (CONTROL-INTERFACE.md).
func HostConfigBucket(lattice string) string { return "CONFIGDATA_" + lattice }

// HostDataBucket: see HostConfigBucket.
func HostDataBucket(lattice string) string { return "LATTICEDATA_" + lattice }

// ProviderRPCAll is wasmbus.rpc.{lattice}.>: the subjects a host and its
// capability providers talk on (health, shutdown, link and config
// updates; PROVIDER.md §2).
func ProviderRPCAll(lattice string) string { return "wasmbus.rpc." + lattice + ".>" }

// JSCreateStream is the JetStream API request that creates stream.
func JSCreateStream(stream string) string { return "$JS.API.STREAM.CREATE." + stream }

// JSReadStream is the JetStream API a client needs to read a stream (such
// as the stream KV_{bucket} behind a KV bucket) and to watch it through
// consumers, and nothing that changes another stream.
func JSReadStream(stream string) []string {
	return []string{
		"$JS.API.STREAM.INFO." + stream,
		"$JS.API.STREAM.MSG.GET." + stream,
		"$JS.API.DIRECT.GET." + stream + ".>",
		"$JS.API.CONSUMER.*." + stream,
		"$JS.API.CONSUMER.*." + stream + ".>",
		"$JS.ACK." + stream + ".>",
	}
}

// KVStream is the stream behind a KV bucket: KV_{bucket}.
func KVStream(bucket string) string { return "KV_" + bucket }

// The system account's requests (nats-server with a full resolver).
const (
	// SysClaimsUpdate takes an account JWT and stores it in every
	// server's resolver; the servers apply it (revocations included) at once.
	SysClaimsUpdate = "$SYS.REQ.CLAIMS.UPDATE"
	// SysPingLeafz asks every server for its leaf-node connections.
	SysPingLeafz = "$SYS.REQ.SERVER.PING.LEAFZ"
)

// API policies: the gateway's API keys, rate-limit windows and quotas
// (pkg/gateway/policykv), shared by every gateway of a canvas.
const (
	// APIKeysBucket holds API keys: key the hex SHA-256 of a key
	// (policy.HashAPIKey), value its record (Component, consumer,
	// created). The plaintext is never stored.
	APIKeysBucket = "CANVAS_APIKEYS"
	// RateLimitBucket holds rate-limit windows' counters; its entries
	// expire (RateLimitTTL), so it never grows past the live windows.
	RateLimitBucket = "CANVAS_RATELIMIT"
	// QuotaBucket holds quota counters, kept until the quota's API is gone.
	QuotaBucket = "CANVAS_QUOTA"
)

// Identity: the embedded OpenID Provider's state (pkg/identity).
const (
	// IdentityKeysBucket holds the issuer's signing keys, one per key id
	// (private parts included: restrict it with NATS permissions to canvasd).
	IdentityKeysBucket = "CANVAS_IDENTITY_KEYS"
	// IdentityClientsBucket holds registered OAuth clients (secrets hashed).
	IdentityClientsBucket = "CANVAS_IDENTITY_CLIENTS"
	// IdentityRevokedBucket holds revoked token ids until the token expires.
	IdentityRevokedBucket = "CANVAS_IDENTITY_REVOKED"
)

// Host side of the control interface (pkg/node, `canvas node`): the
// operations a wasmCloud 1.x host answers beyond those pkg/latticeadmin
// sends, as {area}.{op} tokens for Ctl (CONTROL-INTERFACE.md).
const (
	CtlHostStop         = "host.stop"
	CtlComponentScale   = "component.scale"
	CtlComponentUpdate  = "component.update"
	CtlComponentAuction = "component.auction"
	CtlProviderStart    = "provider.start"
	CtlProviderStop     = "provider.stop"
	CtlProviderAuction  = "provider.auction"
	CtlLinkPut          = "link.put"
	CtlLinkDel          = "link.del"
	CtlClaimsGet        = "claims.get"
	CtlRegistryPut      = "registry.put"
)

// CtlNodeConfigPeer is the {area}.{op} of a canvas node's own question to
// the other canvas nodes for a named config it lacks (Ctl(…, name)): only
// a node that has it answers, where config.get, answered by one host of a
// queue group, may be answered "not found" by the asking node itself. Not
// an upstream operation; wasmCloud hosts ignore it.
const CtlNodeConfigPeer = "canvasnode.config"

// Secrets backends (pkg/node, `canvas node` resolving SECRET_ config
// references as a wasmCloud 1.x host does, wasmcloud-secrets-client):
// {prefix}.{version}.{backend}.server_xkey answers the backend's public
// xkey; {prefix}.{version}.{backend}.get answers a sealed secret request.
const (
	// SecretsDefaultPrefix is the prefix wasmCloud's docs and
	// secrets-nats-kv use (a host has none unless --secrets-topic).
	SecretsDefaultPrefix = "wasmcloud.secrets"
	// SecretsAPIVersion is the secrets API version hosts speak.
	SecretsAPIVersion = "v1alpha1"
)

// SecretsGet is the subject a host asks backend for a secret on.
func SecretsGet(prefix, backend string) string {
	return prefix + "." + SecretsAPIVersion + "." + backend + ".get"
}

// SecretsServerXKey is the subject a host asks backend for its xkey on.
func SecretsServerXKey(prefix, backend string) string {
	return prefix + "." + SecretsAPIVersion + "." + backend + ".server_xkey"
}

// Bridge tokens: canvasd's token service for canvas-bridge
// (identityrpc.ServeTokenService). Outside CanvasAPIPrefix, which clients
// may call: on a secured lattice only the bridge role may request it.

// BridgeTokens is canvas.bridge-tokens.{lattice}: canvas-bridge asks
// canvasd for a Component's client-credentials access token.
func BridgeTokens(lattice string) string { return "canvas.bridge-tokens." + lattice }
