package lattice

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
)

// Connect validates cfg (after WithDefaults) and connects to the first
// reachable server. The connection then reconnects forever with capped,
// jittered backoff, logging disconnects, reconnects and close on log (nil
// means no logging). The initial connect is bounded by ctx and
// cfg.ConnectTimeout, whichever ends first.
func Connect(ctx context.Context, cfg Config, log *zap.Logger) (*nats.Conn, error) {
	if log == nil {
		log = zap.NewNop()
	}
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("NATS connection settings: %w", err)
	}
	opts, err := cfg.options(log)
	if err != nil {
		return nil, fmt.Errorf("NATS connection settings: %w", err)
	}
	timeout := cfg.ConnectTimeout
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < timeout {
		timeout = time.Until(dl)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", cfg.redactedURLs(), err)
	}
	opts.Timeout = timeout

	type result struct {
		nc  *nats.Conn
		err error
	}
	done := make(chan result, 1)
	// opts.Connect has no context; this goroutine is bounded by opts.Timeout
	// per server and hands a late connection to the cleanup below.
	go func() {
		nc, err := opts.Connect()
		done <- result{nc, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return nil, cfg.connectError(r.err)
		}
		log.Info("nats connected", zap.String("url", r.nc.ConnectedUrlRedacted()), zap.String("server", r.nc.ConnectedServerName()))
		return r.nc, nil
	case <-ctx.Done():
		go func() {
			if r := <-done; r.nc != nil {
				r.nc.Close()
			}
		}()
		return nil, fmt.Errorf("connect to NATS at %s: %w", cfg.redactedURLs(), ctx.Err())
	}
}

func (c Config) redactedURLs() string {
	urls := c.ServerURLs()
	for i, u := range urls {
		urls[i] = redactURL(u)
	}
	return strings.Join(urls, ", ")
}

func (c Config) authFlag() string {
	switch {
	case c.CredsFile != "":
		return "--" + FlagCreds
	case c.NKeySeedFile != "":
		return "--" + FlagNKey
	case c.UserJWT != "":
		return "--" + FlagJWT + "/--" + FlagSeed
	case c.Token != "":
		return "--" + FlagToken
	case c.User != "":
		return "--" + FlagUser + "/--" + FlagPassword
	}
	return ""
}

// connectError says what to check, depending on whether the server was not
// reachable or refused the credentials.
func (c Config) connectError(err error) error {
	urls := c.redactedURLs()
	switch {
	case errors.Is(err, nats.ErrAuthorization), errors.Is(err, nats.ErrAuthExpired), errors.Is(err, nats.ErrAuthRevoked):
		if f := c.authFlag(); f != "" {
			return fmt.Errorf("connect to NATS at %s: the server rejected the credentials given with %s: check them against the server's authorization config: %w", urls, f, err)
		}
		return fmt.Errorf("connect to NATS at %s: the server requires authentication and none was given: set one of --%s, --%s, --%s/--%s, --%s, --%s/--%s: %w",
			urls, FlagCreds, FlagNKey, FlagJWT, FlagSeed, FlagToken, FlagUser, FlagPassword, err)
	case isTLSError(err):
		return fmt.Errorf("connect to NATS at %s: TLS failed: check the URL scheme, the CA (--%s) and whether the server wants a client certificate (--%s/--%s): %w", urls, FlagTLSCA, FlagTLSCert, FlagTLSKey, err)
	default:
		return fmt.Errorf("connect to NATS at %s: no server answered within %s: check that nats-server is running and reachable there (--%s): %w", urls, c.ConnectTimeout, FlagURL, err)
	}
}

// isTLSError recognises handshake and verification failures, which nats.go
// reports as plain errors with these markers.
func isTLSError(err error) bool {
	if errors.Is(err, nats.ErrSecureConnRequired) || errors.Is(err, nats.ErrSecureConnWanted) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "tls:") || strings.Contains(msg, "tls error") || strings.Contains(msg, "x509:")
}

