// Command canvas-bridge is the canvas's wasmCloud capability provider: a
// host starts it with the host data on stdin. Flag parsing, stdin and
// signals only; the provider is package bridge, wasmcanvas:observe package
// observerpc, wasmcanvas:identity package identityrpc, the archive package
// par.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/pflag"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/wasmcanvas/wasmcanvas/pkg/auth"
	"github.com/wasmcanvas/wasmcanvas/pkg/bridge"
	"github.com/wasmcanvas/wasmcanvas/pkg/bridge/identityrpc"
	"github.com/wasmcanvas/wasmcanvas/pkg/bridge/observerpc"
	"github.com/wasmcanvas/wasmcanvas/pkg/identity"
	"github.com/wasmcanvas/wasmcanvas/pkg/translate"
	"github.com/wasmcanvas/wasmcanvas/pkg/version"
)

const usage = `canvas-bridge: the wasmcanvas capability provider for wasmCloud 1.x.

A wasmCloud host runs it, not you: the host pulls the provider archive
(make bridge-par), starts this binary and writes the host data on its stdin,
one line of base64 JSON (host_id, lattice_rpc_prefix, provider_key, NATS URL
and credentials, link definitions, config, xkeys, otel_config). The bridge
then connects to the lattice, answers health checks on
wasmbus.rpc.<lattice>.<provider_key>.health, keeps the links the host puts
and deletes, and exits 0 when its own host sends the shutdown request.

It serves wasmcanvas:observe 0.2.0 (metrics, tracing, logging; wit/observe.wit)
over wRPC on <lattice>.<provider_key> to the components linked to it; a call
from a component without a link gets the WIT error not-linked. Provider config:
  metrics-listen=ADDR   serve Prometheus metrics on ADDR (e.g. 127.0.0.1:9464):
                        /metrics for all linked components, /metrics/<source-id>
                        for one; unset, no listener
A link's target config may name the ODA Component (namespace and component, both;
api); else the lattice is the namespace and the source id the name. Spans, logs and
metrics go to OTLP/HTTP when otel_config turns them on, else as OTEL_* say.

It serves wasmcanvas:identity 0.1.0 (tokens: access-token, verify; wit/identity.wit)
on the same prefix to linked components. With identity-issuer=URL in its config
(canvasd puts it there: the embedded issuer's --issuer-url, or --oidc-issuer)
verify checks that issuer's tokens, each Component's for its own audience;
without one verify gives the WIT error unavailable saying so. access-token asks
canvasd on canvas.bridge-tokens.<lattice>, which issues a token of the calling
Component's client in-process (the bridge holds no secret); with no canvasd
answering (an external issuer) it is unavailable. An unlinked caller is told
that it has no link.

Usage:
  canvas-bridge [flags] < host-data
  canvas-bridge pack --out FILE --keys FILE [--target TRIPLE=BINARY]...

Exit codes: 0 after the host's shutdown or a signal, 1 when the host data is
malformed or the provider fails, 2 for a bad flag.

Examples:
  # What a host does, by hand, against a local nats-server
  printf '{"host_id":"NHOST","lattice_rpc_prefix":"default","provider_key":"wasmcanvas-canvas-bridge"}' \
    | base64 -w0 | canvas-bridge

  # Package this binary as a provider archive (what make bridge-par runs)
  canvas-bridge pack --out bin/canvas-bridge.par.gz --keys bin/par-keys/canvas-bridge.nk

Flags:
`

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stderr)) }

func run(args []string, stdin io.Reader, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "pack" {
		return pack(args[1:], stderr)
	}
	fs := pflag.NewFlagSet("canvas-bridge", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	logLevel := fs.String("log-level", "", "log level: debug, info, warn, error (default: the host data's log_level, else info)")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "canvas-bridge: %v (see --help)\n", err)
		return 2
	}
	if *showVersion {
		fmt.Fprintln(os.Stdout, "canvas-bridge", version.Version)
		return 0
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "canvas-bridge: unexpected arguments %q (see --help)\n", fs.Args())
		return 2
	}

	hd, err := bridge.ReadHostData(stdin)
	if err != nil {
		fmt.Fprintln(stderr, "canvas-bridge:", oneLine(err))
		return 1
	}
	level := hd.ZapLevel()
	if *logLevel != "" {
		if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
			fmt.Fprintf(stderr, "canvas-bridge: --log-level %q: use debug, info, warn or error\n", *logLevel)
			return 2
		}
	}
	log := logger(hd.StructuredLogging, level, stderr)
	defer func() { _ = log.Sync() }()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	idOpts, err := identityOptions(hd)
	if err != nil {
		log.Error("canvas-bridge: provider config", zap.Error(err))
		return 1
	}
	services := []bridge.Service{observerpc.New(observerpc.Options{}), identityrpc.New(idOpts)}
	if err := bridge.Run(ctx, hd, bridge.Options{Logger: log, Services: services}); err != nil {
		log.Error("canvas-bridge stopped", zap.Error(err))
		return 1
	}
	return 0
}

// identityOptions verifies wasmcanvas:identity tokens with the issuer the
// provider config names (translate.BridgeConfigIssuer), each Component's
// for its own audience (identity.ClientID), and sends access-token to
// canvasd's token service: the bridge holds no Component's client secret.
func identityOptions(hd bridge.HostData) (identityrpc.Options, error) {
	iss := hd.Config[translate.BridgeConfigIssuer]
	if iss == "" {
		return identityrpc.Options{TokenService: true}, nil
	}
	v, err := identity.NewVerifier(identity.VerifierOptions{Issuer: iss, Audience: identity.CanvasAudience})
	if err != nil {
		return identityrpc.Options{}, fmt.Errorf("%s %q: %w", translate.BridgeConfigIssuer, iss, err)
	}
	return identityrpc.Options{TokenService: true, Tokens: func(c identityrpc.Component) auth.Tokens {
		return auth.Tokens{Verifier: v.ForAudience(identity.ClientID(c.Namespace, c.Name))}
	}}, nil
}

// logger writes to stderr, which the host collects: JSON when the host
// asks for structured logging.
func logger(structured bool, level zapcore.Level, w io.Writer) *zap.Logger {
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	var e zapcore.Encoder
	if structured {
		e = zapcore.NewJSONEncoder(enc)
	} else {
		e = zapcore.NewConsoleEncoder(enc)
	}
	return zap.New(zapcore.NewCore(e, zapcore.Lock(zapcore.AddSync(w)), level))
}

// oneLine joins a multi-problem error into the one line a host shows.
func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }
