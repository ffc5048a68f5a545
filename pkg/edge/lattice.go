package edge

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"

	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
)

// The lattice directory's layout. Seeds live under keys/ and creds/ (0700
// directories, 0600 files); everything else is public.
const (
	StateFile       = "lattice.json"
	OperatorJWTFile = "operator.jwt"
	keysDir         = "keys"
	credsDir        = "creds"
	accountsDir     = "accounts"
	hubDir          = "hub"
	hubConfigFile   = "hub/nats.conf"
	hubUnitFile     = "hub/wasmcanvas-hub.service"
	// AdminCreds is the system-account user `canvas edge revoke|list` use
	// to push account JWTs and ask for leaf nodes.
	AdminCreds = "creds/admin.creds"
	sitesDir   = "sites"
)

// Defaults of InitOptions and SiteOptions.
const (
	DefaultListen      = "0.0.0.0:4222"
	DefaultLeafListen  = "0.0.0.0:7422"
	DefaultSiteListen  = "127.0.0.1:4222"
	DefaultCredsExpiry = 365 * 24 * time.Hour
	DefaultNATSServer  = "/usr/local/bin/nats-server"
)

// State is lattice.json: what is known about the lattice that is not a
// secret.
type State struct {
	Lattice       string `json:"lattice"`
	Operator      string `json:"operator"`
	SystemAccount string `json:"systemAccount"`
	Account       string `json:"account"`
	// ClientURL is where the canvas reaches the hub's client port.
	ClientURL  string `json:"clientURL"`
	Listen     string `json:"listen"`
	LeafListen string `json:"leafListen"`
	NATSServer string `json:"natsServer"`
	Sites      []Site `json:"sites"`
}

// Site is one edge site as lattice.json records it.
type Site struct {
	Name   string            `json:"name"`
	User   string            `json:"user"`
	Hub    string            `json:"hub"`
	Labels map[string]string `json:"labels"`
	Dir    string            `json:"dir"`
	// InstallDir is where Dir goes on the site's machine.
	InstallDir string    `json:"installDir"`
	Listen     string    `json:"listen"`
	Issued     time.Time `json:"issued"`
	// Expires is zero when the credentials never expire.
	Expires time.Time  `json:"expires,omitzero"`
	Revoked *time.Time `json:"revoked,omitempty"`
	// Node is true when the site runs `canvas node` instead of a wasmCloud
	// host (bootstrap --node).
	Node bool `json:"node,omitempty"`
}

func (s *State) site(name string) *Site {
	for i := range s.Sites {
		if s.Sites[i].Name == name {
			return &s.Sites[i]
		}
	}
	return nil
}

// InitOptions are `canvas lattice init`'s settings.
type InitOptions struct {
	// Dir is the lattice directory to create.
	Dir     string
	Lattice string
	// Listen and LeafListen are the hub's client and leaf-node addresses.
	Listen, LeafListen string
	// ClientURL is how the canvas reaches the hub; empty derives it from
	// Listen (0.0.0.0 becomes 127.0.0.1).
	ClientURL string
	// CredsExpiry bounds the users' JWTs; 0 means they never expire.
	CredsExpiry time.Duration
	// OperatorExpiry bounds the operator's and accounts' JWTs; 0 means never.
	OperatorExpiry time.Duration
	// NATSServer is the nats-server binary the hub's systemd unit runs.
	NATSServer string
	// Force replaces an existing lattice directory.
	Force bool
	Now   time.Time
}

