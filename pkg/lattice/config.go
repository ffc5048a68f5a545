package lattice

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/pflag"
)

// Flag names, shared by AddFlags and by the errors Validate returns, so an
// error always names the flag the user has to change.
const (
	FlagURL              = "nats-url"
	FlagName             = "nats-name"
	FlagCreds            = "nats-creds"
	FlagNKey             = "nats-nkey"
	FlagJWT              = "nats-jwt"
	FlagSeed             = "nats-seed"
	FlagToken            = "nats-token"
	FlagUser             = "nats-user"
	FlagPassword         = "nats-password"
	FlagTLSCA            = "nats-tls-ca"
	FlagTLSCert          = "nats-tls-cert"
	FlagTLSKey           = "nats-tls-key"
	FlagTLSInsecure      = "nats-tls-insecure-skip-verify"
	FlagConnectTimeout   = "nats-connect-timeout"
	FlagReconnectWait    = "nats-reconnect-wait"
	FlagMaxReconnectWait = "nats-max-reconnect-wait"
)

// Defaults applied by Config.WithDefaults.
const (
	DefaultURL              = nats.DefaultURL
	DefaultName             = "wasmcanvas"
	DefaultConnectTimeout   = 5 * time.Second
	DefaultReconnectWait    = 250 * time.Millisecond
	DefaultMaxReconnectWait = 10 * time.Second
)

// Config says how to connect to a NATS lattice. At most one authentication
// method may be set: CredsFile, NKeySeedFile, UserJWT+UserSeed, Token or
// User+Password.
type Config struct {
	// URLs is a comma-separated list of server URLs (nats://, tls://, ws://,
	// wss://; a bare host:port means nats://).
	URLs string
	// Name is the connection name servers show in their monitoring.
	Name string

	CredsFile    string
	NKeySeedFile string
	UserJWT      string
	UserSeed     string
	Token        string
	User         string
	Password     string

	TLS TLSConfig

	// ConnectTimeout bounds the initial connect when the context has no
	// earlier deadline.
	ConnectTimeout time.Duration
	// ReconnectWait is the first reconnect delay; it doubles per attempt up
	// to MaxReconnectWait, each delay jittered so a fleet of clients does not
	// reconnect in lockstep after a server restart.
	ReconnectWait    time.Duration
	MaxReconnectWait time.Duration
}

// TLSConfig holds client TLS settings. Any field set turns TLS on.
type TLSConfig struct {
	CAFile   string
	CertFile string
	KeyFile  string
	// InsecureSkipVerify disables server certificate verification. It is only
	// ever honoured when set explicitly, is logged as a warning on every
	// connect, and cannot be combined with CAFile.
	InsecureSkipVerify bool
}

func (t TLSConfig) enabled() bool {
	return t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" || t.InsecureSkipVerify
}

// AddFlags registers the --nats-* flags bound to c. Values already in c are
// the flag defaults.
func (c *Config) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.URLs, FlagURL, c.URLs, "NATS server URLs, comma-separated (default "+DefaultURL+")")
	fs.StringVar(&c.Name, FlagName, c.Name, "connection name shown by the NATS server (default "+DefaultName+")")
	fs.StringVar(&c.CredsFile, FlagCreds, c.CredsFile, "NATS credentials file (user JWT and nkey seed)")
	fs.StringVar(&c.NKeySeedFile, FlagNKey, c.NKeySeedFile, "file holding an nkey user seed")
	fs.StringVar(&c.UserJWT, FlagJWT, c.UserJWT, "user JWT (with --"+FlagSeed+")")
	fs.StringVar(&c.UserSeed, FlagSeed, c.UserSeed, "nkey seed signing the user JWT (with --"+FlagJWT+")")
	fs.StringVar(&c.Token, FlagToken, c.Token, "NATS authentication token")
	fs.StringVar(&c.User, FlagUser, c.User, "NATS user name (with --"+FlagPassword+")")
	fs.StringVar(&c.Password, FlagPassword, c.Password, "NATS password (with --"+FlagUser+")")
	fs.StringVar(&c.TLS.CAFile, FlagTLSCA, c.TLS.CAFile, "PEM file of CAs that sign the NATS server certificate")
	fs.StringVar(&c.TLS.CertFile, FlagTLSCert, c.TLS.CertFile, "PEM client certificate for NATS (with --"+FlagTLSKey+")")
	fs.StringVar(&c.TLS.KeyFile, FlagTLSKey, c.TLS.KeyFile, "PEM client key for NATS (with --"+FlagTLSCert+")")
	fs.BoolVar(&c.TLS.InsecureSkipVerify, FlagTLSInsecure, c.TLS.InsecureSkipVerify, "do not verify the NATS server certificate (testing only)")
	fs.DurationVar(&c.ConnectTimeout, FlagConnectTimeout, c.ConnectTimeout, "timeout of the initial NATS connect (default 5s)")
	fs.DurationVar(&c.ReconnectWait, FlagReconnectWait, c.ReconnectWait, "first NATS reconnect delay (default 250ms)")
	fs.DurationVar(&c.MaxReconnectWait, FlagMaxReconnectWait, c.MaxReconnectWait, "longest NATS reconnect delay (default 10s)")
}

