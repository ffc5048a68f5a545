package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"go.uber.org/zap"

	"github.com/wasmcanvas/wasmcanvas/pkg/deploy"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
	"github.com/wasmcanvas/wasmcanvas/pkg/store"
	"github.com/wasmcanvas/wasmcanvas/pkg/translate"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm"
)

// Reconcile makes the lattice match the desired Component at key
// ({namespace}.{name}) and writes its ODA status. It is the Controller's
// Reconciler; the loop calls it, and a daemon may call it directly (for
// example to reconcile one key synchronously after an apply).
//
// A Component that does not translate gets status Failed (with the field
// path and fix) and a TerminalError: nothing is retried until it changes.
// A Component absent from the desired store has its application undeployed
// and deleted and its status removed. A Component claiming an exposed-API
// path that another one created before it claims gets status Failed naming
// both, and is not deployed. Passes over Components that translate wait
// until Run has loaded the desired store's index (they fail with ctx).
func (c *Controller) Reconcile(ctx context.Context, key string) (Result, error) {
	k, err := oda.ParseKey(key)
	if err != nil {
		return Result{}, TerminalError(fmt.Errorf("reconcile %q: %w", key, err))
	}
	ns, name := k.Namespace, k.Name
	ent, err := c.opts.Desired.Get(ctx, ns, name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return c.cleanup(ctx, key, ns, name)
	case err != nil:
		return Result{}, fmt.Errorf("reconcile %s: read the desired Component: %w", key, err)
	}
	comp := &ent.Value
	// The key is the truth about identity: a value written without
	// namespace or name still belongs where it is stored.
	comp.Metadata.Namespace, comp.Metadata.Name = ns, name
	app := translate.AppName(comp)
	c.rememberApp(app, key)

	prev, err := c.readStatus(ctx, ns, name)
	if err != nil {
		return Result{}, err
	}
	in := statusInput{c: comp, app: app, baseURL: c.opts.BaseURL, identityProvider: c.opts.IdentityProvider}

	m, terr := translate.Component(comp, c.translateOptions())
	if terr != nil {
		in.translateErr = terr
		st := computeStatus(in)
		changed, err := c.writeStatus(ctx, ns, name, prev, st)
		if err != nil {
			return Result{}, err
		}
		if changed {
			c.event(ctx, key, comp.Metadata.UID, EventWarning, ReasonTranslateFailed, st.Summary.FailureReason)
		}
		return Result{}, TerminalError(fmt.Errorf("translate Component %s: %w", key, terr))
	}
	in.version = m.Version()
	in.parts = make(map[string]string, len(m.Spec.Components))
	for _, mc := range m.Spec.Components {
		in.parts[m.ComponentID(mc)] = mc.Name
	}
	in.spreads = manifestSpreads(m)
	c.warnUnknownSites(ctx, key, comp)

	if err := c.idx.wait(ctx); err != nil {
		return Result{}, fmt.Errorf("reconcile %s: %w", key, err)
	}
	observed, err := c.opts.Deployer.Status(ctx, app)
	if err != nil {
		return Result{}, fmt.Errorf("reconcile %s: %w", key, err)
	}
	if cc := c.idx.conflict(key, c.idx.orderOf(key, orderOf(key, comp, ent.Revision)), translate.IngressRoutes(m)); cc != nil {
		return c.refuseClaim(ctx, key, app, ent.Revision, prev, in, observed, cc)
	}
	justDeployed := false
	if observed.DeployedVersion != in.version {
		if err := c.rollOut(ctx, key, comp.Metadata.UID, app, m, observed.DeployedVersion); err != nil {
			return Result{}, err
		}
		justDeployed = true
		if observed, err = c.opts.Deployer.Status(ctx, app); err != nil {
			return Result{}, fmt.Errorf("reconcile %s: after deploying version %s: %w", key, in.version, err)
		}
	}
	if justDeployed {
		// Right after a deploy the backend may still report the previous
		// version's last status (deployed or failed); the next status
		// event tells how the new version went.
		observed.Type, observed.Message, observed.Scalers = wadm.StatusReconciling, "", nil
	}
	in.observed = observed
	if id := c.opts.Identity; id != nil {
		if comp.Spec.SecurityFunction == nil {
			err = id.Remove(ctx, ns, name)
		} else {
			var ics oda.IdentityConfigStatus
			if ics, err = id.Configure(ctx, comp); err == nil {
				in.identity = &ics
			}
		}
		if err != nil {
			return Result{}, fmt.Errorf("reconcile %s: identity: %w", key, err)
		}
	}

	if hasDependencies(comp) {
		resolved, err := c.resolveDependencies(ctx, key, comp)
		if err != nil {
			return Result{}, err
		}
		in.resolve = resolved.lookup
	}
	st := computeStatus(in)
	c.followRoles(comp, in, &st)
	changed, err := c.writeStatus(ctx, ns, name, prev, st)
	if err != nil {
		return Result{}, err
	}
	state := st.Summary.DeploymentStatus
	if changed {
		c.recordTransition(ctx, key, comp.Metadata.UID, prev, st)
		if apisChanged(prev, &st) {
			c.wakeDependents(key)
		}
	}
	if observed.Type == wadm.StatusDeployed && observed.DeployedVersion == in.version {
		// The paths an earlier version served are free now.
		c.enqueueAll(c.idx.settle(key, ent.Revision))
	}
	switch state {
	case oda.DeploymentComplete, oda.DeploymentFailed:
		return Result{}, nil
	}
	return Result{RequeueAfter: c.opts.PollInterval}, nil
}

