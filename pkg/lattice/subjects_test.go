package lattice

import (
	"strings"
	"testing"
)

func TestSubjects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		got, want string
	}{
		{WadmModelSubject("", "default", WadmPut, ""), "wadm.api.default.model.put"},
		{WadmModelSubject("", "default", WadmGet, ""), "wadm.api.default.model.get"},
		{WadmModelSubject("", "default", WadmGet, "hello-world"), "wadm.api.default.model.get.hello-world"},
		{WadmModelSubject("", "default", WadmList, ""), "wadm.api.default.model.list"},
		{WadmModelSubject("", "l1", WadmVersions, "app"), "wadm.api.l1.model.versions.app"},
		{WadmModelSubject("", "l1", WadmDeploy, "app"), "wadm.api.l1.model.deploy.app"},
		{WadmModelSubject("", "l1", WadmUndeploy, "app"), "wadm.api.l1.model.undeploy.app"},
		{WadmModelSubject("", "l1", WadmDelete, "app"), "wadm.api.l1.model.del.app"},
		{WadmModelSubject("", "l1", WadmStatus, "app"), "wadm.api.l1.model.status.app"},
		{WadmModelSubject("acct.wadm.api", "l1", WadmStatus, "app"), "acct.wadm.api.l1.model.status.app"},
		{WadmAPIWildcard(""), "wadm.api.>"},
		{WadmStatusSubject("default", "hello-world"), "wadm.status.default.hello-world"},
		{WadmStatusWildcard("default"), "wadm.status.default.*"},
		{WadmEventSubject("default", WadmEventManifestPublished), "wadm.evt.default.manifest_published"},
		{WadmEventSubject("default", WadmEventManifestUnpublished), "wadm.evt.default.manifest_unpublished"},
		{WadmEventWildcard("default"), "wadm.evt.default.>"},
		{CtlSubject("default", CtlHostPing, ""), "wasmbus.ctl.v1.default.host.ping"},
		{CtlSubject("default", CtlComponentScale, "NBXYZ"), "wasmbus.ctl.v1.default.component.scale.NBXYZ"},
		{CtlSubject("default", CtlConfigPut, "hello_world-default_http"), "wasmbus.ctl.v1.default.config.put.hello_world-default_http"},
		{CtlSubject("default", CtlLinkPut, ""), "wasmbus.ctl.v1.default.link.put"},
		{HostEventSubject("default", "component_scaled"), "wasmbus.evt.default.component_scaled"},
		{HostEventWildcard("default"), "wasmbus.evt.default.>"},
		{CanvasAPISubject("component", "apply"), "canvas.api.component.apply"},
		{CanvasAPIWildcard, "canvas.api.>"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
	if err := ValidateBucketName(ComponentsBucket); err != nil {
		t.Errorf("ComponentsBucket: %v", err)
	}
}

func TestValidateLattice(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		want string // "" means valid
	}{
		{"default", ""},
		{"edge-site_1", ""},
		{"ABC123", ""},
		{strings.Repeat("a", 128), ""},
		{"", "empty"},
		{strings.Repeat("a", 129), "129 characters long"},
		{"a.b", `'.' at offset 1`},
		{"a*", `'*' at offset 1`},
		{"a>", `'>' at offset 1`},
		{"a b", `' ' at offset 1`},
		{"é", `'é' at offset 0`},
	}
	for _, tt := range tests {
		err := ValidateLattice(tt.name)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("ValidateLattice(%q) = %v, want nil", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("ValidateLattice(%q) = %v, want it to contain %q", tt.name, err, tt.want)
		}
	}
}

func TestValidateBucketName(t *testing.T) {
	t.Parallel()
	for name, ok := range map[string]bool{
		"CANVAS_COMPONENTS": true, "a-b_c9": true, "": false, "a.b": false, "a b": false, "a/b": false, "a*": false,
	} {
		if err := ValidateBucketName(name); (err == nil) != ok {
			t.Errorf("ValidateBucketName(%q) = %v, want ok=%v", name, err, ok)
		}
	}
}

func TestCanvasEventSubjects(t *testing.T) {
	if got := EventSubject("components.shop"); got != "canvas.events.components.shop" {
		t.Errorf("EventSubject = %q", got)
	}
	if EventWildcard != "canvas.events.>" {
		t.Errorf("EventWildcard = %q", EventWildcard)
	}
	for _, b := range []string{ComponentsBucket, StatusBucket, EventStream} {
		if err := ValidateBucketName(b); err != nil {
			t.Errorf("%s: %v", b, err)
		}
	}
}
