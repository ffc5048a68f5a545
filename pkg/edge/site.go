package edge

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"

	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

// SiteLabel is the host label every site's hosts carry: site=NAME (the
// label a Component's placement selects on, owned by pkg/oda).
const SiteLabel = oda.SiteLabel

const maxSiteLen = 64

// SiteOptions are `canvas edge bootstrap`'s settings.
type SiteOptions struct {
	Name string
	// Hub is the hub's leaf-node URL, nats:// or tls://.
	Hub    string
	Labels map[string]string
	// Dir is the site directory; empty means sites/NAME in the lattice
	// directory.
	Dir string
	// InstallDir is where the directory will sit on the site's machine: the
	// leaf config and systemd units name files by it. Empty means Dir.
	InstallDir string
	// Listen is the leaf node's address for the site's local clients.
	Listen string
	// Expiry bounds the site's credentials; 0 means they never expire.
	Expiry time.Duration
	// Force rewrites an existing directory or a known site's settings
	// (keeping its key); Rotate issues the site a new key and revokes the
	// old one.
	Force, Rotate bool
	// Node makes the start script and the host unit run `canvas node`
	// (the canvas's own host) instead of a wasmCloud host.
	Node bool
}

// BootstrapResult says what Bootstrap did.
type BootstrapResult struct {
	Site Site
	// Changed is false when the site was already bootstrapped with the same
	// settings and nothing was written.
	Changed bool
	// AccountChanged is true when the account JWT changed (--rotate revoked
	// the old key): push AccountJWT to the hub.
	AccountChanged bool
}

// ParseLabels parses k=v pairs as --label gives them.
func ParseLabels(pairs []string) (map[string]string, error) {
	labels := map[string]string{}
	var errs []error
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			errs = append(errs, fmt.Errorf("--label %q: want key=value, e.g. --label region=north", p))
			continue
		}
		if _, dup := labels[k]; dup {
			errs = append(errs, fmt.Errorf("--label %s given twice: keep one", k))
			continue
		}
		labels[k] = v
	}
	return labels, optionsError(errs)
}

// ValidateSiteName checks a site name: it is a subject token and a host
// label value, 1-64 ASCII letters, digits, '-' or '_'.
func ValidateSiteName(name string) error {
	if name == "" {
		return errors.New("--site is empty: name the site, e.g. --site north-1")
	}
	if len(name) > maxSiteLen {
		return fmt.Errorf("--site %.20q... is %d characters long: the limit is %d", name, len(name), maxSiteLen)
	}
	if err := subject.ValidateAppName(name); err != nil {
		return fmt.Errorf("--site: %w", err)
	}
	return nil
}

func validateLabels(labels map[string]string) error {
	var errs []error
	for k, v := range labels {
		if err := subject.ValidateAppName(k); err != nil {
			errs = append(errs, fmt.Errorf("--label %s=%s: key: %w", k, v, err))
		}
		if v != "" && (!unitSafe(v) || strings.ContainsFunc(v, func(r rune) bool { return r > 0x7e })) {
			errs = append(errs, fmt.Errorf("--label %s=%q: the value goes unquoted into start.sh and the systemd units: use ASCII %s only", k, v, unitSafeChars))
		}
	}
	return errors.Join(errs...)
}

// unitSafeChars names what unitSafe lets through.
const unitSafeChars = "letters, digits and - _ . : / @ + , = [ ]"

// unitSafe reports whether s can stand unquoted as one word in start.sh
// and in a systemd unit's ExecStart or WorkingDirectory, where the site's
// files put the hub URL, the listen host, label values and paths (the
// templates quote nothing): no white space, quotes or backslashes, and
// nothing a shell or systemd expands or splits on ($ % ` ; & | * ? ! ( )
// < > ~ # and the like).
func unitSafe(s string) bool {
	return s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune("-_.:/@+,=[]", r)
	})
}

// validateNATSURL accepts nats://host:port and tls://host:port only.
func validateNATSURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not a URL: want nats://HOST:PORT or tls://HOST:PORT", raw)
	}
	if u.Scheme != "nats" && u.Scheme != "tls" {
		return fmt.Errorf("%q: scheme %q is not nats or tls: want nats://HOST:PORT or tls://HOST:PORT", raw, u.Scheme)
	}
	if u.User != nil {
		return fmt.Errorf("the URL holds user info: leave it out, the site's credentials authenticate it")
	}
	if u.Port() == "" || (u.Path != "" && u.Path != "/") {
		return fmt.Errorf("%q: want nats://HOST:PORT or tls://HOST:PORT with the port and nothing after it", raw)
	}
	return nil
}