// rollOut stores the manifest (a no-op when the version exists) and makes
// it the deployed version.
func (c *Controller) rollOut(ctx context.Context, key, uid, app string, m *wadm.Manifest, was string) error {
	version := m.Version()
	pr, err := c.opts.Deployer.Put(ctx, m)
	if err != nil {
		return fmt.Errorf("reconcile %s: %w", key, err)
	}
	if pr.Created {
		c.metrics.puts.Add(1)
		c.event(ctx, key, uid, EventNormal, ReasonTranslated, fmt.Sprintf("translated to wadm application %s version %s (%d components)", app, version, len(m.Spec.Components)))
		c.event(ctx, key, uid, EventNormal, ReasonManifestPut, fmt.Sprintf("stored wadm application %s version %s", app, version))
	}
	if err := c.opts.Deployer.Deploy(ctx, app, version); err != nil {
		c.event(ctx, key, uid, EventWarning, ReasonDeployFailed, err.Error())
		return fmt.Errorf("reconcile %s: %w", key, err)
	}
	c.metrics.deploys.Add(1)
	msg := fmt.Sprintf("deployed wadm application %s version %s", app, version)
	if was != "" {
		msg += " replacing version " + was
	}
	c.event(ctx, key, uid, EventNormal, ReasonDeployed, msg)
	c.log.Info("deployed", zap.String("key", key), zap.String("app", app), zap.String("version", version), zap.String("replaced", was))
	return nil
}

// cleanup removes what a deleted Component left: its application (every
// version) and its status.
func (c *Controller) cleanup(ctx context.Context, key, ns, name string) (Result, error) {
	app := translate.KeyAppName(oda.Key{Namespace: ns, Name: name})
	observed, err := c.opts.Deployer.Status(ctx, app)
	if err != nil {
		return Result{}, fmt.Errorf("clean up deleted Component %s: %w", key, err)
	}
	removed := false
	if observed.Exists {
		if err := c.opts.Deployer.Undeploy(ctx, app); err != nil {
			c.event(ctx, key, "", EventWarning, ReasonDeleteFailed, err.Error())
			return Result{}, fmt.Errorf("clean up deleted Component %s: %w", key, err)
		}
		if err := c.opts.Deployer.Delete(ctx, app); err != nil {
			c.event(ctx, key, "", EventWarning, ReasonDeleteFailed, err.Error())
			return Result{}, fmt.Errorf("clean up deleted Component %s: %w", key, err)
		}
		c.metrics.deletes.Add(1)
		removed = true
	}
	switch err := c.opts.Status.Delete(ctx, ns, name, 0); {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return Result{}, fmt.Errorf("clean up deleted Component %s: delete its status: %w", key, err)
	default:
		c.metrics.statusDeletes.Add(1)
		removed = true
	}
	if rf := c.opts.Roles; rf != nil {
		rf.Forget(ns, name)
	}
	if id := c.opts.Identity; id != nil {
		if err := id.Remove(ctx, ns, name); err != nil {
			return Result{}, fmt.Errorf("clean up deleted Component %s: identity: %w", key, err)
		}
	}
	c.rememberApp(app, "")
	c.forgetSites(key)
	if removed {
		c.event(ctx, key, "", EventNormal, ReasonDeleted, fmt.Sprintf("undeployed and deleted wadm application %s", app))
		c.log.Info("deleted", zap.String("key", key), zap.String("app", app))
	}
	// Its application is gone: the next claimant of its paths may deploy.
	c.enqueueAll(c.idx.release(key))
	return Result{}, nil
}

