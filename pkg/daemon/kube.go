package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/wasmcanvas/wasmcanvas/pkg/api"
	"github.com/wasmcanvas/wasmcanvas/pkg/auth"
	"github.com/wasmcanvas/wasmcanvas/pkg/kubeapi"
	"github.com/wasmcanvas/wasmcanvas/pkg/service"
)

// DefaultKubeListen is where the kube API listens unless told otherwise:
// loopback, on a port the OS picks (recorded in the runtime file).
const DefaultKubeListen = "127.0.0.1:0"

// KubeListenOff turns the kube API off (--kube-listen off).
const KubeListenOff = "off"

// kubeServices serve the Kubernetes-style API (pkg/kubeapi) over TLS on
// KubeListen; none when it is off.
func (d *Daemon) kubeServices() []service.Service {
	if d.opts.KubeListen == KubeListenOff {
		return nil
	}
	return []service.Service{
		service.New("kube index", service.Funcs{Run: func(ctx context.Context) error { return d.kube.Run(ctx) }}),
		service.New("kube API", service.Funcs{
			Start: d.listenKube,
			Run: func(context.Context) error {
				if err := d.kubeSrv.ServeTLS(d.kubeLn, "", ""); !errors.Is(err, http.ErrServerClosed) {
					return fmt.Errorf("kube API: %w", err)
				}
				return nil
			},
			Stop: func(ctx context.Context) error {
				if err := d.kubeSrv.Shutdown(ctx); err != nil {
					return errors.Join(err, d.kubeSrv.Close())
				}
				return nil
			},
		}),
	}
}

// kubeCheck is the kube API's readiness: its index holds the stores' state.
func (d *Daemon) kubeCheck() []api.Check {
	if d.opts.KubeListen == KubeListenOff {
		return nil
	}
	return []api.Check{{Name: "kube", Check: func(context.Context) error {
		if d.kube == nil {
			return errors.New("kube API not built yet")
		}
		return d.kube.Synced()
	}}}
}

// buildKube makes the kube API over the API server build made, serving
// events from evs.
func (d *Daemon) buildKube(evs kubeapi.EventSource) error {
	if d.opts.KubeListen == KubeListenOff {
		return nil
	}
	authn := d.opts.KubeAuth
	if authn == nil {
		tok, err := auth.EnsureAdminToken(d.opts.StateDir)
		if err != nil {
			return fmt.Errorf("kube API: %w", err)
		}
		// The API's own authenticator (local admin + the issuer's bearer
		// tokens) is made by the identity service, which starts after
		// this one and before the kube listener: read it per request.
		// Without one (--no-auth) the kube API still wants the local
		// admin credential: kubectl always sends one.
		local := auth.LocalAdmin(tok)
		authn = auth.AuthenticatorFunc(func(r *http.Request) (auth.Principal, error) {
			if a := d.Authenticator(); a != nil {
				return a.Authenticate(r)
			}
			return local.Authenticate(r)
		})
	}
	var err error
	d.kube, err = kubeapi.New(kubeapi.Options{API: d.apiSrv, Auth: authn, Events: evs, Logger: d.log.Named("kubeapi")})
	return err
}

func (d *Daemon) listenKube(context.Context) error {
	host, _, _ := net.SplitHostPort(d.opts.KubeListen)
	tlsCfg, _, err := kubeapi.EnsureTLS(d.opts.StateDir, host)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", d.opts.KubeListen)
	if err != nil {
		return fmt.Errorf("listen on %s (--kube-listen): %w; pick a free port, port 0 for any, or off", d.opts.KubeListen, err)
	}
	d.kubeLn = ln
	// Listening on every address, the kubeconfig of this machine names
	// loopback, which the certificate always covers.
	addr := ln.Addr().(*net.TCPAddr)
	ip := addr.IP.String()
	if addr.IP.IsUnspecified() {
		ip = "127.0.0.1"
	}
	d.mu.Lock()
	d.kubeURL = "https://" + net.JoinHostPort(ip, strconv.Itoa(addr.Port))
	d.mu.Unlock()
	d.kubeSrv = &http.Server{
		Handler:           d.kube.Handler(),
		TLSConfig:         tlsCfg,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          zap.NewStdLog(d.log.Named("kube-http")),
	}
	d.kubeSrv.RegisterOnShutdown(d.kube.CloseWatches)
	return nil
}

// KubeURL is the kube API's base URL (https://host:port); "" before Start
// or when it is off.
func (d *Daemon) KubeURL() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.kubeURL
}