// WithDefaults returns c with empty fields set to their defaults.
func (c Config) WithDefaults() Config {
	if strings.TrimSpace(c.URLs) == "" {
		c.URLs = DefaultURL
	}
	if c.Name == "" {
		c.Name = DefaultName
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.ReconnectWait == 0 {
		c.ReconnectWait = DefaultReconnectWait
	}
	if c.MaxReconnectWait == 0 {
		c.MaxReconnectWait = DefaultMaxReconnectWait
	}
	return c
}

// ServerURLs splits URLs into its entries, adding nats:// to bare host:port
// entries.
func (c Config) ServerURLs() []string {
	var out []string
	for _, u := range strings.Split(c.URLs, ",") {
		u = strings.TrimSpace(u)
		if u == "" {
			continue
		}
		if !strings.Contains(u, "://") {
			u = "nats://" + u
		}
		out = append(out, u)
	}
	return out
}

// Validate checks the final values (call WithDefaults first) and returns every
// problem found, each naming the flag to change.
func (c Config) Validate() error {
	var errs []error
	urls := c.ServerURLs()
	if len(urls) == 0 {
		errs = append(errs, fmt.Errorf("--%s is empty: give at least one server URL such as %s", FlagURL, DefaultURL))
	}
	for _, raw := range urls {
		if err := validateURL(raw); err != nil {
			errs = append(errs, fmt.Errorf("--%s: %w", FlagURL, err))
		}
	}

	var methods []string
	if c.CredsFile != "" {
		methods = append(methods, "--"+FlagCreds)
	}
	if c.NKeySeedFile != "" {
		methods = append(methods, "--"+FlagNKey)
	}
	if c.UserJWT != "" || c.UserSeed != "" {
		methods = append(methods, "--"+FlagJWT+"/--"+FlagSeed)
		if c.UserJWT == "" || c.UserSeed == "" {
			errs = append(errs, fmt.Errorf("--%s and --%s go together: give both or neither", FlagJWT, FlagSeed))
		}
	}
	if c.Token != "" {
		methods = append(methods, "--"+FlagToken)
	}
	if c.User != "" || c.Password != "" {
		methods = append(methods, "--"+FlagUser+"/--"+FlagPassword)
		if c.User == "" || c.Password == "" {
			errs = append(errs, fmt.Errorf("--%s and --%s go together: give both or neither", FlagUser, FlagPassword))
		}
	}
	if len(methods) > 1 {
		errs = append(errs, fmt.Errorf("more than one NATS authentication method given (%s): keep exactly one", strings.Join(methods, ", ")))
	}

	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		errs = append(errs, fmt.Errorf("--%s and --%s go together: give both or neither", FlagTLSCert, FlagTLSKey))
	}
	if c.TLS.InsecureSkipVerify && c.TLS.CAFile != "" {
		errs = append(errs, fmt.Errorf("--%s contradicts --%s: drop the insecure flag to verify against the CA", FlagTLSInsecure, FlagTLSCA))
	}

	if c.ConnectTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--%s must be positive, got %s", FlagConnectTimeout, c.ConnectTimeout))
	}
	if c.ReconnectWait <= 0 {
		errs = append(errs, fmt.Errorf("--%s must be positive, got %s", FlagReconnectWait, c.ReconnectWait))
	}
	if c.MaxReconnectWait < c.ReconnectWait {
		errs = append(errs, fmt.Errorf("--%s (%s) must not be below --%s (%s)", FlagMaxReconnectWait, c.MaxReconnectWait, FlagReconnectWait, c.ReconnectWait))
	}
	return errors.Join(errs...)
}

func validateURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error repeats the whole URL, password included; keep only
		// the reason.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("%q is not a URL: %w", redactURL(raw), err)
	}
	switch u.Scheme {
	case "nats", "tls", "ws", "wss":
	default:
		return fmt.Errorf("%q: scheme %q is not one of nats, tls, ws, wss", redactURL(raw), u.Scheme)
	}
	if u.Hostname() == "" {
		return fmt.Errorf("%q has no host", redactURL(raw))
	}
	return nil
}

// redactURL hides any password in a URL's user info; URLs end up in logs and
// errors.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		// An '@' that did not parse as user info may still be a password
		// the user mistyped; do not echo it.
		if strings.Contains(raw, "@") {
			return "<URL with '@' outside user info, hidden>"
		}
		return raw
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	} else {
		u.User = url.User("xxxxx")
	}
	return u.String()
}
