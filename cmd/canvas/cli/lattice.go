package cli

import (
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/wasmcanvas/wasmcanvas/pkg/edge"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
)

// latticeSubcommands build the `canvas lattice` subcommands. The parent is
// only a group: a file that adds a subcommand appends its constructor in
// its own init func,
//
//	func init() { latticeSubcommands = append(latticeSubcommands, newLatticeHostsCmd) }
//
// and newLatticeCmd adds them all.
var latticeSubcommands = []func() *cobra.Command{newLatticeInitCmd}

func newLatticeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "lattice",
		Short: "Create and manage the NATS lattice the canvas drives",
		Long: `lattice groups the commands that work on the wasmCloud lattice itself
rather than on Components: 'canvas lattice init' creates a secured lattice
(NATS operator, accounts, credentials per role and the hub's config); the
others talk to the lattice's NATS directly (the wasmCloud hosts' control
interface and wadm), connecting with --nats/--nats-creds or the current
context's nats and nats-creds.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return usageErrorf("lattice what? see `canvas lattice --help`")
		},
	}
	for _, sub := range latticeSubcommands {
		cmd.AddCommand(sub())
	}
	return cmd
}

// latticeInitResult is what lattice init prints: public keys and paths
// only, never a seed.
type latticeInitResult struct {
	Lattice       string            `json:"lattice"`
	Dir           string            `json:"dir"`
	Operator      string            `json:"operator"`
	SystemAccount string            `json:"systemAccount"`
	Account       string            `json:"account"`
	HubConfig     string            `json:"hubConfig"`
	ClientURL     string            `json:"clientURL"`
	Creds         map[string]string `json:"creds"`
}

func newLatticeInitCmd() *cobra.Command {
	var (
		opts   edge.InitOptions
		output string
	)
	cmd := &cobra.Command{
		Use:   "init --out DIR",
		Short: "Create a secured lattice: NATS operator, accounts, per-role credentials, hub config",
		Long: `lattice init creates a lattice directory for NATS decentralised security:

  keys/            operator, operator signing, system account, lattice account and
                   account signing seeds (0600; never printed or logged)
  operator.jwt, accounts/*.jwt
  creds/           canvasd, wadm, bridge, host and client credentials, each allowed only the
                   subjects its role needs in this lattice, and admin.creds (system
                   account) for 'canvas edge revoke|list'
  hub/nats.conf    the hub's nats-server config: operator mode, JetStream, a leaf-node
                   port for edge sites and a full account resolver with the account JWTs
                   preloaded; later changes are pushed to it, so the hub is never
                   restarted when sites come and go
  hub/wasmcanvas-hub.service, lattice.json (the public record, with the sites)

Start the hub with 'nats-server -c DIR/hub/nats.conf', run canvasd with
--nats-creds DIR/creds/canvasd.creds, then add edge sites with
'canvas edge bootstrap'. The command writes all of it or nothing, and refuses
a non-empty DIR unless --force.`,
		Example: `  canvas lattice init --out lattice
  canvas lattice init --out /etc/wasmcanvas/lattice --lattice prod --listen 0.0.0.0:4222 \
    --leaf-listen 0.0.0.0:7422 --client-url nats://hub.example.net:4222
  nats-server -c lattice/hub/nats.conf`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output, "table", "json", "yaml"); err != nil {
				return err
			}
			l, err := edge.Init(opts)
			if err != nil {
				return edgeError(err)
			}
			st := l.State()
			res := latticeInitResult{
				Lattice: st.Lattice, Dir: l.Dir(), Operator: st.Operator, SystemAccount: st.SystemAccount,
				Account: st.Account, HubConfig: filepath.Join(l.Dir(), "hub", "nats.conf"), ClientURL: st.ClientURL,
				Creds: map[string]string{"admin": l.AdminCredsFile()},
			}
			for _, r := range edge.Roles {
				res.Creds[string(r)] = filepath.Join(l.Dir(), "creds", string(r)+".creds")
			}
			return printData(cmd.OutOrStdout(), output, res, func(w io.Writer) {
				fmt.Fprintf(w, "Lattice %s created in %s\n", res.Lattice, res.Dir)
				fmt.Fprintf(w, "  operator        %s\n  system account  %s\n  lattice account %s\n", res.Operator, res.SystemAccount, res.Account)
				fmt.Fprintf(w, "  hub config      %s\n", res.HubConfig)
				for _, r := range append([]string{"admin"}, rolesNames()...) {
					fmt.Fprintf(w, "  %-15s %s\n", r+" creds", res.Creds[r])
				}
				fmt.Fprintf(w, "\nNext:\n  nats-server -c %s\n  canvasd --nats-url %s --nats-creds %s --lattice-dir %s\n  canvas edge bootstrap --lattice-dir %s --site NAME --hub nats://HUB:%s\n",
					res.HubConfig, res.ClientURL, res.Creds["canvasd"], res.Dir, res.Dir, portOf(st.LeafListen))
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Dir, "out", "lattice", "directory to create")
	f.StringVar(&opts.Lattice, "lattice", subject.DefaultLattice, "lattice name (wasmCloud's --lattice)")
	f.StringVar(&opts.Listen, "listen", edge.DefaultListen, "the hub's client address")
	f.StringVar(&opts.LeafListen, "leaf-listen", edge.DefaultLeafListen, "the hub's leaf-node address, where edge sites connect")
	f.StringVar(&opts.ClientURL, "client-url", "", "how the canvas reaches the hub (default: nats:// and --listen, 0.0.0.0 as 127.0.0.1)")
	f.DurationVar(&opts.CredsExpiry, "creds-expiry", edge.DefaultCredsExpiry, "lifetime of the role credentials (0: never expire)")
	f.DurationVar(&opts.OperatorExpiry, "operator-expiry", 0, "lifetime of the operator and account JWTs (0: never expire)")
	f.StringVar(&opts.NATSServer, "nats-server", edge.DefaultNATSServer, "nats-server binary the hub's systemd unit runs")
	f.BoolVar(&opts.Force, "force", false, "replace a non-empty --out directory")
	outputFlag(cmd, &output, "table", "json", "yaml")
	return cmd
}

func rolesNames() []string {
	out := make([]string, len(edge.Roles))
	for i, r := range edge.Roles {
		out[i] = string(r)
	}
	return out
}

// edgeError makes a setting pkg/edge refused a usage error (exit 2).
func edgeError(err error) error {
	var oe *edge.OptionsError
	if errors.As(err, &oe) {
		return &exitError{code: ExitUsage, err: err}
	}
	return err
}

func portOf(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return port
}

func formatExpiry(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}