// refuseClaim makes a Component that wants a path another Component claimed
// first Failed, naming the path and its owner, and keeps its application
// from serving (undeploying it if a race let it deploy). The owner's
// release or any change to the path's claimants enqueues it again.
func (c *Controller) refuseClaim(ctx context.Context, key, app string, rev uint64, prev *oda.ComponentStatus, in statusInput, observed deploy.AppStatus, cc *claimConflict) (Result, error) {
	if observed.DeployedVersion != "" {
		if err := c.opts.Deployer.Undeploy(ctx, app); err != nil {
			return Result{}, fmt.Errorf("reconcile %s: undeploy it, as %s serves path %s: %w", key, cc.owner, cc.claim.path, err)
		}
		c.log.Info("undeployed: path claimed by another Component", zap.String("key", key), zap.String("path", cc.claim.path), zap.String("owner", cc.owner))
		observed = deploy.AppStatus{Type: wadm.StatusUndeployed, Exists: observed.Exists}
	}
	// Nothing of it serves: the paths an earlier version held are free.
	c.enqueueAll(c.idx.settle(key, rev))
	in.observed, in.claim = observed, cc
	st := computeStatus(in)
	changed, err := c.writeStatus(ctx, in.c.Metadata.Namespace, in.c.Metadata.Name, prev, st)
	if err != nil {
		return Result{}, err
	}
	if changed {
		c.recordTransition(ctx, key, in.c.Metadata.UID, prev, st)
		if apisChanged(prev, &st) {
			c.wakeDependents(key)
		}
	}
	return Result{}, nil
}

func (c *Controller) readStatus(ctx context.Context, ns, name string) (*oda.ComponentStatus, error) {
	e, err := c.opts.Status.Get(ctx, ns, name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("reconcile %s.%s: read its status: %w", ns, name, err)
	}
	return &e.Value, nil
}

// writeStatus writes st unless it equals prev, so a converged system
// writes nothing.
func (c *Controller) writeStatus(ctx context.Context, ns, name string, prev *oda.ComponentStatus, st oda.ComponentStatus) (bool, error) {
	if prev != nil {
		a, errA := json.Marshal(prev)
		b, errB := json.Marshal(&st)
		if errA == nil && errB == nil && string(a) == string(b) {
			return false, nil
		}
	}
	if _, err := c.opts.Status.Put(ctx, ns, name, st); err != nil {
		return false, fmt.Errorf("reconcile %s.%s: write its status: %w", ns, name, err)
	}
	c.metrics.statusWrites.Add(1)
	return true, nil
}

// recordTransition records an event when the deployment status moves to
// Complete or Failed (or fails for another reason).
func (c *Controller) recordTransition(ctx context.Context, key, uid string, prev *oda.ComponentStatus, st oda.ComponentStatus) {
	var was, wasReason string
	if prev != nil && prev.Summary != nil {
		was, wasReason = prev.Summary.DeploymentStatus, prev.Summary.FailureReason
	}
	sum := st.Summary
	switch {
	case sum.DeploymentStatus == oda.DeploymentFailed && (was != oda.DeploymentFailed || wasReason != sum.FailureReason):
		msg := sum.FailureReason
		if sum.FailedPart != "" {
			msg = sum.FailedPart + ": " + msg
		}
		c.event(ctx, key, uid, EventWarning, ReasonDeployFailed, msg)
	case sum.DeploymentStatus == oda.DeploymentComplete && was != oda.DeploymentComplete:
		c.event(ctx, key, uid, EventNormal, ReasonReady, "all APIs ready: "+strings.TrimSpace(sum.CoreAPISummary+sum.ManagementAPISummary+sum.SecurityAPISummary))
	}
	if sum.DeploymentStatus != was {
		c.log.Info("deployment status", zap.String("key", key), zap.String("from", was), zap.String("to", sum.DeploymentStatus))
	}
}

