package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"go.uber.org/zap"
)

// Serve listens on addr and serves the gateway until ctx ends, then shuts
// down gracefully (in-flight requests get Options.ShutdownTimeout). A
// missing host binds 127.0.0.1, not every interface: exposing the canvas
// beyond the machine must be asked for ("0.0.0.0:8080"). Port 0 picks a
// free port. Serve returns the bound address once the listener is open;
// Wait reports when serving has stopped. A gateway serves at most once.
func (g *Gateway) Serve(ctx context.Context, addr string) (string, error) {
	g.serveMu.Lock()
	defer g.serveMu.Unlock()
	if g.started {
		return "", errors.New("gateway: serve: already serving; create another Gateway to listen twice")
	}
	addr, err := loopbackDefault(addr)
	if err != nil {
		return "", fmt.Errorf("gateway: serve: %w", err)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return "", fmt.Errorf("gateway: listen on %s: %w (choose a free port or 127.0.0.1:0)", addr, err)
	}
	g.started = true
	bound := ln.Addr().String()
	if g.baseURL == "" {
		g.baseURL = "http://" + reachable(ln.Addr().(*net.TCPAddr))
	}
	srv := &http.Server{
		Handler:           g,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          zap.NewStdLog(g.log.Named("http")),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	go func() {
		defer close(g.done)
		var err error
		select {
		case err = <-served:
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), g.opts.ShutdownTimeout)
			err = srv.Shutdown(sctx)
			cancel()
			if err != nil {
				err = errors.Join(fmt.Errorf("gateway: graceful shutdown: %w", err), srv.Close())
			}
			if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
				err = errors.Join(err, serr)
			}
		}
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		g.serveMu.Lock()
		g.err = err
		g.serveMu.Unlock()
	}()
	g.log.Info("gateway: serving", zap.String("addr", bound), zap.String("baseURL", g.baseURL))
	return bound, nil
}

// Wait blocks until the server started by Serve has stopped and returns
// why (nil after a graceful shutdown). Without Serve it blocks until ctx
// ends.
func (g *Gateway) Wait(ctx context.Context) error {
	select {
	case <-g.done:
		g.serveMu.Lock()
		defer g.serveMu.Unlock()
		return g.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// BaseURL is the URL an exposed API's path is appended to for its status
// url: Options.BaseURL if set, else http:// and the bound address; empty
// before Serve.
func (g *Gateway) BaseURL() string {
	g.serveMu.Lock()
	defer g.serveMu.Unlock()
	return g.baseURL
}

func loopbackDefault(addr string) (string, error) {
	if addr == "" {
		return "127.0.0.1:0", nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("address %q: %w (write host:port, e.g. 127.0.0.1:8080 or :0)", addr, err)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}

// reachable turns a wildcard bind address into one a local client can dial.
func reachable(a *net.TCPAddr) string {
	ip := a.IP
	if ip.IsUnspecified() {
		if ip.To4() != nil || len(ip) == 0 {
			ip = net.IPv4(127, 0, 0, 1)
		} else {
			ip = net.IPv6loopback
		}
	}
	return net.JoinHostPort(ip.String(), fmt.Sprint(a.Port))
}
