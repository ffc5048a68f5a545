package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/wasmcanvas/wasmcanvas/pkg/daemon"
	"github.com/wasmcanvas/wasmcanvas/pkg/edge"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
	"github.com/wasmcanvas/wasmcanvas/pkg/node"
	"github.com/wasmcanvas/wasmcanvas/pkg/runtime"
	"github.com/wasmcanvas/wasmcanvas/pkg/version"
)

func newNodeCmd() *cobra.Command {
	var (
		opts     node.AgentOptions
		labels   []string
		logLevel string
	)
	cmd := &cobra.Command{
		Use:   "node",
		Short: "Join a wasmCloud lattice as a host that runs Components' Wasm (for edge sites)",
		Long: `node joins a wasmCloud 1.x lattice as a host: wadm (or anything speaking the
host control interface) places components on it as on any wasmCloud host,
and the node runs them on the embedded wasmtime runtime and serves them on
its HTTP ingress (--listen-http). The host id is a new nkey per start; the
host carries the --label labels plus hostcore.arch, hostcore.os and
hostcore.osfamily, which placement (spread requirements) selects on.

It answers host.ping, host.get, component.scale (0 stops), component.update,
component.auction (only when the constraints match its labels), link.*,
config.*, label.* and host.stop, and publishes the host events: host_started,
host_heartbeat with its inventory (every --heartbeat, and at once when the
lattice connection comes back), component_scaled, component_scale_failed,
linkdef_set, config_set, labels_changed, host_stopped and the rest.

A component answers on the ingress at the path of each
wasi:http/incoming-handler link that targets it, read from the link's
source config "path" (what 'canvas render' writes for the http-server
provider). Its config is the merge of its named configs; its links to
wasi:keyvalue (served from a store in --state-dir, so a site keeps its state
and serves while its uplink is down), wasi:http/outgoing-handler (the
ingress and --allow-outbound) and canvas-bridge's wasmcanvas:observe are
served in-process. SECRET_ configs (secret references, as wadm writes them)
are resolved as a host resolves them: through the secrets backend they name,
over NATS under --secrets-topic (wasmCloud's secrets protocol, xkey-sealed,
with the component's embedded claims JWT, so the component must be signed),
and each value is the component's wasi:config value under the secret's name;
a secret that cannot be fetched fails the scale (component_scale_failed says
why). Without --secrets-topic such components are refused. The ingress
enforces each route's policy (the "policy" of its route config): a guarded
API (its Component has a securityFunction) accepts the bearer tokens of
--oidc-issuer whose audience is its Component's client, and without
--oidc-issuer answers 503 "no identity provider configured", never open. The scale's count (max_instances) bounds the requests
a component runs at once; the others wait. Capability providers are refused
with provider_start_failed, except canvas-bridge, which the node runs
in-process (over wRPC for components on other hosts). With --nats, links and
named config live in the lattice's LATTICEDATA_{lattice} and
CONFIGDATA_{lattice} JetStream buckets, as wasmCloud hosts keep them (--js-domain
names their domain): one host handles each put and publishes its event, every
host follows the buckets, and a node started later learns them there. With
--hub (or when the lattice's JetStream does not answer, which the log says)
they are kept in memory, learnt from link.put and config.put (and, with
--nats, from the hosts already there); still one host answers each put and
publishes its event. What the node runs is saved in --state-dir/running.json
and started again at start, so a node restarted while the lattice is down
serves what it served.

Components come from file:// artefacts under the artefact roots, or from OCI
registries (docker login's credentials), checked against the manifest's
digest and cached by digest in --state-dir: a reference pinned by digest
starts without the network, and a tag starts from the digest it last
resolved to when the registry cannot be reached.

With --hub, the node joins the lattice through its own leaf-node connection
to the hub, made with --creds (the site's credentials from 'canvas edge
bootstrap', good for a leaf-node connection only): no nats-server is needed
at the site. When the hub link drops, the node keeps serving what it runs
and reconnects, and publishes its inventory as soon as the link is back;
when the hub refuses the credential (revoked or expired), the node says so
in its log, keeps serving, and receives no commands. With --nats, it
connects to a NATS server of the lattice: a site's leaf node (a cut hub link
then shows to the lattice only, and the inventory is back with the next
--heartbeat), or a server of the hub with a client credential (a refusal of
it is logged the same way).`,
		Example: `  canvas node --hub nats://hub.example.net:7422 --creds site.creds --label site=a
  canvas node --hub tls://hub.example.net:7422 --creds site.creds --label site=a --listen-http 0.0.0.0:8080
  canvas node --nats nats://127.0.0.1:4222 --label site=a`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			level, err := zapcore.ParseLevel(logLevel)
			if err != nil {
				return usageErrorf("--log-level %q: use debug, info, warn or error", logLevel)
			}
			if opts.Labels, err = edge.ParseLabels(labels); err != nil {
				return usageErrorf("%v", err) // ParseLabels names --label and the pair
			}
			if err := subject.ValidateLattice(opts.Lattice); err != nil {
				return usageErrorf("--lattice: %v", err)
			}
			if opts.StateDir == "" {
				d, err := daemon.DefaultStateDir()
				if err != nil {
					return err
				}
				opts.StateDir = filepath.Join(d, "node")
			}
			log, err := stderrLogger(level)
			if err != nil {
				return err
			}
			defer log.Sync()
			opts.Logger, opts.Version, opts.Getenv = log, version.Version, os.Getenv
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			a, err := node.StartAgent(ctx, opts)
			if err != nil {
				return fmt.Errorf("canvas node: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "canvas node: host %s on lattice %s, ingress %s\n", a.Node().ID(), opts.Lattice, a.Ingress())
			return runUntilStopped(ctx, cmd, "canvas node", a)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.NATS.URLs, "nats", "nats://127.0.0.1:4222", "NATS URL of the lattice (a site's leaf node, or a server of the lattice)")
	f.StringVar(&opts.Hub, "hub", "", "the hub's leaf-node URL (nats:// or tls://): the node makes its own leaf-node connection there with --creds, instead of --nats")
	f.StringVar(&opts.NATS.CredsFile, "creds", "", "NATS credentials file (with --hub, the site's site.creds from canvas edge bootstrap)")
	f.StringVar(&opts.Lattice, "lattice", subject.DefaultLattice, "lattice name")
	f.StringArrayVar(&labels, "label", nil, "host label key=value (repeatable), e.g. site=a")
	f.StringVar(&opts.FriendlyName, "name", "", "the host's friendly name (default: the start of its id)")
	f.StringVar(&opts.ListenHTTP, "listen-http", node.DefaultListenHTTP, "HTTP ingress address serving the components")
	f.StringVar(&opts.StateDir, "state-dir", "", "compile cache, OCI cache and keyvalue store (default $XDG_STATE_HOME/wasmcanvas/node)")
	f.StringArrayVar(&opts.ArtefactRoots, "artefact-root", nil, "directory file:// components may be read from (repeatable; default the state directory)")
	f.StringSliceVar(&opts.AllowOutbound, "allow-outbound", nil, "authorities (host, host:port, *.domain) components linked to wasi:http/outgoing-handler may call besides the ingress")
	f.DurationVar(&opts.Heartbeat, "heartbeat", node.DefaultHeartbeat, "interval of host_heartbeat")
	f.DurationVar(&opts.Limits.RequestTimeout, "request-timeout", runtime.DefaultRequestTimeout, "deadline of one request to a component")
	f.StringVar(&opts.JSDomain, "js-domain", "", "JetStream domain of the lattice's LATTICEDATA/CONFIGDATA buckets (with --nats), as a wasmCloud host's --js-domain")
	f.StringVar(&opts.OIDCIssuer, "oidc-issuer", "", "OpenID issuer URL whose tokens guarded APIs accept (audience: the API's Component's client); empty: guarded APIs answer 503")
	f.StringVar(&opts.SecretsTopic, "secrets-topic", "", "topic prefix of the lattice's secrets backends, as a wasmCloud host's --secrets-topic (e.g. "+subject.SecretsDefaultPrefix+"); empty refuses components naming secrets")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	return cmd
}

// stoppable is a process's runner: canvas up's Canvas, canvas node's Agent.
type stoppable interface {
	Done() <-chan struct{}
	Shutdown(context.Context) error
	Wait() error
}

// runUntilStopped waits for a signal (ctx) or for p to stop by itself,
// then shuts p down and returns why it failed, if it did.
func runUntilStopped(ctx context.Context, cmd *cobra.Command, name string, p stoppable) error {
	select {
	case <-ctx.Done():
		fmt.Fprintln(cmd.ErrOrStderr(), name+": stopping")
	case <-p.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), daemon.DefaultShutdownTimeout)
	defer cancel()
	_ = p.Shutdown(shutdownCtx)
	if err := p.Wait(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// stderrLogger is the JSON logger of a foreground process.
func stderrLogger(level zapcore.Level) (*zap.Logger, error) {
	cfg := zap.NewProductionConfig()
	cfg.Level = zap.NewAtomicLevelAt(level)
	cfg.OutputPaths = []string{"stderr"}
	return cfg.Build()
}
