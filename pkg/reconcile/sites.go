package reconcile

import (
	"context"

	"go.uber.org/zap"

	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

// warnUnknownSites records a Warning event when the sites comp's placement
// names that Options.Sites does not list change: wadm keeps such replicas
// waiting for hosts that never come, but the rest of the Component serves,
// so it is deployed all the same (`canvas validate --lattice-dir` warns the
// same way before the apply). The lattice's sites are read on every pass,
// so a site bootstrapped later clears the warning and a revoked one raises
// it on the next pass.
func (c *Controller) warnUnknownSites(ctx context.Context, key string, comp *oda.Component) {
	if c.opts.Sites == nil {
		return
	}
	sites, err := c.opts.Sites()
	if err != nil {
		// The placement cannot be checked; the deploy does not depend on it.
		c.log.Warn("placement sites not checked", zap.String("key", key), zap.Error(err))
		return
	}
	msg := ""
	if unknown := oda.UnknownSites(comp, sites); len(unknown) > 0 {
		msg = unknown.Error()
	}
	c.sitesMu.Lock()
	was := c.siteWarnings[key]
	if msg == "" {
		delete(c.siteWarnings, key)
	} else {
		c.siteWarnings[key] = msg
	}
	c.sitesMu.Unlock()
	if msg != "" && msg != was {
		c.event(ctx, key, comp.Metadata.UID, EventWarning, ReasonUnknownSite, msg)
	}
}

// forgetSites drops what warnUnknownSites remembers of a deleted key, so
// that the Component created again under it is warned again.
func (c *Controller) forgetSites(key string) {
	c.sitesMu.Lock()
	delete(c.siteWarnings, key)
	c.sitesMu.Unlock()
}