func (o *SiteOptions) validate() error {
	var errs []error
	if err := ValidateSiteName(o.Name); err != nil {
		errs = append(errs, err)
	}
	if o.Hub == "" {
		errs = append(errs, errors.New("--hub is empty: give the hub's leaf-node URL, e.g. --hub nats://hub.example.net:7422"))
	} else if err := validateNATSURL(o.Hub); err != nil {
		errs = append(errs, fmt.Errorf("--hub: %w", err))
	} else if !unitSafe(o.Hub) {
		errs = append(errs, fmt.Errorf("--hub %q: the URL goes unquoted into start.sh and the systemd units: use %s only", o.Hub, unitSafeChars))
	}
	if v, ok := o.Labels[SiteLabel]; ok && v != o.Name {
		errs = append(errs, fmt.Errorf("--label %s=%s contradicts --site %s: the site label is set for you; drop it", SiteLabel, v, o.Name))
	}
	if err := validateLabels(o.Labels); err != nil {
		errs = append(errs, err)
	}
	if err := validateHostPort(o.Listen); err != nil {
		errs = append(errs, fmt.Errorf("--listen: %w", err))
	} else if !unitSafe(o.Listen) {
		errs = append(errs, fmt.Errorf("--listen %q: the address goes unquoted into start.sh and the systemd units: use %s only", o.Listen, unitSafeChars))
	}
	if o.InstallDir != "" && (!filepath.IsAbs(o.InstallDir) || !unitSafe(o.InstallDir)) {
		errs = append(errs, fmt.Errorf("--install-dir %q: want an absolute path of %s only (the systemd units name it unquoted), e.g. /opt/wasmcanvas/site", o.InstallDir, unitSafeChars))
	}
	if o.Expiry < 0 {
		errs = append(errs, fmt.Errorf("--expiry %s is negative: give a duration such as 8760h, or 0 for never", o.Expiry))
	}
	return optionsError(errs)
}