func (o *InitOptions) provision() {
	if o.Lattice == "" {
		o.Lattice = subject.DefaultLattice
	}
	if o.Listen == "" {
		o.Listen = DefaultListen
	}
	if o.LeafListen == "" {
		o.LeafListen = DefaultLeafListen
	}
	if o.NATSServer == "" {
		o.NATSServer = DefaultNATSServer
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.ClientURL == "" {
		host, port, err := net.SplitHostPort(o.Listen)
		if err == nil {
			if host == "" || host == "0.0.0.0" || host == "::" {
				host = "127.0.0.1"
			}
			o.ClientURL = "nats://" + net.JoinHostPort(host, port)
		}
	}
}

func (o InitOptions) validate() error {
	var errs []error
	if o.Dir == "" {
		errs = append(errs, errors.New("--out is empty: name the directory to create, e.g. --out lattice"))
	}
	if err := subject.ValidateLattice(o.Lattice); err != nil {
		errs = append(errs, fmt.Errorf("--lattice: %w", err))
	}
	if err := validateHostPort(o.Listen); err != nil {
		errs = append(errs, fmt.Errorf("--listen: %w", err))
	}
	if err := validateHostPort(o.LeafListen); err != nil {
		errs = append(errs, fmt.Errorf("--leaf-listen: %w", err))
	}
	if err := validateNATSURL(o.ClientURL); err != nil {
		errs = append(errs, fmt.Errorf("--client-url: %w", err))
	}
	if !unitSafe(o.NATSServer) {
		errs = append(errs, fmt.Errorf("--nats-server %q: the hub's systemd unit runs it unquoted: use %s only, e.g. %s", o.NATSServer, unitSafeChars, DefaultNATSServer))
	}
	if o.CredsExpiry < 0 {
		errs = append(errs, fmt.Errorf("--creds-expiry %s is negative: give a duration such as 8760h, or 0 for never", o.CredsExpiry))
	}
	if o.OperatorExpiry < 0 {
		errs = append(errs, fmt.Errorf("--operator-expiry %s is negative: give a duration such as 87600h, or 0 for never", o.OperatorExpiry))
	}
	return optionsError(errs)
}

// OptionsError is a setting given to Init or Bootstrap that is wrong in
// itself (a bad name, URL or duration), as opposed to a failure to carry
// the settings out; the CLI reports it as a usage error.
type OptionsError struct{ Err error }

func (e *OptionsError) Error() string { return e.Err.Error() }
func (e *OptionsError) Unwrap() error { return e.Err }

func optionsError(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return &OptionsError{errors.Join(errs...)}
}

func validateHostPort(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port: %w", addr, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%q: port %q is not 1-65535", addr, port)
	}
	return nil
}

// Lattice is an open lattice directory: its state and its keys.
type Lattice struct {
	dir   string
	state State
	keys  keySet
	// accountJWT is the lattice account's current JWT.
	accountJWT, systemJWT, operatorJWT string
	now                                func() time.Time
}

// keySet holds the seeds of keys/: never printed, never logged.
type keySet struct {
	operator, operatorSigning, system, account, accountSigning nkeys.KeyPair
}

var keyFiles = []struct {
	name string
	get  func(*keySet) *nkeys.KeyPair
}{
	{"operator.nk", func(k *keySet) *nkeys.KeyPair { return &k.operator }},
	{"operator-signing.nk", func(k *keySet) *nkeys.KeyPair { return &k.operatorSigning }},
	{"system.nk", func(k *keySet) *nkeys.KeyPair { return &k.system }},
	{"account.nk", func(k *keySet) *nkeys.KeyPair { return &k.account }},
	{"account-signing.nk", func(k *keySet) *nkeys.KeyPair { return &k.accountSigning }},
}

// Dir is the lattice directory.
func (l *Lattice) Dir() string { return l.dir }

// State is a copy of lattice.json.
func (l *Lattice) State() State {
	s := l.state
	s.Sites = append([]Site(nil), l.state.Sites...)
	return s
}

// AccountJWT is the lattice account's current JWT (public).
func (l *Lattice) AccountJWT() string { return l.accountJWT }

// AdminCredsFile is the system-account credentials file.
func (l *Lattice) AdminCredsFile() string { return filepath.Join(l.dir, AdminCreds) }

