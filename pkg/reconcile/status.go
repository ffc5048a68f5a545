package reconcile

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/wasmcanvas/wasmcanvas/pkg/deploy"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm"
)

// statusInput is everything the ODA status of one Component depends on.
// computeStatus is a pure function of it, so the same observation always
// gives the same status and an unchanged system writes nothing.
type statusInput struct {
	c *oda.Component
	// app and version are the wadm application and the manifest version
	// the spec translates to ("" when translation failed).
	app, version string
	// observed is the application's status (zero when not read).
	observed deploy.AppStatus
	// translateErr is the translation failure, if any.
	translateErr error
	// claim is the path another Component claimed first, if any.
	claim *claimConflict
	// parts maps wadm component ids to the manifest's component names
	// (the ODA implementation names), to name a failed scaler's part.
	parts map[string]string
	// spreads are the spreads of the manifest's spreadscalers, with the
	// replicas wadm puts on each (none without a placement).
	spreads []spreadPart

	baseURL          string
	identityProvider string
	// identity is what the IdentityConfigurer registered (nil: none ran).
	identity *oda.IdentityConfigStatus
	// resolve finds the providing API of a dependency by specification
	// URL, or says why there is none ("" when it has nothing to add).
	resolve func(specURLs []string) (url string, ready bool, reason string)
}

// secretsUnsupported explains the Failed status of a Component that asks
// for the reference canvas's secrets side-car.
const secretsUnsupported = "secretsManagement asks for the reference canvas's Vault side-car, which wasmcanvas does not provide: " +
	"its APIs are served, but no secrets are injected; remove spec.securityFunction.secretsManagement to deploy it here, " +
	"or run it on the Kubernetes canvas"

func computeStatus(in statusInput) oda.ComponentStatus {
	c := in.c
	appReady := in.translateErr == nil && in.claim == nil && in.version != "" &&
		in.observed.Type == wadm.StatusDeployed && in.observed.DeployedVersion == in.version

	st := oda.ComponentStatus{
		CoreAPIs:                  []oda.APIStatus{},
		ManagementAPIs:            []oda.APIStatus{},
		SecurityAPIs:              []oda.APIStatus{},
		CoreDependentAPIs:         []oda.DependentAPIStatus{},
		ManagementDependentAPIs:   []oda.DependentAPIStatus{},
		SecurityDependentAPIs:     []oda.DependentAPIStatus{},
		PublishedEvents:           []oda.EventStatus{},
		SubscribedEvents:          []oda.EventStatus{},
		SecuritySecretsManagement: &oda.SecretsManagementStatus{},
	}
	spec := c.Spec
	if f := spec.CoreFunction; f != nil {
		st.CoreAPIs = in.apiEntries(f.ExposedAPIs, appReady)
		st.CoreDependentAPIs = in.dependentEntries(f.DependentAPIs)
	}
	if f := spec.ManagementFunction; f != nil {
		st.ManagementAPIs = in.apiEntries(f.ExposedAPIs, appReady)
		st.ManagementDependentAPIs = in.dependentEntries(f.DependentAPIs)
	}
	secretsRequested := false
	if f := spec.SecurityFunction; f != nil {
		st.SecurityAPIs = in.apiEntries(f.ExposedAPIs, appReady)
		st.SecurityDependentAPIs = in.dependentEntries(f.DependentAPIs)
		secretsRequested = f.SecretsManagement != nil
	}
	if en := spec.EventNotification; en != nil {
		for _, e := range en.PublishedEvents {
			st.PublishedEvents = append(st.PublishedEvents, in.eventEntry(e.Name, appReady))
		}
		for _, e := range en.SubscribedEvents {
			st.SubscribedEvents = append(st.SubscribedEvents, in.eventEntry(e.Name, appReady))
		}
	}

	apisReady := appReady && allReady(st.CoreAPIs) && allReady(st.ManagementAPIs) && allReady(st.SecurityAPIs)
	switch {
	case apisReady && in.identity != nil:
		ics := *in.identity
		st.IdentityConfig = &ics
	case apisReady:
		// Nothing registered a role listener (no IdentityConfigurer).
		st.IdentityConfig = &oda.IdentityConfigStatus{IdentityProvider: in.identityProvider}
	}

	sum := &oda.StatusSummary{
		CoreAPISummary:                urlSummary(st.CoreAPIs),
		ManagementAPISummary:          urlSummary(st.ManagementAPIs),
		SecurityAPISummary:            urlSummary(st.SecurityAPIs),
		CoreDependentAPISummary:       depSummary(st.CoreDependentAPIs),
		ManagementDependentAPISummary: depSummary(st.ManagementDependentAPIs),
		SecurityDependentAPISummary:   depSummary(st.SecurityDependentAPIs),
		DeveloperUISummary:            devUISummary(st.CoreAPIs, st.ManagementAPIs, st.SecurityAPIs),
	}
	if secretsRequested {
		// The reference canvas's word until its side-car is ready, which
		// here it never is: failureReason says why (keeps the vocabulary
		// that tools matching on it know).
		sum.SecuritySecretsManagementSummary = "initializing"
	}
	depsReady := allDepsReady(st.CoreDependentAPIs) && allDepsReady(st.ManagementDependentAPIs) && allDepsReady(st.SecurityDependentAPIs)
	switch {
	case in.translateErr != nil:
		sum.DeploymentStatus = oda.DeploymentFailed
		sum.FailureReason, sum.FailedPart = translateFailure(in.translateErr)
	case in.claim != nil:
		sum.DeploymentStatus = oda.DeploymentFailed
		sum.FailureReason, sum.FailedPart = in.claim.reason(), exposedAPIField(c, in.claim.claim)
	case in.observed.Type == wadm.StatusFailed:
		sum.DeploymentStatus = oda.DeploymentFailed
		sum.FailureReason, sum.FailedPart = wadmFailure(in.observed, in.parts)
	case !apisReady:
		sum.DeploymentStatus = oda.DeploymentInProgressCompCon
	case st.IdentityConfig == nil || st.IdentityConfig.IdentityProvider == "" || st.IdentityConfig.IdentityProvider == "Not set":
		sum.DeploymentStatus = oda.DeploymentInProgressIDConfOp
	case secretsRequested && !st.SecuritySecretsManagement.Ready:
		// wasmcanvas has no secrets manager: rather than wait forever in
		// In-Progress-SecretMan (the reference canvas's users' complaint,
		// upstream #180), say so.
		sum.DeploymentStatus = oda.DeploymentFailed
		sum.FailedPart = "spec.securityFunction.secretsManagement"
		sum.FailureReason = secretsUnsupported
	case !depsReady:
		sum.DeploymentStatus = oda.DeploymentInProgressDepAPI
	default:
		sum.DeploymentStatus = oda.DeploymentComplete
	}
	st.Summary = sum

	wc := &oda.WasmCloudStatus{
		App:                in.app,
		Version:            in.observed.DeployedVersion,
		Status:             string(in.observed.Type),
		Message:            in.observed.Message,
		Hosts:              in.observed.Hosts,
		ObservedGeneration: c.Metadata.Generation,
		Sites:              in.siteStatuses(),
		Code:               codeStatuses(in.observed.Code),
	}
	st.WasmCloud = wc
	return st
}