// Bootstrap writes a site's directory (leaf config, credentials, start
// script, systemd units, README) and records the site in lattice.json.
// Re-running it with the same settings writes nothing.
func (l *Lattice) Bootstrap(opts SiteOptions) (BootstrapResult, error) {
	if opts.Listen == "" {
		opts.Listen = DefaultSiteListen
	}
	labels := map[string]string{}
	for k, v := range opts.Labels {
		labels[k] = v
	}
	opts.Labels = labels
	if err := opts.validate(); err != nil {
		return BootstrapResult{}, err
	}
	opts.Labels[SiteLabel] = opts.Name
	dir := opts.Dir
	if dir == "" {
		dir = filepath.Join(l.dir, sitesDir, opts.Name)
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return BootstrapResult{}, fmt.Errorf("--out %s: %w", opts.Dir, err)
	}
	if err := l.checkSiteDir(opts.Name, dir); err != nil {
		return BootstrapResult{}, fmt.Errorf("--out %s: %w", dir, err)
	}
	now := l.now()
	if !unitSafe(dir) && opts.InstallDir == "" {
		return BootstrapResult{}, &OptionsError{fmt.Errorf("--out %q holds characters other than %s, which the systemd units cannot name unquoted: pick another directory or give --install-dir", dir, unitSafeChars)}
	}
	install := opts.InstallDir
	if install == "" {
		install = dir
	}
	want := Site{Name: opts.Name, Hub: opts.Hub, Labels: opts.Labels, Dir: dir, InstallDir: install, Listen: opts.Listen, Issued: now, Node: opts.Node}
	if opts.Expiry > 0 {
		want.Expires = now.Add(opts.Expiry)
	}

	var userKey nkeys.KeyPair
	old := l.state.site(opts.Name)
	force := opts.Force
	if old != nil {
		same := old.Hub == want.Hub && old.Dir == want.Dir && old.InstallDir == want.InstallDir && old.Listen == want.Listen && old.Node == want.Node &&
			maps.Equal(old.Labels, want.Labels)
		switch {
		case old.Revoked != nil && !opts.Rotate:
			return BootstrapResult{}, fmt.Errorf("site %s was revoked at %s: give --rotate to issue it new credentials", opts.Name, old.Revoked.UTC().Format(time.RFC3339))
		case opts.Rotate:
			force = true
		case same && !opts.Force && siteIntact(*old):
			return BootstrapResult{Site: *old}, nil
		case !opts.Force:
			return BootstrapResult{}, fmt.Errorf("site %s already exists (directory %s, hub %s): re-run with its settings to leave it as it is, --force to rewrite it with these (same key), or --rotate for new credentials",
				opts.Name, old.Dir, old.Hub)
		default:
			// --force on a known site keeps its key: read it back from the
			// credentials the site directory holds.
			if userKey, err = readUserKey(filepath.Join(old.Dir, SiteCredsFile), old.User); err != nil {
				return BootstrapResult{}, fmt.Errorf("site %s: %w; give --rotate to issue new credentials instead", opts.Name, err)
			}
			if old.Dir != dir {
				if err := checkTarget(dir, false); err != nil {
					return BootstrapResult{}, err
				}
			}
		}
	}
	if err := checkTarget(dir, force); err != nil {
		return BootstrapResult{}, err
	}
	if userKey == nil {
		if userKey, err = nkeys.CreateUser(); err != nil {
			return BootstrapResult{}, err
		}
	}
	want.User = publicKey(userKey)
	var expires int64
	if !want.Expires.IsZero() {
		expires = want.Expires.Unix()
	}
	creds, err := l.userCreds("site-"+opts.Name, sitePermissions(l.state.Lattice, opts.Name), []string{jwt.ConnectionTypeLeafnode}, expires, userKey)
	if err != nil {
		return BootstrapResult{}, fmt.Errorf("credentials of site %s: %w", opts.Name, err)
	}
	files, err := l.siteFiles(want)
	if err != nil {
		return BootstrapResult{}, err
	}
	files = append(files, file{SiteCredsFile, creds, 0o600})

	res := BootstrapResult{Site: want, Changed: true}
	next := l.state
	next.Sites = slices.DeleteFunc(slices.Clone(l.state.Sites), func(s Site) bool { return s.Name == opts.Name })
	next.Sites = append(next.Sites, want)
	var updates []file
	accountJWT := l.accountJWT
	if old != nil && opts.Rotate && old.User != want.User {
		if accountJWT, err = l.revoked(old.User, now); err != nil {
			return BootstrapResult{}, err
		}
		res.AccountChanged = true
	}
	if err := writeTree(dir, files, force); err != nil {
		return BootstrapResult{}, err
	}
	prev := l.state
	prevJWT := l.accountJWT
	l.state, l.accountJWT = next, accountJWT
	if updates, err = l.stateUpdates(res.AccountChanged); err == nil {
		err = replaceFiles(l.dir, updates)
	}
	if err != nil {
		l.state, l.accountJWT = prev, prevJWT
		if old == nil {
			_ = os.RemoveAll(dir)
		}
		return BootstrapResult{}, fmt.Errorf("record site %s in %s: %w", opts.Name, filepath.Join(l.dir, StateFile), err)
	}
	if old != nil && old.Dir != dir {
		_ = os.RemoveAll(old.Dir)
	}
	return res, nil
}

// stateUpdates are lattice.json and, when the account changed, its JWT and
// the hub config that preloads it; lattice.json comes last.
func (l *Lattice) stateUpdates(accountChanged bool) ([]file, error) {
	var files []file
	if accountChanged {
		files = append(files, file{filepath.Join(accountsDir, "account.jwt"), []byte(l.accountJWT + "\n"), 0o644})
		hub, err := l.hubFiles()
		if err != nil {
			return nil, err
		}
		files = append(files, hub...)
	}
	st, err := l.stateFile()
	if err != nil {
		return nil, err
	}
	return append(files, st), nil
}

// revoked returns the account JWT with user revoked as of at.
func (l *Lattice) revoked(user string, at time.Time) (string, error) {
	ac, err := jwt.DecodeAccountClaims(l.accountJWT)
	if err != nil {
		return "", fmt.Errorf("lattice account JWT: %w", err)
	}
	ac.RevokeAt(user, at)
	ac.IssuedAt = at.Unix()
	token, err := ac.Encode(l.keys.operatorSigning)
	if err != nil {
		return "", fmt.Errorf("sign the lattice account JWT: %w", err)
	}
	return token, nil
}