// Init creates a lattice directory: keys, JWTs, role credentials and the
// hub's config, all at once or not at all. It returns the opened lattice.
func Init(opts InitOptions) (*Lattice, error) {
	opts.provision()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("--out %s: %w", opts.Dir, err)
	}
	if err := checkTarget(dir, opts.Force); err != nil {
		return nil, err
	}
	l := &Lattice{dir: dir, now: func() time.Time { return opts.Now }}
	for _, kf := range keyFiles {
		create := nkeys.CreateAccount
		switch kf.name {
		case "operator.nk", "operator-signing.nk":
			create = nkeys.CreateOperator
		}
		kp, err := create()
		if err != nil {
			return nil, fmt.Errorf("create key %s: %w", kf.name, err)
		}
		*kf.get(&l.keys) = kp
	}
	l.state = State{
		Lattice: opts.Lattice, ClientURL: opts.ClientURL, Listen: opts.Listen, LeafListen: opts.LeafListen,
		NATSServer: opts.NATSServer, Sites: []Site{},
	}
	l.state.Operator = publicKey(l.keys.operator)
	l.state.SystemAccount = publicKey(l.keys.system)
	l.state.Account = publicKey(l.keys.account)

	expires := func(d time.Duration) int64 {
		if d == 0 {
			return 0
		}
		return opts.Now.Add(d).Unix()
	}
	oc := jwt.NewOperatorClaims(l.state.Operator)
	oc.Name = opts.Lattice + "-operator"
	oc.SigningKeys.Add(publicKey(l.keys.operatorSigning))
	oc.SystemAccount = l.state.SystemAccount
	oc.IssuedAt = opts.Now.Unix()
	oc.Expires = expires(opts.OperatorExpiry)
	if l.operatorJWT, err = oc.Encode(l.keys.operator); err != nil {
		return nil, fmt.Errorf("sign the operator JWT: %w", err)
	}
	sc := jwt.NewAccountClaims(l.state.SystemAccount)
	sc.Name = "SYS"
	sc.IssuedAt = opts.Now.Unix()
	sc.Expires = expires(opts.OperatorExpiry)
	if l.systemJWT, err = sc.Encode(l.keys.operatorSigning); err != nil {
		return nil, fmt.Errorf("sign the system account JWT: %w", err)
	}
	ac := jwt.NewAccountClaims(l.state.Account)
	ac.Name = opts.Lattice
	ac.SigningKeys.Add(publicKey(l.keys.accountSigning))
	ac.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1}
	ac.IssuedAt = opts.Now.Unix()
	ac.Expires = expires(opts.OperatorExpiry)
	if l.accountJWT, err = ac.Encode(l.keys.operatorSigning); err != nil {
		return nil, fmt.Errorf("sign the lattice account JWT: %w", err)
	}

	files := []file{
		{OperatorJWTFile, []byte(l.operatorJWT + "\n"), 0o644},
		{filepath.Join(accountsDir, "system.jwt"), []byte(l.systemJWT + "\n"), 0o644},
		{filepath.Join(accountsDir, "account.jwt"), []byte(l.accountJWT + "\n"), 0o644},
	}
	for _, kf := range keyFiles {
		seed, err := (*kf.get(&l.keys)).Seed()
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", kf.name, err)
		}
		files = append(files, file{filepath.Join(keysDir, kf.name), append(seed, '\n'), 0o600})
	}
	userExpiry := expires(opts.CredsExpiry)
	for _, role := range Roles {
		creds, err := l.userCreds(string(role), Permissions(role, opts.Lattice), nil, userExpiry, nil)
		if err != nil {
			return nil, fmt.Errorf("credentials of %s: %w", role, err)
		}
		files = append(files, file{filepath.Join(credsDir, string(role)+".creds"), creds, 0o600})
	}
	admin, err := l.adminCreds(userExpiry)
	if err != nil {
		return nil, err
	}
	files = append(files, file{AdminCreds, admin, 0o600})
	hub, err := l.hubFiles()
	if err != nil {
		return nil, err
	}
	files = append(files, hub...)
	st, err := l.stateFile()
	if err != nil {
		return nil, err
	}
	files = append(files, st)
	if err := writeTree(dir, files, opts.Force); err != nil {
		return nil, err
	}
	// Later commands on this lattice sign at their own time.
	l.now = time.Now
	return l, nil
}

// userCreds signs a user of the lattice account with its signing key and
// returns the creds file's bytes. kp nil creates a new user key.
func (l *Lattice) userCreds(name string, perms jwt.Permissions, connTypes []string, expires int64, kp nkeys.KeyPair) ([]byte, error) {
	if kp == nil {
		var err error
		if kp, err = nkeys.CreateUser(); err != nil {
			return nil, err
		}
	}
	uc := jwt.NewUserClaims(publicKey(kp))
	uc.Name = name
	uc.IssuerAccount = l.state.Account
	uc.Permissions = perms
	uc.AllowedConnectionTypes.Add(connTypes...)
	uc.IssuedAt = l.now().Unix()
	uc.Expires = expires
	token, err := uc.Encode(l.keys.accountSigning)
	if err != nil {
		return nil, err
	}
	return formatCreds(token, kp)
}