// event records an event about the incarnation uid of the Component key
// ("" once it is deleted); events are a diagnostic aid, so failing to
// record one is logged and does not fail the pass.
func (c *Controller) event(ctx context.Context, key, uid, typ, reason, msg string) {
	if c.opts.Events == nil {
		return
	}
	if err := c.opts.Events.Record(ctx, key, uid, typ, reason, msg); err != nil && ctx.Err() == nil {
		c.log.Warn("event not recorded", zap.String("key", key), zap.String("reason", reason), zap.Error(err))
	}
}

// apisChanged says whether the exposed APIs' readiness or URLs changed,
// which is what Components depending on them look at.
func apisChanged(prev *oda.ComponentStatus, st *oda.ComponentStatus) bool {
	if prev == nil {
		return true
	}
	sig := func(s *oda.ComponentStatus) string {
		var b strings.Builder
		for _, l := range [][]oda.APIStatus{s.CoreAPIs, s.ManagementAPIs, s.SecurityAPIs} {
			for _, e := range l {
				fmt.Fprintf(&b, "%s|%s|%t;", e.Name, e.URL, e.Ready)
			}
		}
		return b.String()
	}
	return sig(prev) != sig(st)
}

func hasDependencies(c *oda.Component) bool {
	s := c.Spec
	return s.CoreFunction != nil && len(s.CoreFunction.DependentAPIs) > 0 ||
		s.ManagementFunction != nil && len(s.ManagementFunction.DependentAPIs) > 0 ||
		s.SecurityFunction != nil && len(s.SecurityFunction.DependentAPIs) > 0
}

// providers maps specification URLs to the status of the API providing it.
type providers struct {
	external bool
	byURL    map[string]oda.APIStatus
	// elsewhere resolves what no Component here provides (Options.Resolve).
	elsewhere func(specURLs []string) (url string, ready bool, reason string)
}

func (p providers) readyCount() int {
	n := 0
	for _, e := range p.byURL {
		if e.Ready {
			n++
		}
	}
	return n
}

func (p providers) lookup(urls []string) (string, bool, string) {
	if p.external {
		return urls[0], true, ""
	}
	for _, u := range urls {
		if e, ok := p.byURL[strings.TrimSpace(u)]; ok && e.Ready {
			return e.URL, true, ""
		}
	}
	if p.elsewhere != nil {
		return p.elsewhere(urls)
	}
	return "", false, ""
}

// resolveDependencies finds, for each dependency of comp, an exposed API of
// any Component (comp's own included) with the same specification URL, and that API's
// status entry (the reference canvas's dependent-API operator matches the
// same way and waits for the provider to be ready). The index names the
// providers, so a pass reads only their status, never the whole store;
// the first ready provider in key order wins.
func (c *Controller) resolveDependencies(ctx context.Context, key string, comp *oda.Component) (providers, error) {
	if c.opts.ExternalDependencies {
		return providers{external: true}, nil
	}
	want := map[string]bool{}
	for _, l := range comp.Spec.DependentAPIsByFunction() {
		for _, d := range l {
			for _, s := range d.Specification {
				want[strings.TrimSpace(s.URL)] = true
			}
		}
	}
	p := providers{byURL: map[string]oda.APIStatus{}, elsewhere: c.opts.Resolve}
	for _, pv := range c.idx.providersOf(want) {
		if p.readyCount() == len(want) {
			break // each dependency has a ready provider: the rest cannot change that
		}
		pk, err := oda.ParseKey(pv.key)
		if err != nil {
			return providers{}, fmt.Errorf("reconcile %s: resolve dependent APIs: %w", key, err)
		}
		pst, err := c.readStatus(ctx, pk.Namespace, pk.Name)
		if err != nil {
			return providers{}, err
		}
		if pst == nil {
			continue // not reconciled yet: its APIs are not ready
		}
		for _, l := range [][]oda.APIStatus{pst.CoreAPIs, pst.ManagementAPIs, pst.SecurityAPIs} {
			for _, api := range l {
				if u, ok := pv.names[api.Name]; ok {
					if cur, seen := p.byURL[u]; !seen || !cur.Ready {
						p.byURL[u] = api
					}
				}
			}
		}
	}
	return p, nil
}

func (c *Controller) translateOptions() translate.Options {
	return translate.Options{Implementations: c.opts.Implementations, SystemApp: c.opts.SystemApp}
}
