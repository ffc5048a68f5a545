// Package embedded runs nats-server in-process with JetStream: the lattice
// `canvas up` and `canvasd --embedded-nats` bring with them, and what tests
// start (through internal/testkit). It is the same server a production
// cluster runs; clients reach it over TCP at ClientURL like any other.
package embedded

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"go.uber.org/zap"
)

// Defaults of the embedded server.
const (
	DefaultHost         = "127.0.0.1"
	DefaultPort         = 4222
	DefaultServerName   = "wasmcanvas"
	DefaultReadyTimeout = 10 * time.Second
)

// Config configures the in-process nats-server.
type Config struct {
	// StoreDir holds JetStream's file storage. Required: the canvas's desired
	// state lives there and must outlive the process.
	StoreDir string
	// Host defaults to 127.0.0.1.
	Host string
	// Port is the client port: 0 means 4222, -1 a random free port.
	Port int
	// HTTPPort is the monitoring port: 0 means off, -1 a random free port.
	HTTPPort int
	// ServerName defaults to "wasmcanvas".
	ServerName string
	// Logger receives the server's log; nil discards it.
	Logger *zap.Logger
	// Auth restricts who may connect; the zero value lets anyone on Host in.
	Auth Auth
	// ReadyTimeout bounds the wait for the listeners; default 10s.
	ReadyTimeout time.Duration

	// relaxedSync lets the in-package benchmark measure what SyncAlways costs;
	// nothing else may turn it on.
	relaxedSync bool
}

// Auth is the embedded server's client authorization: one token, or
// one user with a password, and/or any number of nkey users (public keys,
// starting with U).
type Auth struct {
	Token    string
	User     string
	Password string
	NKeys    []string
}

// Server is a running in-process nats-server with JetStream.
type Server struct {
	srv *server.Server
	cfg Config
}

// Start starts nats-server with JetStream file storage under
// cfg.StoreDir and waits until it accepts clients.
//
// JetStream runs with SyncAlways: every stored message is fsynced before the
// publisher's ack is sent, so an acknowledged write survives kill -9 of the
// server and a host crash alike. The canvas writes desired state at human
// rates (applies, status updates), where a per-write fsync costs little; the
// benchmark in this package prints the ratio against the default 2-minute sync.
func Start(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("embedded nats-server config: %w", err)
	}
	opts := &server.Options{
		ServerName:    cfg.ServerName,
		Host:          cfg.Host,
		Port:          cfg.Port,
		JetStream:     true,
		StoreDir:      cfg.StoreDir,
		SyncAlways:    !cfg.relaxedSync,
		NoSigs:        true,
		Authorization: cfg.Auth.Token,
		Username:      cfg.Auth.User,
		Password:      cfg.Auth.Password,
	}
	if cfg.HTTPPort != 0 {
		opts.HTTPHost = cfg.Host
		opts.HTTPPort = cfg.HTTPPort
	}
	for _, k := range cfg.Auth.NKeys {
		opts.Nkeys = append(opts.Nkeys, &server.NkeyUser{Nkey: k})
	}

	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats-server: %w", err)
	}
	logger := &serverLogger{log: cfg.Logger}
	if logger.log == nil {
		logger.log = zap.NewNop()
	}
	srv.SetLoggerV2(logger, false, false, false)
	srv.Start()
	if !srv.ReadyForConnections(cfg.ReadyTimeout) {
		srv.Shutdown()
		srv.WaitForShutdown()
		reason := logger.fatalError()
		if reason == nil {
			reason = errors.New("listeners not up")
		}
		return nil, fmt.Errorf("embedded nats-server on %s (store %s) not ready within %s: %w; check that the port is free (or use -1 for a random one) and the store directory is writable",
			net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)), cfg.StoreDir, cfg.ReadyTimeout, reason)
	}
	if !srv.JetStreamEnabled() {
		srv.Shutdown()
		srv.WaitForShutdown()
		reason := logger.fatalError()
		if reason == nil {
			reason = errors.New("JetStream disabled after start")
		}
		return nil, fmt.Errorf("embedded nats-server: JetStream did not start with store %s: %w; check the directory is writable and not used by another server", cfg.StoreDir, reason)
	}
	return &Server{srv: srv, cfg: cfg}, nil
}

func (c Config) withDefaults() Config {
	if c.Host == "" {
		c.Host = DefaultHost
	}
	if c.Port == 0 {
		c.Port = DefaultPort
	}
	if c.ServerName == "" {
		c.ServerName = DefaultServerName
	}
	if c.ReadyTimeout == 0 {
		c.ReadyTimeout = DefaultReadyTimeout
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if c.StoreDir == "" {
		errs = append(errs, errors.New("StoreDir is empty: JetStream needs a directory for its files"))
	}
	if c.Port < -1 || c.Port > 65535 {
		errs = append(errs, fmt.Errorf("Port %d out of range: use 1-65535, or -1 for a random port", c.Port))
	}
	if c.HTTPPort < -1 || c.HTTPPort > 65535 {
		errs = append(errs, fmt.Errorf("HTTPPort %d out of range: use 1-65535, -1 for random, 0 for off", c.HTTPPort))
	}
	if c.Auth.Token != "" && c.Auth.User != "" {
		errs = append(errs, errors.New("Auth has both Token and User: keep one"))
	}
	if (c.Auth.User == "") != (c.Auth.Password == "") {
		errs = append(errs, errors.New("Auth.User and Auth.Password go together"))
	}
	return errors.Join(errs...)
}

// ClientURL is the nats:// URL clients connect to (the actual port when Port
// was -1).
func (e *Server) ClientURL() string { return e.srv.ClientURL() }

// MonitorURL is the http:// base of the monitoring endpoints, or "" when
// HTTPPort was 0.
func (e *Server) MonitorURL() string {
	a := e.srv.MonitorAddr()
	if a == nil {
		return ""
	}
	return "http://" + a.String()
}

// Shutdown stops the server: clients are disconnected and JetStream flushes
// its stores. Safe to call more than once.
func (e *Server) Shutdown() { e.srv.Shutdown() }

// WaitForShutdown blocks until Shutdown has finished.
func (e *Server) WaitForShutdown() { e.srv.WaitForShutdown() }

// serverLogger adapts nats-server's logger to zap and remembers the fatal
// errors, which nats-server reports only through the logger (the default one
// would exit the process).
type serverLogger struct {
	log   *zap.Logger
	mu    sync.Mutex
	fatal []error
}

func (l *serverLogger) Noticef(format string, v ...any) { l.log.Info(fmt.Sprintf(format, v...)) }
func (l *serverLogger) Warnf(format string, v ...any)   { l.log.Warn(fmt.Sprintf(format, v...)) }
func (l *serverLogger) Errorf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l *serverLogger) Debugf(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l *serverLogger) Tracef(format string, v ...any)  {}

func (l *serverLogger) Fatalf(format string, v ...any) {
	err := fmt.Errorf(format, v...)
	l.log.Error("nats-server fatal", zap.Error(err))
	l.mu.Lock()
	l.fatal = append(l.fatal, err)
	l.mu.Unlock()
}

func (l *serverLogger) fatalError() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return errors.Join(l.fatal...)
}

var _ server.Logger = (*serverLogger)(nil)
