package reconcile

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasmcanvas/wasmcanvas/pkg/edge"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm/wadmtest"
)

// TestUnknownSiteWarnsAndDeploys: with the sites of a real lattice
// directory (edge.Init, then Bootstrap), a Component placed on a site the
// lattice lacks is deployed and gets one Warning event naming the
// annotation and the fix; bootstrapping that site and revoking another
// count on the next pass, without a new Controller.
func TestUnknownSiteWarnsAndDeploys(t *testing.T) {
	t.Parallel()
	l, err := edge.Init(edge.InitOptions{Dir: filepath.Join(t.TempDir(), "lattice")})
	if err != nil {
		t.Fatal(err)
	}
	bootstrap := func(site string) {
		t.Helper()
		if _, err := l.Bootstrap(edge.SiteOptions{Name: site, Hub: "nats://hub.example:7422"}); err != nil {
			t.Fatal(err)
		}
	}
	bootstrap("north-1")
	watch, err := edge.WatchSites(l.Dir())
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, []wadmtest.Option{wadmtest.WithDelay(5 * time.Millisecond)}, func(o *Options) { o.Sites = watch.Sites })
	e.run()
	c := example(t, productCatalog, "placed")
	c.Metadata.Annotations = map[string]string{oda.AnnotationPlacement: `{"sites": {"north-1": 2, "south-1": 1}}`}
	e.apply(c)
	key := c.Key().String()
	e.waitState(key, oda.DeploymentComplete)
	if v, _ := e.wadm.Deployed(appOf(c)); v == "" {
		t.Fatalf("%s is not deployed: an unknown site is a warning, not an error", appOf(c))
	}
	warnings := func(want int) []Event {
		t.Helper()
		var got []Event
		waitFor(t, fmt.Sprintf("%d %s events", want, ReasonUnknownSite), func() (bool, string) {
			evs, err := e.events.List(e.opCtx(), key, c.Metadata.UID)
			if err != nil {
				return false, err.Error()
			}
			got = got[:0]
			for _, ev := range evs {
				if ev.Reason == ReasonUnknownSite {
					got = append(got, ev)
				}
			}
			return len(got) == want, fmt.Sprintf("%+v", got)
		})
		return got
	}
	first := warnings(1)[0]
	for _, part := range []string{oda.PlacementPath, `site "south-1" is not a site of the lattice (sites: north-1)`, "canvas edge bootstrap --site south-1"} {
		if !strings.Contains(first.Message, part) {
			t.Errorf("warning %q does not say %q", first.Message, part)
		}
	}
	if first.Type != EventWarning || strings.Contains(first.Message, `"north-1"`) {
		t.Errorf("event %+v: want a Warning about south-1 only", first)
	}

	bootstrap("south-1")
	if _, err := l.Revoke("north-1"); err != nil {
		t.Fatal(err)
	}
	e.ctrl.Enqueue(key)
	got := warnings(2)
	if got[0].Count != 1 {
		t.Errorf("the south-1 warning was recorded %d times; want once, not on every pass", got[0].Count)
	}
	if msg := got[1].Message; !strings.Contains(msg, `site "north-1" is not a site of the lattice (sites: south-1)`) || strings.Contains(msg, `"south-1" is not`) {
		t.Errorf("after bootstrapping south-1 and revoking north-1: warning %q, want one about north-1 only", msg)
	}
}