// codeStatuses reports the backend's compiled code per implementation.
func codeStatuses(code []deploy.CodeStatus) []oda.CodeStatus {
	var out []oda.CodeStatus
	for _, c := range code {
		cs := oda.CodeStatus{Implementation: c.Component, Tier: c.Tier, Cached: c.CacheHit, Error: c.Error, BaselineCompiler: c.BaselineCompiler,
			StreamAdapter: c.StreamAdapter, StreamsRetyped: c.StreamsRetyped}
		if c.BaselineCompile > 0 {
			cs.BaselineCompile = c.BaselineCompile.Round(time.Millisecond).String()
		}
		if c.OptimizedCompile > 0 {
			cs.OptimizedCompile = c.OptimizedCompile.Round(time.Millisecond).String()
		}
		out = append(out, cs)
	}
	return out
}

// apiEntries gives one entry per exposed API and specification, named as
// the reference canvas names its ExposedAPI resources:
// {component}-{api}[-v{major}].
func (in statusInput) apiEntries(apis []oda.ExposedAPI, ready bool) []oda.APIStatus {
	out := []oda.APIStatus{}
	for _, a := range apis {
		base := in.c.Metadata.Name + "-" + strings.ToLower(a.Name)
		if len(a.Specification) == 0 {
			out = append(out, in.apiEntry(base, a.EffectiveImplementation(), a.EffectivePath(), a.EffectivePort(), a.EffectiveDeveloperUI(), ready))
			continue
		}
		for i, s := range a.Specification {
			impl, path, port, ui := a.EffectiveImplementation(), a.EffectivePath(), a.EffectivePort(), a.EffectiveDeveloperUI()
			if i > 0 {
				impl, path, port, ui = or(s.Implementation, a.Implementation), or(s.Path, a.Path), a.EffectivePort(), or(s.DeveloperUI, a.DeveloperUI)
				if s.Port != nil {
					port = *s.Port
				}
			}
			out = append(out, in.apiEntry(base+majorSuffix(s.Version, s.URL), impl, path, port, ui, ready))
		}
	}
	return out
}