// options turns the validated config into nats.Options. It reads the files
// the config names so a missing file is reported with its flag.
func (c Config) options(log *zap.Logger) (nats.Options, error) {
	o := nats.GetDefaultOptions()
	o.Servers = c.ServerURLs()
	o.Name = c.Name
	o.MaxReconnect = -1
	o.AllowReconnect = true
	// Keep retrying after auth failures too: a server restarted with a
	// reloaded authorization config must not leave canvasd disconnected.
	o.IgnoreAuthErrorAbort = true
	o.CustomReconnectDelayCB = backoff(c.ReconnectWait, c.MaxReconnectWait)

	var auth []nats.Option
	switch {
	case c.CredsFile != "":
		if err := checkCredsFile(c.CredsFile); err != nil {
			return o, err
		}
		auth = append(auth, nats.UserCredentials(c.CredsFile))
	case c.NKeySeedFile != "":
		if err := readable(c.NKeySeedFile, FlagNKey); err != nil {
			return o, err
		}
		opt, err := nats.NkeyOptionFromSeed(c.NKeySeedFile)
		if err != nil {
			return o, fmt.Errorf("--%s %s: not a valid nkey user seed (it starts with SU): %w", FlagNKey, c.NKeySeedFile, err)
		}
		auth = append(auth, opt)
	case c.UserJWT != "":
		auth = append(auth, nats.UserJWTAndSeed(c.UserJWT, c.UserSeed))
	case c.Token != "":
		auth = append(auth, nats.Token(c.Token))
	case c.User != "":
		auth = append(auth, nats.UserInfo(c.User, c.Password))
	}
	for _, opt := range auth {
		if err := opt(&o); err != nil {
			return o, err
		}
	}

	if c.TLS.enabled() {
		tc, err := c.TLS.tlsConfig()
		if err != nil {
			return o, err
		}
		if c.TLS.InsecureSkipVerify {
			log.Warn("nats TLS server certificate verification is disabled", zap.String("flag", "--"+FlagTLSInsecure))
		}
		o.Secure = true
		o.TLSConfig = tc
	}

	o.DisconnectedErrCB = func(nc *nats.Conn, err error) {
		log.Warn("nats disconnected", zap.String("url", nc.ConnectedUrlRedacted()), zap.Error(err))
	}
	o.ReconnectedCB = func(nc *nats.Conn) {
		log.Info("nats reconnected", zap.String("url", nc.ConnectedUrlRedacted()), zap.String("server", nc.ConnectedServerName()))
	}
	o.ReconnectErrCB = func(_ *nats.Conn, err error) {
		log.Debug("nats reconnect attempt failed", zap.Error(err))
	}
	o.ClosedCB = func(nc *nats.Conn) {
		log.Info("nats connection closed", zap.NamedError("last_error", nc.LastError()))
	}
	o.AsyncErrorCB = func(_ *nats.Conn, sub *nats.Subscription, err error) {
		fields := []zap.Field{zap.Error(err)}
		if sub != nil {
			fields = append(fields, zap.String("subject", sub.Subject))
		}
		log.Warn("nats asynchronous error", fields...)
	}
	return o, nil
}

func (t TLSConfig) tlsConfig() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: t.InsecureSkipVerify} // explicit opt-in only, see TLSConfig
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("--%s: %w", FlagTLSCA, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--%s %s: no PEM certificate found in the file", FlagTLSCA, t.CAFile)
		}
		tc.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("--%s/--%s: load client key pair: %w", FlagTLSCert, FlagTLSKey, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// checkCredsFile parses the creds file up front: nats.go reads it only while
// answering the server's nonce, and its error then reads like a network one.
func checkCredsFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("--%s: %w", FlagCreds, err)
	}
	if _, err := jwt.ParseDecoratedJWT(b); err != nil {
		return fmt.Errorf("--%s %s: no user JWT in the file (want the output of `nsc generate creds`): %w", FlagCreds, path, err)
	}
	if _, err := jwt.ParseDecoratedUserNKey(b); err != nil {
		return fmt.Errorf("--%s %s: no user nkey seed in the file (want the output of `nsc generate creds`): %w", FlagCreds, path, err)
	}
	return nil
}

func readable(path, flag string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("--%s: %w", flag, err)
	}
	return f.Close()
}

// backoff returns the reconnect delay for a given attempt: base doubled per
// attempt, capped at max, then spread over [d/2, d) so clients that lost the
// same server do not return in lockstep.
func backoff(base, max time.Duration) func(attempts int) time.Duration {
	return func(attempts int) time.Duration {
		d := base
		for i := 1; i < attempts && d < max; i++ {
			d *= 2
		}
		d = min(d, max)
		half := d / 2
		return half + rand.N(half+1)
	}
}
