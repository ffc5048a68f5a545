package edge_test

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"

	"github.com/wasmcanvas/wasmcanvas/pkg/edge"
	"github.com/wasmcanvas/wasmcanvas/pkg/edge/edgetest"
)

// snapshot is every file under dir with its content, and the names beside
// dir, to see that a refused command changed nothing.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if !d.IsDir() {
			b, _ := os.ReadFile(p)
			out[p] = string(b)
		} else {
			out[p+"/"] = ""
		}
		return nil
	})
	return out
}

func diff(before, after map[string]string) []string {
	var d []string
	for k, v := range after {
		if w, ok := before[k]; !ok || w != v {
			d = append(d, k)
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			d = append(d, k+" (removed)")
		}
	}
	sort.Strings(d)
	return d
}

func TestBootstrapRefusesBadInput(t *testing.T) {
	t.Parallel()
	l, dir, _ := newLattice(t)
	hubURL := "nats://hub.example.net:7422"
	if _, err := l.Bootstrap(edge.SiteOptions{Name: "a", Hub: hubURL}); err != nil {
		t.Fatal(err)
	}
	parent := t.TempDir()
	notADir := filepath.Join(parent, "file")
	if err := os.WriteFile(notADir, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	occupied := filepath.Join(parent, "occupied")
	if err := os.MkdirAll(occupied, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(occupied, "keep.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		opts    edge.SiteOptions
		usage   bool
		wantErr []string
	}{
		{"duplicate site", edge.SiteOptions{Name: "a", Hub: "nats://other:7422"}, false, []string{"site a already exists", "--force", "--rotate"}},
		{"site name", edge.SiteOptions{Name: "a.b", Hub: hubURL}, true, []string{"--site", "not allowed"}},
		{"empty site", edge.SiteOptions{Hub: hubURL}, true, []string{"--site is empty"}},
		{"http hub", edge.SiteOptions{Name: "c", Hub: "http://hub:7422"}, true, []string{"--hub", `scheme "http" is not nats or tls`}},
		{"ws hub", edge.SiteOptions{Name: "c", Hub: "ws://hub:7422"}, true, []string{"--hub", "nats://HOST:PORT"}},
		{"hub without port", edge.SiteOptions{Name: "c", Hub: "nats://hub"}, true, []string{"--hub", "with the port"}},
		{"hub with password", edge.SiteOptions{Name: "c", Hub: "nats://u:secretpw@hub:7422"}, true, []string{"--hub", "user info"}},
		{"site label", edge.SiteOptions{Name: "c", Hub: hubURL, Labels: map[string]string{"site": "d"}}, true, []string{"--label site=d contradicts --site c"}},
		{"label value", edge.SiteOptions{Name: "c", Hub: hubURL, Labels: map[string]string{"zone": `a"b`}}, true, []string{"--label zone="}},
		{"unwritable out", edge.SiteOptions{Name: "c", Hub: hubURL, Dir: filepath.Join(notADir, "c")}, false, []string{notADir}},
		{"existing files", edge.SiteOptions{Name: "c", Hub: hubURL, Dir: occupied}, false, []string{occupied, "not empty", "--force"}},
		// What start.sh and the systemd units hold unquoted may not run
		// a command there, nor expand or split.
		{"hub runs a command", edge.SiteOptions{Name: "c", Hub: "nats://hub$(reboot):7422"}, true, []string{"--hub", "unquoted"}},
		{"hub ends a command", edge.SiteOptions{Name: "c", Hub: "nats://hub;reboot:7422"}, true, []string{"--hub", "unquoted"}},
		{"label value runs a command", edge.SiteOptions{Name: "c", Hub: hubURL, Labels: map[string]string{"zone": "$(reboot)"}}, true, []string{"--label zone=", "unquoted"}},
		{"label value expands in systemd", edge.SiteOptions{Name: "c", Hub: hubURL, Labels: map[string]string{"zone": "%h"}}, true, []string{"--label zone=", "unquoted"}},
		{"listen host runs a command", edge.SiteOptions{Name: "c", Hub: hubURL, Listen: "$(reboot):4222"}, true, []string{"--listen", "unquoted"}},
		{"listen host breaks a line", edge.SiteOptions{Name: "c", Hub: hubURL, Listen: "a\nb:4222"}, true, []string{"--listen", "unquoted"}},
		{"install dir expands", edge.SiteOptions{Name: "c", Hub: hubURL, InstallDir: "/opt/$HOME/c"}, true, []string{"--install-dir", "unquoted"}},
		{"out dir expands", edge.SiteOptions{Name: "c", Hub: hubURL, Dir: filepath.Join(parent, "c%h")}, true, []string{"--out", "unquoted"}},
		{"relative install dir", edge.SiteOptions{Name: "c", Hub: hubURL, InstallDir: "opt/c"}, true, []string{"--install-dir", "absolute path"}},
		{"another site's directory", edge.SiteOptions{Name: "c", Hub: hubURL, Dir: filepath.Join(dir, "sites", "a")}, false, []string{"site a's directory"}},
		// --force replaces a directory: never the lattice's own, one that
		// holds it, one of its parts or another site's.
		{"the lattice directory", edge.SiteOptions{Name: "c", Hub: hubURL, Dir: dir, Force: true}, false, []string{"--out", dir, "holds the lattice directory"}},
		{"above the lattice directory", edge.SiteOptions{Name: "c", Hub: hubURL, Dir: filepath.Dir(dir), Force: true}, false, []string{"--out", "holds the lattice directory"}},
		{"the lattice's keys", edge.SiteOptions{Name: "c", Hub: hubURL, Dir: filepath.Join(dir, "keys"), Force: true}, false, []string{"--out", "not under its sites/"}},
		{"inside the lattice's creds", edge.SiteOptions{Name: "c", Hub: hubURL, Dir: filepath.Join(dir, "creds", "c"), Force: true}, false, []string{"--out", "not under its sites/"}},
		{"above another site", edge.SiteOptions{Name: "c", Hub: hubURL, Dir: filepath.Join(dir, "sites"), Force: true}, false, []string{"site a's directory"}},
		{"inside another site", edge.SiteOptions{Name: "c", Hub: hubURL, Dir: filepath.Join(dir, "sites", "a", "c"), Force: true}, false, []string{"site a's directory"}},
		{"inside its own directory", edge.SiteOptions{Name: "a", Hub: hubURL, Dir: filepath.Join(dir, "sites", "a", "a"), Force: true}, false, []string{"site a's current directory"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := snapshot(t, filepath.Dir(dir))
			beforeOut := snapshot(t, parent)
			_, err := l.Bootstrap(tt.opts)
			if err == nil {
				t.Fatal("accepted")
			}
			var oe *edge.OptionsError
			if errors.As(err, &oe) != tt.usage {
				t.Errorf("OptionsError=%v, want %v: %v", !tt.usage, tt.usage, err)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "secretpw") {
				t.Errorf("error repeats the URL's password: %v", err)
			}
			if d := diff(before, snapshot(t, filepath.Dir(dir))); len(d) > 0 {
				t.Errorf("refused bootstrap changed the lattice directory: %q", d)
			}
			if d := diff(beforeOut, snapshot(t, parent)); len(d) > 0 {
				t.Errorf("refused bootstrap changed %s: %q", parent, d)
			}
		})
	}

	t.Run("unknown site", func(t *testing.T) {
		before := snapshot(t, dir)
		_, err := l.Revoke("zz")
		if err == nil || !strings.Contains(err.Error(), `no site "zz"`) || !strings.Contains(err.Error(), "the sites are a") {
			t.Errorf("revoke of an unknown site: %v", err)
		}
		if d := diff(before, snapshot(t, dir)); len(d) > 0 {
			t.Errorf("changed %q", d)
		}
	})
}

func TestInitRefusesBadInput(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	occupied := filepath.Join(parent, "occupied")
	if err := os.MkdirAll(occupied, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(occupied, "keep.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		opts    edge.InitOptions
		wantErr string
	}{
		{"existing files", edge.InitOptions{Dir: occupied}, "not empty"},
		{"unwritable out", edge.InitOptions{Dir: filepath.Join(occupied, "keep.txt", "lattice")}, "keep.txt"},
		{"lattice name", edge.InitOptions{Dir: filepath.Join(parent, "x"), Lattice: "a.b"}, "--lattice"},
		{"listen", edge.InitOptions{Dir: filepath.Join(parent, "x"), Listen: "4222"}, "--listen"},
		{"client url", edge.InitOptions{Dir: filepath.Join(parent, "x"), ClientURL: "http://hub:4222"}, "--client-url"},
		{"nats-server runs a command", edge.InitOptions{Dir: filepath.Join(parent, "x"), NATSServer: "/usr/bin/nats-server;reboot"}, "--nats-server"},
		{"nats-server adds a unit line", edge.InitOptions{Dir: filepath.Join(parent, "x"), NATSServer: "/usr/bin/nats-server\nUser=root"}, "--nats-server"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := snapshot(t, parent)
			_, err := edge.Init(tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one saying %q", err, tt.wantErr)
			}
			if d := diff(before, snapshot(t, parent)); len(d) > 0 {
				t.Errorf("refused init changed %q", d)
			}
		})
	}
}

// An expired operator can sign nothing: Open says so and no command that
// needs it gets to write.
func TestExpiredOperator(t *testing.T) {
	t.Parallel()
	_, dir, _ := newLattice(t)
	seed, err := os.ReadFile(filepath.Join(dir, "keys", "operator.nk"))
	if err != nil {
		t.Fatal(err)
	}
	kp, err := nkeys.FromSeed([]byte(strings.TrimSpace(string(seed))))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, edge.OperatorJWTFile))
	if err != nil {
		t.Fatal(err)
	}
	oc, err := jwt.DecodeOperatorClaims(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	oc.Expires = time.Now().Add(-time.Hour).Unix()
	token, err := oc.Encode(kp)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, edge.OperatorJWTFile), []byte(token), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = edge.Open(dir, time.Now())
	if err == nil || !strings.Contains(err.Error(), "operator JWT") || !strings.Contains(err.Error(), "expired at") {
		t.Fatalf("Open with an expired operator: %v", err)
	}
}

