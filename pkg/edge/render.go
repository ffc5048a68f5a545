package edge

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/wasmcanvas/wasmcanvas/deploy"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
)

var templates = template.Must(template.New("deploy").Funcs(template.FuncMap{
	// strconv.Quote's escapes are a subset of what nats-server's config
	// parser reads in a double-quoted string.
	"quote":   strconv.Quote,
	"unitArg": unitArg,
}).ParseFS(deploy.Templates, "hub/*.tmpl", "site/*.tmpl"))

// unitArg is s as one argument of a systemd unit's ExecStart: itself when
// unitSafe, else double-quoted with C escapes, and its % and $ doubled so
// that systemd expands no specifier or variable in it.
func unitArg(s string) string {
	if unitSafe(s) {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '\\' || r == '"':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '%' || r == '$':
			b.WriteRune(r)
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\x%02x", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func render(name string, data any) ([]byte, error) {
	var b bytes.Buffer
	if err := templates.ExecuteTemplate(&b, name, data); err != nil {
		return nil, fmt.Errorf("render %s: %w", name, err)
	}
	return b.Bytes(), nil
}

type hubAccount struct{ Name, Public, JWT string }

// hubFiles renders hub/nats.conf (with the current account JWTs preloaded)
// and hub/wasmcanvas-hub.service.
func (l *Lattice) hubFiles() ([]file, error) {
	conf := filepath.Join(l.dir, hubConfigFile)
	data := map[string]any{
		"Lattice":         l.state.Lattice,
		"ServerName":      l.state.Lattice + "-hub",
		"Listen":          l.state.Listen,
		"LeafListen":      l.state.LeafListen,
		"JetStreamDir":    filepath.Join(l.dir, hubDir, "jetstream"),
		"OperatorJWTFile": filepath.Join(l.dir, OperatorJWTFile),
		"SystemAccount":   l.state.SystemAccount,
		"ResolverDir":     filepath.Join(l.dir, hubDir, "jwt"),
		"Accounts": []hubAccount{
			{"SYS", l.state.SystemAccount, l.systemJWT},
			{l.state.Lattice, l.state.Account, l.accountJWT},
		},
		"NATSServer": l.state.NATSServer,
		"ConfigFile": conf,
	}
	cfg, err := render("nats.conf.tmpl", data)
	if err != nil {
		return nil, err
	}
	unit, err := render("wasmcanvas-hub.service.tmpl", data)
	if err != nil {
		return nil, err
	}
	return []file{{hubConfigFile, cfg, 0o644}, {hubUnitFile, unit, 0o644}}, nil
}

// Files of a site directory.
const (
	SiteCredsFile  = "site.creds"
	SiteConfigFile = "leaf.conf"
	// SiteNodeStateDir is canvas node's state directory in a site
	// bootstrapped with --node.
	SiteNodeStateDir = "node"
	siteStart        = "start.sh"
	siteReadme       = "README.md"
	siteLeafUnit     = "systemd/wasmcanvas-leaf.service"
	siteHostUnit     = "systemd/wasmcanvas-host.service"
)

// siteFiles renders every file of a site's directory but its credentials.
func (l *Lattice) siteFiles(s Site) ([]file, error) {
	host, port, err := net.SplitHostPort(s.Listen)
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(s.Labels))
	for k := range s.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	labelArgs := make([]string, 0, len(keys))
	for _, k := range keys {
		labelArgs = append(labelArgs, "--label "+k+"="+s.Labels[k])
	}
	expires := "never"
	if !s.Expires.IsZero() {
		expires = "on " + s.Expires.UTC().Format(time.RFC3339)
	}
	data := map[string]any{
		"Site": s.Name, "Lattice": l.state.Lattice, "Hub": s.Hub,
		"ServerName": LeafServerName(l.state.Lattice, s.Name),
		"Listen":     s.Listen, "ListenHost": host, "ListenPort": port,
		"CredsFile": filepath.Join(s.InstallDir, SiteCredsFile), "Dir": s.InstallDir,
		"LabelArgs": strings.Join(labelArgs, " "), "Issued": s.Issued.UTC().Format(time.RFC3339),
		"Expires": expires, "SiteSubjects": subject.EdgeSiteAll(l.state.Lattice, s.Name),
		"Node": s.Node, "NodeStateDir": filepath.Join(s.InstallDir, SiteNodeStateDir), "NodeStateDirName": SiteNodeStateDir,
	}
	var out []file
	for _, f := range []struct {
		tmpl, path string
		mode       os.FileMode
	}{
		{"leaf.conf.tmpl", SiteConfigFile, 0o644},
		{"start.sh.tmpl", siteStart, 0o755},
		{"wasmcanvas-leaf.service.tmpl", siteLeafUnit, 0o644},
		{"wasmcanvas-host.service.tmpl", siteHostUnit, 0o644},
		{"README.md.tmpl", siteReadme, 0o644},
	} {
		b, err := render(f.tmpl, data)
		if err != nil {
			return nil, err
		}
		out = append(out, file{f.path, b, f.mode})
	}
	return out, nil
}

// LeafServerName is a site's leaf node's server_name, {lattice}-site-{site}:
// how the hub's leaf-node list names it.
func LeafServerName(lattice, site string) string { return lattice + "-site-" + site }