func (in statusInput) apiEntry(name, impl, path string, port int, ui string, ready bool) oda.APIStatus {
	e := oda.APIStatus{Name: name, UID: in.uid(name), Implementation: impl, Path: path, Port: port, Ready: ready}
	if path != "" {
		e.URL = in.url(path)
	}
	if ui != "" {
		e.DeveloperUI = in.url(ui)
	}
	return e
}

func (in statusInput) dependentEntries(deps []oda.DependentAPI) []oda.DependentAPIStatus {
	out := []oda.DependentAPIStatus{}
	for _, d := range deps {
		name := in.c.Metadata.Name + "-" + strings.ToLower(d.Name)
		var urls []string
		for _, s := range d.Specification {
			if s.URL != "" {
				urls = append(urls, s.URL)
			}
		}
		if len(d.Specification) > 0 {
			name += majorSuffix(d.Specification[0].Version, d.Specification[0].URL)
		}
		e := oda.DependentAPIStatus{Name: name, UID: in.uid(name)}
		if in.resolve != nil && len(urls) > 0 {
			if url, ready, reason := in.resolve(urls); ready {
				e.Ready, e.URL = true, url
			} else {
				e.Message = reason
			}
		}
		out = append(out, e)
	}
	return out
}

func (in statusInput) eventEntry(event string, ready bool) oda.EventStatus {
	name := in.c.Metadata.Name + "-" + strings.ToLower(event)
	return oda.EventStatus{Name: name, UID: in.uid(name), Ready: ready}
}

// url joins the ingress base URL and a path; absolute URLs stay as given.
func (in statusInput) url(p string) string {
	if strings.HasPrefix(p, "http://") || strings.HasPrefix(p, "https://") {
		return p
	}
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return strings.TrimRight(in.baseURL, "/") + p
}

// uid is a stable UUID-shaped id per Component and status entry: the
// reference canvas shows the uid of each child resource, and a stable one
// keeps a re-reconcile from rewriting status.
func (in statusInput) uid(entry string) string {
	owner := in.c.Metadata.UID
	if owner == "" {
		owner = in.c.Key().String()
	}
	sum := sha256.Sum256([]byte(owner + "\x00" + entry))
	sum[6] = sum[6]&0x0f | 0x50 // version 5 layout (name-based)
	sum[8] = sum[8]&0x3f | 0x80 // RFC 4122 variant
	h := hex.EncodeToString(sum[:16])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// urlVersion finds a version in a specification URL, e.g. the 4 of
// TMF620-ProductCatalog-v4.0.0.swagger.json.
var urlVersion = regexp.MustCompile(`(?i)(?:^|[^a-z0-9])v(\d+)(?:\.\d+)*(?:[^0-9]|$)`)

// majorSuffix is "-v{major}" from the specification's version, else from
// its URL; "" when neither names one (the reference canvas's rule).
func majorSuffix(version, url string) string {
	v := strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(version), "v"), "V")
	if major, _, _ := strings.Cut(v, "."); major != "" {
		if n, err := strconv.Atoi(major); err == nil && n >= 0 {
			return "-v" + strconv.Itoa(n)
		}
	}
	if m := urlVersion.FindAllStringSubmatch(url, -1); len(m) > 0 {
		n, err := strconv.Atoi(m[len(m)-1][1])
		if err == nil {
			return "-v" + strconv.Itoa(n)
		}
	}
	return ""
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func allReady(l []oda.APIStatus) bool {
	for _, e := range l {
		if !e.Ready {
			return false
		}
	}
	return true
}

func allDepsReady(l []oda.DependentAPIStatus) bool {
	for _, e := range l {
		if !e.Ready {
			return false
		}
	}
	return true
}

// urlSummary is the reference canvas's summary string: each URL followed
// by one space.
func urlSummary(l []oda.APIStatus) string {
	var b strings.Builder
	for _, e := range l {
		if e.URL != "" {
			b.WriteString(e.URL + " ")
		}
	}
	return b.String()
}

func depSummary(l []oda.DependentAPIStatus) string {
	var b strings.Builder
	for _, e := range l {
		if e.URL != "" {
			b.WriteString(e.URL + " ")
		}
	}
	return b.String()
}

func devUISummary(lists ...[]oda.APIStatus) string {
	var b strings.Builder
	for _, l := range lists {
		for _, e := range l {
			if e.DeveloperUI != "" {
				b.WriteString(e.DeveloperUI + " ")
			}
		}
	}
	return b.String()
}

// translateFailure is the failure reason (every problem, with its fix) and
// the failed part (the first problem's field path).
func translateFailure(err error) (reason, part string) {
	var list oda.ErrorList
	if errors.As(err, &list) && len(list) > 0 {
		return list.Error(), list[0].Path
	}
	var fe *oda.FieldError
	if errors.As(err, &fe) {
		return fe.Error(), fe.Path
	}
	return err.Error(), ""
}