func (l *Lattice) adminCreds(expires int64) ([]byte, error) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		return nil, err
	}
	uc := jwt.NewUserClaims(publicKey(kp))
	uc.Name = "admin"
	uc.IssuedAt = l.now().Unix()
	uc.Expires = expires
	token, err := uc.Encode(l.keys.system)
	if err != nil {
		return nil, fmt.Errorf("credentials of the system account's admin: %w", err)
	}
	return formatCreds(token, kp)
}

func formatCreds(token string, kp nkeys.KeyPair) ([]byte, error) {
	seed, err := kp.Seed()
	if err != nil {
		return nil, err
	}
	return jwt.FormatUserConfig(token, seed)
}

func publicKey(kp nkeys.KeyPair) string {
	pub, err := kp.PublicKey()
	if err != nil {
		// Only a wiped key pair fails here; every key is created or
		// parsed from a seed just before.
		panic(fmt.Sprintf("edge: public key of a fresh key pair: %v", err))
	}
	return pub
}

func (l *Lattice) stateFile() (file, error) {
	b, err := json.MarshalIndent(l.state, "", "  ")
	if err != nil {
		return file{}, err
	}
	return file{StateFile, append(b, '\n'), 0o644}, nil
}

// ReadState reads lattice.json of a lattice directory: the public record,
// no key is read (`canvas validate --lattice-dir` learns the sites so).
func ReadState(dir string) (State, error) {
	var st State
	raw, err := os.ReadFile(filepath.Join(dir, StateFile))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return st, fmt.Errorf("%s is not a lattice directory (no %s): create one with `canvas lattice init --out %s` or point --lattice-dir at it", dir, StateFile, dir)
		}
		return st, err
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		return st, fmt.Errorf("%s: %w", filepath.Join(dir, StateFile), err)
	}
	return st, nil
}

// checkState checks what Open read from lattice.json against the keys and
// the rules Init and Bootstrap wrote it by: later commands sign new site
// credentials for its lattice name and remove a moved site's directory.
func (l *Lattice) checkState() error {
	var errs []error
	if err := subject.ValidateLattice(l.state.Lattice); err != nil {
		errs = append(errs, fmt.Errorf("lattice: %w", err))
	}
	if !unitSafe(l.state.NATSServer) {
		errs = append(errs, fmt.Errorf("natsServer %q: the hub's systemd unit runs it unquoted: use %s only", l.state.NATSServer, unitSafeChars))
	}
	for _, k := range []struct {
		field, got string
		key        nkeys.KeyPair
		file       string
	}{
		{"operator", l.state.Operator, l.keys.operator, "operator.nk"},
		{"systemAccount", l.state.SystemAccount, l.keys.system, "system.nk"},
		{"account", l.state.Account, l.keys.account, "account.nk"},
	} {
		if k.got != publicKey(k.key) {
			errs = append(errs, fmt.Errorf("%s %q is not the public key of %s/%s: the directory mixes two lattices", k.field, k.got, keysDir, k.file))
		}
	}
	seen := make(map[string]bool, len(l.state.Sites))
	// dirs maps each site directory to its site; overlaps are found by
	// walking each directory's parents, not by comparing every pair.
	dirs := make(map[string]string, len(l.state.Sites))
	for i, s := range l.state.Sites {
		switch {
		case len(s.Name) > maxSiteLen || subject.ValidateAppName(s.Name) != nil:
			errs = append(errs, fmt.Errorf("sites[%d].name %q: not a site name (1-%d letters, digits, '-' or '_')", i, s.Name, maxSiteLen))
			continue
		case seen[s.Name]:
			errs = append(errs, fmt.Errorf("sites[%d].name %q: the site is listed twice", i, s.Name))
			continue
		}
		seen[s.Name] = true
		if !nkeys.IsValidPublicUserKey(s.User) {
			errs = append(errs, fmt.Errorf("sites[%d].user %q: not a user's nkey public key", i, s.User))
		}
		if !filepath.IsAbs(s.Dir) || filepath.Clean(s.Dir) != s.Dir {
			errs = append(errs, fmt.Errorf("sites[%d].dir %q: not an absolute, clean path", i, s.Dir))
			continue
		}
		if err := l.checkOutsideLattice(s.Name, s.Dir); err != nil {
			errs = append(errs, fmt.Errorf("sites[%d].dir %s: %w", i, s.Dir, err))
			continue
		}
		if other, ok := dirs[s.Dir]; ok {
			errs = append(errs, fmt.Errorf("sites[%d].dir %s: is site %s's directory too: give each site a directory of its own", i, s.Dir, other))
			continue
		}
		dirs[s.Dir] = s.Name
	}
	for i, s := range l.state.Sites {
		if dirs[s.Dir] != s.Name {
			continue // refused above
		}
		for p := filepath.Dir(s.Dir); p != filepath.Dir(p); p = filepath.Dir(p) {
			if other, ok := dirs[p]; ok {
				errs = append(errs, fmt.Errorf("sites[%d].dir %s: is inside site %s's directory %s: give each site a directory of its own", i, s.Dir, other, p))
				break
			}
		}
	}
	return errors.Join(errs...)
}

