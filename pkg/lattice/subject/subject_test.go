package subject

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The subjects as upstream spells them (WADM-API.md, CONTROL-INTERFACE.md)
// and as the canvas's own clients expect them.
func TestSubjects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		got, want string
	}{
		{WadmModel("", "default", WadmPut, ""), "wadm.api.default.model.put"},
		{WadmModel("", "default", WadmGet, ""), "wadm.api.default.model.get"},
		{WadmModel("", "default", WadmGet, "hello-world"), "wadm.api.default.model.get.hello-world"},
		{WadmModel("", "default", WadmList, ""), "wadm.api.default.model.list"},
		{WadmModel("", "l1", WadmVersions, "app"), "wadm.api.l1.model.versions.app"},
		{WadmModel("", "l1", WadmDeploy, "app"), "wadm.api.l1.model.deploy.app"},
		{WadmModel("", "l1", WadmUndeploy, "app"), "wadm.api.l1.model.undeploy.app"},
		{WadmModel("", "l1", WadmDelete, "app"), "wadm.api.l1.model.del.app"},
		{WadmModel("", "l1", WadmStatus, "app"), "wadm.api.l1.model.status.app"},
		{WadmModel("", "l1", WadmHistory, "app"), "wadm.api.l1.model.history.app"},
		{WadmModel("my.wadm", "l1", WadmPut, ""), "my.wadm.l1.model.put"},
		{WadmLatticeAPI("", "default"), "wadm.api.default.>"},
		{WadmAppStatus("default", "hello-world"), "wadm.status.default.hello-world"},
		{WadmAppStatus("default", "*"), "wadm.status.default.*"},
		{WadmAppStatusPrefix("default"), "wadm.status.default."},
		{WadmEvent("default", "manifest_published"), "wadm.evt.default.manifest_published"},
		{WadmEventsAll, "wadm.evt.>"},
		{WadmStatusAll, "wadm.status.>"},
		{CanvasAPI("components", "apply"), "canvas.api.components.apply"},
		{ComponentEvents("components.shop"), "canvas.events.components.shop"},
		{ComponentEventsAll, "canvas.events.>"},
		{ODAEvent("orderCreated"), "oda.evt.orderCreated"},
		{ProviderHealth("default", "canvas-bridge"), "wasmbus.rpc.default.canvas-bridge.health"},
		{ProviderShutdown("default", "canvas-bridge", ""), "wasmbus.rpc.default.canvas-bridge.default.shutdown"},
		{ProviderShutdown("default", "canvas-bridge", "other"), "wasmbus.rpc.default.canvas-bridge.other.shutdown"},
		{ProviderLinkPut("l1", "XABC"), "wasmbus.rpc.l1.XABC.linkdefs.put"},
		{ProviderLinkDel("l1", "canvas-bridge"), "wasmbus.rpc.l1.canvas-bridge.linkdefs.del"},
		{ProviderConfigUpdate("l1", "canvas-bridge"), "wasmbus.rpc.l1.canvas-bridge.config.update"},
		{Ctl("", "default", CtlHostPing, ""), "wasmbus.ctl.v1.default.host.ping"},
		{Ctl("", "default", CtlHostGet, "NB6PMW4RGLBP3NAVUVO2IH34VFJFSX7LF7TJOQCDU4GGUGF3P57SZLPX"), "wasmbus.ctl.v1.default.host.get.NB6PMW4RGLBP3NAVUVO2IH34VFJFSX7LF7TJOQCDU4GGUGF3P57SZLPX"},
		{Ctl("", "l1", CtlLinkGet, ""), "wasmbus.ctl.v1.l1.link.get"},
		{Ctl("", "l1", CtlConfigGet, "my-config"), "wasmbus.ctl.v1.l1.config.get.my-config"},
		{Ctl("", "l1", CtlConfigPut, "my-config"), "wasmbus.ctl.v1.l1.config.put.my-config"},
		{Ctl("", "l1", CtlConfigDel, "my-config"), "wasmbus.ctl.v1.l1.config.del.my-config"},
		{Ctl("", "l1", CtlLabelPut, "NHOST"), "wasmbus.ctl.v1.l1.label.put.NHOST"},
		{Ctl("", "l1", CtlLabelDel, "NHOST"), "wasmbus.ctl.v1.l1.label.del.NHOST"},
		{Ctl("acme.ctl", "l1", CtlHostPing, ""), "acme.ctl.v1.l1.host.ping"},
		{CtlLatticeAll("", "default"), "wasmbus.ctl.v1.default.>"},
		{CtlOpPrefix("", "default"), "wasmbus.ctl.v1.default."},
		{HostEvent("default", "labels_changed"), "wasmbus.evt.default.labels_changed"},
		{HostEventsAll("default"), "wasmbus.evt.default.>"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
	for _, b := range []string{ComponentsBucket, StatusBucket, ComponentEventStream, WadmManifestBucket, WadmStatusStream, WadmEventsStream} {
		if err := ValidateBucketName(b); err != nil {
			t.Errorf("%s: %v", b, err)
		}
	}
}

// The wRPC subjects byte for byte as WRPC.md §1, §2 and §5 spell them
// (wrpc-transport-nats 0.29 invocation_subject, param/result subjects and
// index paths).
func TestWRPCSubjects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		got, want string
	}{
		{WRPCPrefix("default", "acme-identity"), "default.acme-identity"},
		{WRPCInvoke(WRPCPrefix("default", "acme-identity"), "wasmcloud:identity/store@0.0.1", "get"),
			"default.acme-identity.wrpc.0.0.1.wasmcloud:identity/store@0.0.1.get"},
		{WRPCInvoke("default.bridge", "wasmcanvas:observe/metrics@0.1.0", "counter-add"),
			"default.bridge.wrpc.0.0.1.wasmcanvas:observe/metrics@0.1.0.counter-add"},
		{WRPCInvoke("default.c1", "", "run"), "default.c1.wrpc.0.0.1.run"},
		{WRPCInvoke("", "wasi:http/outgoing-handler", "handle"), "wrpc.0.0.1.wasi:http/outgoing-handler.handle"},
		{WRPCInvoke("", "", "f"), "wrpc.0.0.1.f"},
		{WRPCParams("_INBOX.srv.QQQ"), "_INBOX.srv.QQQ.params"},
		{WRPCResults("_INBOX.abc.XYZ"), "_INBOX.abc.XYZ.results"},
		{WRPCIndex(WRPCResults("_INBOX.abc.XYZ"), 0), "_INBOX.abc.XYZ.results.0"},
		{WRPCIndex(WRPCParams("_INBOX.srv.QQQ"), 0, 1, 0), "_INBOX.srv.QQQ.params.0.1.0"},
		{WRPCIndex("_INBOX.a.results"), "_INBOX.a.results"},
		{WRPCInbox("_INBOX.abc", 42), "_INBOX.abc.42"},
		{WRPCInboxAll("_INBOX.abc"), "_INBOX.abc.>"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
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

func TestValidateNames(t *testing.T) {
	t.Parallel()
	for name, ok := range map[string]bool{
		"CANVAS_COMPONENTS": true, "a-b_c9": true, "": false, "a.b": false, "a b": false, "a/b": false, "a*": false, "é": false,
	} {
		if err := ValidateBucketName(name); (err == nil) != ok {
			t.Errorf("ValidateBucketName(%q) = %v, want ok=%v", name, err, ok)
		}
		if err := ValidateAppName(name); (err == nil) != ok {
			t.Errorf("ValidateAppName(%q) = %v, want ok=%v", name, err, ok)
		}
		if err := ValidateToken("provider_key", name); (err == nil) != ok || (err != nil && !strings.Contains(err.Error(), "provider_key")) {
			t.Errorf("ValidateToken(%q) = %v, want ok=%v and the field named", name, err, ok)
		}
	}
	for prefix, ok := range map[string]bool{
		"wadm.api": true, "x": true, "": false, "a.*": false, "a.>": false, "a b": false, ".a": false, "a.": false, "a..b": false,
	} {
		if err := ValidatePrefix(prefix); (err == nil) != ok {
			t.Errorf("ValidatePrefix(%q) = %v, want ok=%v", prefix, err, ok)
		}
	}
}

// ownedPrefixes are the subject roots only this package may spell. A string
// literal anywhere else in the module that starts with one of them (or
// holds ".wrpc.", wRPC's subject infix) is a subject built by hand.
var ownedPrefixes = []string{"wadm.api.", "wadm.status.", "wadm.evt.", "wasmbus.", "canvas.api.", "canvas.events.", "oda.evt."}

func handBuiltSubject(lit string) bool {
	for _, p := range ownedPrefixes {
		if strings.HasPrefix(lit, p) {
			return true
		}
	}
	return strings.Contains(lit, ".wrpc.")
}

// subjectLiterals returns "file:line: literal" for every Go string literal
// under root, outside this package, that spells an owned subject.
func subjectLiterals(t *testing.T, root, self string) []string {
	t.Helper()
	var found []string
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path == self || (path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			if v, err := strconv.Unquote(lit.Value); err == nil && handBuiltSubject(v) {
				found = append(found, fset.Position(lit.Pos()).String()+": "+lit.Value)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// TestOneOwner keeps every subject in this package: a test or a program that
// needs one calls the builders here.
func TestOneOwner(t *testing.T) {
	t.Parallel()
	self, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(self, "..", "..", "..")
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found from %s: %v", self, err)
	}
	for _, f := range subjectLiterals(t, root, self) {
		t.Errorf("%s: subject spelled outside pkg/lattice/subject: build it with a function of this package", f)
	}
}

// The check itself must see a hand-built subject, in code and in tests.
func TestOneOwnerCatchesLiterals(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src := "package x\n\nvar a = \"wadm.api.default.model.put\"\nvar b = `wasmbus.ctl.v1.default.host.ping`\nvar c = \"default.wrpc.0.0.1.x\"\nvar ok = \"wadm is not running\"\n"
	if err := os.WriteFile(filepath.Join(dir, "x_test.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	got := subjectLiterals(t, dir, filepath.Join(dir, "none"))
	if len(got) != 3 {
		t.Fatalf("found %d hand-built subjects, want 3: %q", len(got), got)
	}
}

func TestEdgeSubjects(t *testing.T) {
	t.Parallel()
	for got, want := range map[string]string{
		CtlLatticeAll("", "l"):           "wasmbus.ctl.v1.l.>",
		HostEventsAll("l"):               "wasmbus.evt.l.>",
		WRPCLatticeAll("l"):              "l.*.wrpc.>",
		WadmLatticeAll("l"):              "wadm.*.l.>",
		CanvasAPIAll:                     "canvas.api.>",
		EdgeSiteAll("l", "a"):            "edge.l.a.>",
		KVAll("B"):                       "$KV.B.>",
		KVStream(HostConfigBucket("l")):  "KV_CONFIGDATA_l",
		JSReadStream("S")[0]:             "$JS.API.STREAM.INFO.S",
		WadmModel("", "l", WadmPut, "x"): "wadm.api.l.model.put.x",
		WadmAppStatus("l", ">"):          "wadm.status.l.>",
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	// Every wRPC invocation of the lattice falls under WRPCLatticeAll's
	// shape: {lattice}.{id}.wrpc.0.0.1...
	if inv := WRPCInvoke(WRPCPrefix("l", "c"), "", "f"); !strings.HasPrefix(inv, "l.c.wrpc.") {
		t.Errorf("invocation %q is not under l.*.wrpc.>", inv)
	}
}