// spreadPart is one spread of one implementation's spreadscaler.
type spreadPart struct {
	impl     string
	spread   wadm.Spread
	replicas int
}

// manifestSpreads lists the spreads of m's spreadscalers with the replicas
// wadm puts on each.
func manifestSpreads(m *wadm.Manifest) []spreadPart {
	var out []spreadPart
	for _, mc := range m.Spec.Components {
		for _, tr := range mc.Traits {
			if tr.Type != wadm.TraitSpreadScaler || tr.Scaler == nil {
				continue
			}
			for i, n := range tr.Scaler.SpreadInstances() {
				out = append(out, spreadPart{impl: mc.Name, spread: tr.Scaler.Spread[i], replicas: n})
			}
		}
	}
	return out
}

// siteStatuses reports each spread from the spreadscaler status wadm
// gives for its implementation: deployed means every spread has its
// replicas; a failed scaler names the spreads it could not satisfy
// ("Could not satisfy spread NAME for …"), and when it names none, its
// message concerns them all. Without a word from wadm a spread is
// requested; on a backend that ignores placement, ignored.
func (in statusInput) siteStatuses() []oda.SiteStatus {
	if len(in.spreads) == 0 {
		return nil
	}
	out := make([]oda.SiteStatus, 0, len(in.spreads))
	for _, sp := range in.spreads {
		st := oda.SiteStatus{Implementation: sp.impl, Site: sp.spread.Name, Requirements: sp.spread.Requirements, Replicas: sp.replicas, State: oda.SiteRequested}
		scaler, found := in.spreadScaler(sp.impl)
		switch {
		case in.observed.IgnoresPlacement:
			st.State, st.Message = oda.SiteIgnored, "the embedded canvas runs every component on its one node; spread requirements are accepted and ignored"
		case !found:
		case scaler.Info.Type != wadm.StatusFailed:
			st.State, st.Message = string(scaler.Info.Type), scaler.Info.Message
		default:
			if msg, named := spreadFailure(scaler.Info.Message, sp.spread.Name); named {
				st.State, st.Message = string(wadm.StatusFailed), msg
			} else if !namesAnySpread(scaler.Info.Message) {
				st.State, st.Message = string(wadm.StatusFailed), scaler.Info.Message
			}
		}
		out = append(out, st)
	}
	return out
}

// spreadScaler finds the spreadscaler status of an implementation: wadm
// names its scalers by component id, the embedded canvas by name.
func (in statusInput) spreadScaler(impl string) (wadm.ScalerStatus, bool) {
	for _, s := range in.observed.Scalers {
		if s.Kind == wadm.ScalerKindSpread && (in.parts[s.Name] == impl || s.Name == impl) {
			return s, true
		}
	}
	return wadm.ScalerStatus{}, false
}

// spreadFailure is the sentence of msg about spread name, if any.
func spreadFailure(msg, name string) (string, bool) {
	start := wadm.SpreadUnsatisfied + name + " for "
	i := strings.Index(msg, start)
	if i < 0 {
		return "", false
	}
	sentence := msg[i:]
	if end := strings.Index(sentence, " found."); end >= 0 {
		sentence = sentence[:end+len(" found.")]
	}
	return sentence, true
}

func namesAnySpread(msg string) bool { return strings.Contains(msg, wadm.SpreadUnsatisfied) }

// wadmFailure is wadm's message and the first failed scaler: the name of
// the manifest component it scales when it scales one (scaler names are
// otherwise opaque and passed on as wadm gives them).
func wadmFailure(st deploy.AppStatus, parts map[string]string) (reason, part string) {
	reason = st.Message
	for _, s := range st.Scalers {
		if s.Info.Type != wadm.StatusFailed {
			continue
		}
		if part == "" {
			part = s.Name
			if name, ok := parts[s.Name]; ok {
				part = name
			}
			if part == "" {
				part = s.Kind + " " + s.ID
			}
		}
		if reason == "" {
			reason = s.Info.Message
		}
	}
	if reason == "" {
		reason = "wadm reports the application failed without a message; check wadm's and the hosts' logs"
	}
	return reason, part
}

// exposedAPIField is the field path of the exposed API serving claim,
// e.g. spec.coreFunction.exposedAPIs[0].path.
func exposedAPIField(c *oda.Component, claim pathClaim) string {
	functions := [3]string{"coreFunction", "managementFunction", "securityFunction"}
	for f, apis := range c.Spec.ExposedAPIsByFunction() {
		for i, a := range apis {
			if a.Name != claim.api {
				continue
			}
			field := "spec." + functions[f] + ".exposedAPIs[" + strconv.Itoa(i) + "]"
			if a.Path == "" && len(a.Specification) > 0 {
				field += ".specification[0]" // where EffectivePath found it
			}
			return field + ".path"
		}
	}
	return ""
}