// Revoke revokes a site's credentials in the lattice account and records
// it; push AccountJWT to the hub afterwards (hubclient.PushAccount). A site
// revoked already is left as it is, so a failed push can be retried.
func (l *Lattice) Revoke(name string) (Site, error) {
	s := l.state.site(name)
	if s == nil {
		return Site{}, l.unknownSite(name)
	}
	if s.Revoked != nil {
		return *s, nil
	}
	now := l.now()
	token, err := l.revoked(s.User, now)
	if err != nil {
		return Site{}, err
	}
	prev, prevJWT := l.State(), l.accountJWT
	s.Revoked = &now
	l.accountJWT = token
	updates, err := l.stateUpdates(true)
	if err == nil {
		err = replaceFiles(l.dir, updates)
	}
	if err != nil {
		l.state, l.accountJWT = prev, prevJWT
		return Site{}, fmt.Errorf("record the revocation of site %s: %w", name, err)
	}
	return *s, nil
}

func (l *Lattice) unknownSite(name string) error {
	names := make([]string, 0, len(l.state.Sites))
	for _, s := range l.state.Sites {
		names = append(names, s.Name)
	}
	if len(names) == 0 {
		return fmt.Errorf("no site %q: lattice %s has no sites yet (canvas edge bootstrap adds one)", name, l.state.Lattice)
	}
	return fmt.Errorf("no site %q in lattice %s: the sites are %s (canvas edge list)", name, l.state.Lattice, strings.Join(names, ", "))
}

// checkSiteDir refuses a directory for site name that writeTree, which
// replaces the directory whole under --force, would take something else
// with: the lattice directory or one holding it, a part of the lattice
// directory other than sites/, or another site's directory, one inside it
// or one holding it. dir is absolute and clean.
func (l *Lattice) checkSiteDir(name, dir string) error {
	if err := l.checkOutsideLattice(name, dir); err != nil {
		return err
	}
	for _, s := range l.state.Sites {
		if s.Name == name && s.Dir == dir || !within(dir, s.Dir) && !within(s.Dir, dir) {
			continue
		}
		if s.Name == name {
			// Moving a site removes its old directory after writing the new one.
			return fmt.Errorf("overlaps site %s's current directory %s: move it to a directory beside that one, not inside or above it", name, s.Dir)
		}
		return fmt.Errorf("overlaps site %s's directory %s: give site %s a directory of its own", s.Name, s.Dir, name)
	}
	return nil
}

// checkOutsideLattice is checkSiteDir's rule for the lattice directory.
func (l *Lattice) checkOutsideLattice(name, dir string) error {
	sites := filepath.Join(l.dir, sitesDir)
	switch {
	case within(dir, l.dir):
		return fmt.Errorf("holds the lattice directory %s: give site %s a directory of its own, e.g. the default %s", l.dir, name, filepath.Join(sites, name))
	case within(l.dir, dir) && !within(sites, dir):
		return fmt.Errorf("is inside the lattice directory %s but not under its %s/: give site %s %s (the default) or a directory outside the lattice directory", l.dir, sitesDir, name, filepath.Join(sites, name))
	}
	return nil
}

// within reports whether p is dir or below it; both are absolute and clean.
func within(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// siteIntact reports whether a site's directory still holds its files.
func siteIntact(s Site) bool {
	for _, f := range []string{SiteCredsFile, SiteConfigFile, siteStart, siteReadme, siteLeafUnit, siteHostUnit} {
		if _, err := os.Stat(filepath.Join(s.Dir, f)); err != nil {
			return false
		}
	}
	return true
}

// readUserKey reads the seed of a creds file and checks it is user's.
func readUserKey(path, user string) (nkeys.KeyPair, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the site's key: %w", err)
	}
	kp, err := jwt.ParseDecoratedUserNKey(raw)
	if err != nil {
		return nil, fmt.Errorf("%s holds no user seed", path)
	}
	if publicKey(kp) != user {
		return nil, fmt.Errorf("%s holds another user's key than lattice.json records", path)
	}
	return kp, nil
}
