package node

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"go.uber.org/zap"
)

// leaf is an in-process nats-server (listening on loopback only) whose one
// link is a leaf-node connection to the hub with the site's credentials (a site credential is
// good for a leaf-node connection only): the node's own connection is
// in-process, so the hub link's fate, and the hub's reason for refusing
// the credential, reach the node's log.
type leaf struct {
	srv *server.Server
	log *zap.Logger
	// up is called each time the hub link comes up.
	up func()

	mu      sync.Mutex
	refused string
}

func startLeaf(hub, creds, name string, log *zap.Logger, up func()) (*leaf, error) {
	u, err := url.Parse(hub)
	if err != nil || (u.Scheme != "nats" && u.Scheme != "tls") || u.Host == "" {
		return nil, fmt.Errorf("--hub %q: want the hub's leaf-node URL, nats://HOST:PORT or tls://HOST:PORT", hub)
	}
	if creds == "" {
		return nil, errors.New("--hub needs --creds: the site's credentials (site.creds from canvas edge bootstrap)")
	}
	opts := &server.Options{
		// Loopback only: the node connects in-process, its in-process
		// canvas-bridge over this listener.
		ServerName: name, Host: "127.0.0.1", Port: server.RANDOM_PORT, NoSigs: true, NoSystemAccount: true,
		LeafNode: server.LeafNodeOpts{ReconnectInterval: time.Second, Remotes: []*server.RemoteLeafOpts{{URLs: []*url.URL{u}, Credentials: creds}}},
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("leaf connection to %s: %w", hub, err)
	}
	l := &leaf{srv: srv, log: log, up: up}
	srv.SetLoggerV2(l, false, false, false)
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("leaf connection to %s: the in-process server did not start", hub)
	}
	return l, nil
}

func (l *leaf) shutdown() {
	l.srv.Shutdown()
	l.srv.WaitForShutdown()
}

// The server's log: the hub link's state and the hub's refusals become
// the node's own lines; the rest is debug.
func (l *leaf) Noticef(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	switch {
	case strings.Contains(msg, "Leafnode connection created"):
		l.mu.Lock()
		l.refused = ""
		l.mu.Unlock()
		l.log.Info("hub link up: the node receives commands and publishes its inventory")
		if l.up != nil {
			// Once the link has exchanged interest, so the hub takes it.
			time.AfterFunc(time.Second, l.up)
		}
	case strings.Contains(msg, "Leafnode connection closed"):
		l.log.Warn("hub link down: the node keeps serving the components it runs and reconnects", zap.String("reason", msg))
	default:
		l.log.Debug(msg)
	}
}

func (l *leaf) Warnf(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l *leaf) Fatalf(format string, v ...any) { l.log.Error(fmt.Sprintf(format, v...)) }
func (l *leaf) Debugf(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l *leaf) Tracef(string, ...any)          {}

func (l *leaf) Errorf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	reason := ""
	for _, r := range []string{"Authentication Revoked", "Authentication Expired", "Authorization Violation"} {
		if strings.Contains(msg, r) {
			reason = r
			break
		}
	}
	if reason == "" {
		l.log.Debug(msg)
		return
	}
	l.mu.Lock()
	seen := l.refused == reason
	l.refused = reason
	l.mu.Unlock()
	if !seen {
		l.log.Error("the hub refuses this site's credential ("+reason+"): the node receives no commands until it gets a valid one, and keeps serving the components it runs; ask the lattice's operator for new credentials (canvas edge bootstrap --rotate) and restart canvas node with them",
			zap.String("hub_error", msg))
	}
}