func TestBootstrapIsIdempotent(t *testing.T) {
	t.Parallel()
	l, dir, _ := newLattice(t)
	opts := edge.SiteOptions{Name: "a", Hub: "tls://hub.example.net:7422", Labels: map[string]string{"region": "north"}}
	first, err := l.Bootstrap(opts)
	if err != nil {
		t.Fatal(err)
	}
	if !first.Changed || first.Site.Labels["site"] != "a" || first.Site.Labels["region"] != "north" {
		t.Fatalf("first bootstrap: %+v", first)
	}
	site := filepath.Join(dir, "sites", "a")
	if fi, err := os.Stat(filepath.Join(site, edge.SiteCredsFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("site.creds: %v %v", fi, err)
	}
	if out, err := exec.Command("sh", "-n", filepath.Join(site, "start.sh")).CombinedOutput(); err != nil {
		t.Errorf("start.sh does not parse: %v\n%s", err, out)
	}
	before := snapshot(t, filepath.Dir(dir))

	// Reopened from disk, as the next command run would.
	l, err = edge.Open(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	again, err := l.Bootstrap(opts)
	if err != nil {
		t.Fatal(err)
	}
	if again.Changed {
		t.Error("re-running with the same settings reported a change")
	}
	if d := diff(before, snapshot(t, filepath.Dir(dir))); len(d) > 0 {
		t.Errorf("re-running with the same settings changed %q", d)
	}

	opts.Labels = map[string]string{"region": "south"}
	opts.Force = true
	forced, err := l.Bootstrap(opts)
	if err != nil {
		t.Fatal(err)
	}
	if forced.Site.User != first.Site.User || forced.AccountChanged {
		t.Errorf("--force changed the site's key (%s -> %s) or the account", first.Site.User, forced.Site.User)
	}
	readme, _ := os.ReadFile(filepath.Join(site, "README.md"))
	if !strings.Contains(string(readme), "region=south") {
		t.Error("--force did not rewrite the README with the new label")
	}

	opts.InstallDir = "/opt/wasmcanvas/a"
	if _, err := l.Bootstrap(opts); err != nil {
		t.Fatal(err)
	}
	leaf, _ := os.ReadFile(filepath.Join(site, edge.SiteConfigFile))
	unit, _ := os.ReadFile(filepath.Join(site, "systemd", "wasmcanvas-leaf.service"))
	if !strings.Contains(string(leaf), `"/opt/wasmcanvas/a/site.creds"`) || !strings.Contains(string(unit), "-c /opt/wasmcanvas/a/leaf.conf") {
		t.Errorf("--install-dir not used by leaf.conf and the units:\n%s\n%s", leaf, unit)
	}

	opts.Force, opts.Rotate = false, true
	rotated, err := l.Bootstrap(opts)
	if err != nil {
		t.Fatal(err)
	}
	if rotated.Site.User == first.Site.User || !rotated.AccountChanged {
		t.Fatalf("--rotate kept the key or left the account: %+v", rotated)
	}
	ac, err := jwt.DecodeAccountClaims(l.AccountJWT())
	if err != nil {
		t.Fatal(err)
	}
	if !ac.IsClaimRevoked(&jwt.UserClaims{ClaimsData: jwt.ClaimsData{Subject: first.Site.User, IssuedAt: first.Site.Issued.Unix()}}) {
		t.Error("--rotate did not revoke the old key in the account JWT")
	}
	hubConf, _ := os.ReadFile(filepath.Join(dir, "hub", "nats.conf"))
	if !strings.Contains(string(hubConf), l.AccountJWT()) {
		t.Error("hub/nats.conf does not preload the new account JWT")
	}
}

// No file but keys/ and the creds files holds a seed, and the seeds are
// only readable by their owner.
func TestSecretsStayInTheirFiles(t *testing.T) {
	t.Parallel()
	l, dir, _ := newLattice(t)
	if _, err := l.Bootstrap(edge.SiteOptions{Name: "a", Hub: "nats://hub:7422"}); err != nil {
		t.Fatal(err)
	}
	found := 0
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if seedLike.Match(b) {
			found++
			if fi.Mode().Perm()&0o077 != 0 {
				t.Errorf("%s holds a seed and is %v", p, fi.Mode().Perm())
			}
			rel, _ := filepath.Rel(dir, p)
			if !strings.HasPrefix(rel, "keys/") && !strings.HasSuffix(rel, ".creds") {
				t.Errorf("%s holds a seed", rel)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// 5 keys, 5 role creds, admin, site a.
	if found != 12 {
		t.Errorf("%d files hold a seed, want 12", found)
	}
}

// Open checks lattice.json against the keys and the rules bootstrap wrote
// it by: a later bootstrap signs credentials for its lattice name and
// removes a moved site's old directory (sites[].dir), so a hand-edited or
// mixed-up file is refused, naming the file and the field.
func TestOpenRefusesBadState(t *testing.T) {
	t.Parallel()
	l, dir, _ := newLattice(t)
	for _, name := range []string{"a", "b"} {
		if _, err := l.Bootstrap(edge.SiteOptions{Name: name, Hub: "nats://hub:7422"}); err != nil {
			t.Fatal(err)
		}
	}
	other, _, _ := newLattice(t)
	statePath := filepath.Join(dir, edge.StateFile)
	good, err := os.ReadFile(statePath)
	if err != nil {
		t.Fatal(err)
	}
	siteA := filepath.Join(dir, "sites", "a")
	for _, tt := range []struct {
		name    string
		edit    func(st map[string]any, sites []any)
		wantErr []string
	}{
		{"lattice name", func(st map[string]any, _ []any) { st["lattice"] = "x.>" }, []string{"lattice:"}},
		{"nats-server", func(st map[string]any, _ []any) { st["natsServer"] = "/bin/sh -c reboot" }, []string{"natsServer"}},
		{"another lattice's account", func(st map[string]any, _ []any) { st["account"] = other.State().Account }, []string{"account", "keys/account.nk"}},
		{"site dir is the lattice", func(_ map[string]any, s []any) { s[0].(map[string]any)["dir"] = dir }, []string{"sites[0].dir", "holds the lattice directory"}},
		{"site dir is the root", func(_ map[string]any, s []any) { s[0].(map[string]any)["dir"] = "/" }, []string{"sites[0].dir", "holds the lattice directory"}},
		{"site dir is the keys", func(_ map[string]any, s []any) { s[0].(map[string]any)["dir"] = filepath.Join(dir, "keys") }, []string{"sites[0].dir", "not under its sites/"}},
		{"relative site dir", func(_ map[string]any, s []any) { s[0].(map[string]any)["dir"] = "sites/a" }, []string{"sites[0].dir", "absolute"}},
		{"unclean site dir", func(_ map[string]any, s []any) { s[0].(map[string]any)["dir"] = siteA + "/../a" }, []string{"sites[0].dir", "clean"}},
		{"site inside a site", func(_ map[string]any, s []any) { s[1].(map[string]any)["dir"] = filepath.Join(siteA, "b") }, []string{"sites[1].dir", "inside site a's directory"}},
		{"two sites, one dir", func(_ map[string]any, s []any) { s[1].(map[string]any)["dir"] = siteA }, []string{"sites[1].dir", "site a's directory too"}},
		{"site twice", func(_ map[string]any, s []any) { s[1].(map[string]any)["name"] = "a" }, []string{"sites[1].name", "twice"}},
		{"site name", func(_ map[string]any, s []any) { s[0].(map[string]any)["name"] = "a.>" }, []string{"sites[0].name", "not a site name"}},
		{"site user", func(_ map[string]any, s []any) { s[0].(map[string]any)["user"] = "UNOTAKEY" }, []string{"sites[0].user"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var st map[string]any
			if err := json.Unmarshal(good, &st); err != nil {
				t.Fatal(err)
			}
			tt.edit(st, st["sites"].([]any))
			b, err := json.Marshal(st)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(statePath, b, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err = edge.Open(dir, time.Now())
			if err == nil {
				t.Fatal("opened")
			}
			for _, w := range append(tt.wantErr, statePath) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
	t.Run("another lattice's account JWT", func(t *testing.T) {
		if err := os.WriteFile(statePath, good, 0o644); err != nil {
			t.Fatal(err)
		}
		jwtPath := filepath.Join(dir, "accounts", "account.jwt")
		if err := os.WriteFile(jwtPath, []byte(other.AccountJWT()+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := edge.Open(dir, time.Now())
		if err == nil || !strings.Contains(err.Error(), jwtPath) || !strings.Contains(err.Error(), "mixes two lattices") {
			t.Errorf("Open with another lattice's account JWT: %v", err)
		}
	})
}

// A lattice directory may hold spaces and what systemd or a shell would
// expand: the hub's unit names its config as one argument with nothing
// expanded, and nats-server starts from that config.
func TestLatticeDirWithSpaces(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), `my lattice %h $HOME "q"`)
	_, err := edge.Init(edge.InitOptions{
		Dir:    dir,
		Listen: "127.0.0.1:" + strconv.Itoa(freePort(t)), LeafListen: "127.0.0.1:" + strconv.Itoa(freePort(t)),
	})
	if err != nil {
		t.Fatal(err)
	}
	unit, err := os.ReadFile(filepath.Join(dir, "hub", "wasmcanvas-hub.service"))
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "hub", "nats.conf")
	quoted := `"` + strings.NewReplacer(`%`, `%%`, `$`, `$$`, `"`, `\"`).Replace(conf) + `"`
	if want := "\nExecStart=" + edge.DefaultNATSServer + " -c " + quoted + "\n"; !strings.Contains(string(unit), want) {
		t.Errorf("hub unit:\n%s\nwant the line%s", unit, want)
	}
	edgetest.StartServer(t, conf)
}