// SiteNames lists the sites of the lattice that are not revoked.
func (s State) SiteNames() []string {
	var out []string
	for _, site := range s.Sites {
		if site.Revoked == nil {
			out = append(out, site.Name)
		}
	}
	return out
}

// Open reads a lattice directory written by Init and checks that its
// operator and account are still valid at now.
func Open(dir string, now time.Time) (*Lattice, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("lattice directory %s: %w", dir, err)
	}
	l := &Lattice{dir: abs, now: func() time.Time { return now }}
	if l.state, err = ReadState(dir); err != nil {
		return nil, err
	}
	for _, kf := range keyFiles {
		p := filepath.Join(abs, keysDir, kf.name)
		seed, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("lattice key %s: %w", p, err)
		}
		kp, err := nkeys.FromSeed(bytes.TrimSpace(seed))
		if err != nil {
			// The seed itself stays out of the error.
			return nil, fmt.Errorf("lattice key %s is not an nkey seed", p)
		}
		*kf.get(&l.keys) = kp
	}
	read := func(name string) (string, error) {
		b, err := os.ReadFile(filepath.Join(abs, name))
		return string(bytes.TrimSpace(b)), err
	}
	if l.operatorJWT, err = read(OperatorJWTFile); err != nil {
		return nil, err
	}
	if l.systemJWT, err = read(filepath.Join(accountsDir, "system.jwt")); err != nil {
		return nil, err
	}
	if l.accountJWT, err = read(filepath.Join(accountsDir, "account.jwt")); err != nil {
		return nil, err
	}
	oc, err := jwt.DecodeOperatorClaims(l.operatorJWT)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, OperatorJWTFile), err)
	}
	if oc.Subject != publicKey(l.keys.operator) {
		return nil, fmt.Errorf("%s is not the operator of keys/operator.nk: the directory mixes two lattices", filepath.Join(dir, OperatorJWTFile))
	}
	if oc.Expires != 0 && now.Unix() >= oc.Expires {
		return nil, fmt.Errorf("the operator JWT %s expired at %s: nothing can be signed with it any more; create a new lattice with `canvas lattice init` and bootstrap the sites into it",
			filepath.Join(dir, OperatorJWTFile), time.Unix(oc.Expires, 0).UTC().Format(time.RFC3339))
	}
	ac, err := jwt.DecodeAccountClaims(l.accountJWT)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, accountsDir, "account.jwt"), err)
	}
	if ac.Subject != publicKey(l.keys.account) {
		return nil, fmt.Errorf("%s is not the account of keys/account.nk: the directory mixes two lattices", filepath.Join(dir, accountsDir, "account.jwt"))
	}
	if err := l.checkState(); err != nil {
		return nil, fmt.Errorf("%s: %w (fix the field, or restore the file as canvas lattice init and canvas edge wrote it)", filepath.Join(dir, StateFile), err)
	}
	if ac.Expires != 0 && now.Unix() >= ac.Expires {
		return nil, fmt.Errorf("the lattice account JWT %s expired at %s: create a new lattice with `canvas lattice init`",
			filepath.Join(dir, accountsDir, "account.jwt"), time.Unix(ac.Expires, 0).UTC().Format(time.RFC3339))
	}
	return l, nil
}
