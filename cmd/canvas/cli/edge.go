package cli

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/wasmcanvas/wasmcanvas/pkg/edge"
	"github.com/wasmcanvas/wasmcanvas/pkg/edge/hubclient"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice"
)

func newEdgeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "edge",
		Short: "Bring edge sites into a secured lattice, list and revoke them",
		Long: `edge manages the edge sites of a lattice created by 'canvas lattice init':
each site runs a NATS leaf node connected to the hub with credentials of its
own, and wasmCloud hosts labelled site=NAME behind it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return usageErrorf("edge what? see `canvas edge --help`")
		},
	}
	cmd.AddCommand(newEdgeBootstrapCmd(), newEdgeRevokeCmd(), newEdgeListCmd(), newEdgePushCmd())
	return cmd
}

func addLatticeDirFlag(cmd *cobra.Command, target *string) {
	cmd.Flags().StringVar(target, "lattice-dir", "lattice", "lattice directory written by `canvas lattice init`")
}

// siteView is a site as bootstrap and list print it.
type siteView struct {
	Name    string            `json:"name"`
	Dir     string            `json:"dir"`
	Hub     string            `json:"hub"`
	Labels  map[string]string `json:"labels"`
	User    string            `json:"user"`
	Issued  time.Time         `json:"issued"`
	Expires string            `json:"expires"`
	Revoked *time.Time        `json:"revoked,omitempty"`
	// Leaf is connected, disconnected or unknown (the hub was not asked or
	// did not answer).
	Leaf    string `json:"leaf,omitempty"`
	Changed *bool  `json:"changed,omitempty"`
}

func viewSite(s edge.Site) siteView {
	return siteView{Name: s.Name, Dir: s.Dir, Hub: s.Hub, Labels: s.Labels, User: s.User, Issued: s.Issued,
		Expires: formatExpiry(s.Expires), Revoked: s.Revoked}
}

func newEdgeBootstrapCmd() *cobra.Command {
	var (
		dir    string
		opts   edge.SiteOptions
		labels []string
		output string
	)
	cmd := &cobra.Command{
		Use:   "bootstrap --site NAME --hub nats://HOST:PORT",
		Short: "Write everything an edge site needs to join the lattice",
		Long: `bootstrap writes a site directory (default LATTICE-DIR/sites/NAME):

  leaf.conf        nats-server leaf node: local clients on --listen, connected to
                   --hub (the hub's leaf-node port) with the site's credentials
  site.creds       the site's credentials (0600): a wasmCloud host's permissions in
                   this lattice plus the site's own subjects edge.LATTICE.NAME.>,
                   usable only as a leaf-node connection; never printed
  start.sh         starts the leaf node and a wasmCloud host labelled site=NAME
                   (and every --label) in the foreground; with --node,
                   'canvas node' instead, making its own leaf-node connection
                   to the hub with the site's credentials (no nats-server)
  systemd/         wasmcanvas-leaf.service and wasmcanvas-host.service
  README.md        what the site's operator does with all of it

Copy the directory to the site (to --install-dir, which leaf.conf and the
units name files by; it defaults to --out) and run start.sh or install the
units. The hub needs no restart. The directory is written to a temporary directory and
renamed into place: all of it or nothing. Re-running with the same settings
writes nothing; --force rewrites the files with new settings (same key);
--rotate issues new credentials and revokes the old ones (push them with the
hub reachable: see 'canvas edge revoke').`,
		Example: `  canvas edge bootstrap --site north-1 --hub nats://hub.example.net:7422 --label region=north
  canvas edge bootstrap --site north-1 --hub tls://hub.example.net:7422 --out sites/north-1 \
    --install-dir /opt/wasmcanvas/north-1
  canvas edge bootstrap --site north-1 --hub nats://hub.example.net:7422 --rotate
  canvas edge bootstrap --site north-1 --hub nats://hub.example.net:7422 --node`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output, "table", "json", "yaml"); err != nil {
				return err
			}
			var err error
			if opts.Labels, err = edge.ParseLabels(labels); err != nil {
				return edgeError(err)
			}
			l, err := edge.Open(dir, time.Now())
			if err != nil {
				return err
			}
			res, err := l.Bootstrap(opts)
			if err != nil {
				return edgeError(err)
			}
			if res.AccountChanged {
				if err := pushAccount(cmd.Context(), l, ""); err != nil {
					return fmt.Errorf("site %s has new credentials, but the hub still accepts the old ones: %w; run `canvas edge push` once the hub is reachable", opts.Name, err)
				}
			}
			v := viewSite(res.Site)
			v.Changed = &res.Changed
			return printData(cmd.OutOrStdout(), output, v, func(w io.Writer) {
				if !res.Changed {
					fmt.Fprintf(w, "Site %s is already bootstrapped with these settings in %s: nothing written.\n", v.Name, v.Dir)
					return
				}
				fmt.Fprintf(w, "Site %s written to %s\n  hub      %s\n  labels   %s\n  expires  %s\n\nCopy the directory to the site and run ./start.sh there (or install systemd/*.service); see its README.md.\n",
					v.Name, v.Dir, v.Hub, formatLabels(v.Labels), v.Expires)
			})
		},
	}
	addLatticeDirFlag(cmd, &dir)
	f := cmd.Flags()
	f.StringVar(&opts.Name, "site", "", "site name: letters, digits, '-' and '_' (also the hosts' site label)")
	f.StringVar(&opts.Hub, "hub", "", "the hub's leaf-node URL, nats://HOST:PORT or tls://HOST:PORT")
	f.StringArrayVar(&labels, "label", nil, "extra host label key=value (repeatable)")
	f.StringVar(&opts.Dir, "out", "", "site directory (default LATTICE-DIR/sites/NAME)")
	f.StringVar(&opts.InstallDir, "install-dir", "", "where the directory will sit on the site's machine; leaf.conf and the units name files by it (default: --out)")
	f.StringVar(&opts.Listen, "listen", edge.DefaultSiteListen, "the leaf node's address for the site's local clients")
	f.DurationVar(&opts.Expiry, "expiry", edge.DefaultCredsExpiry, "lifetime of the site's credentials (0: never expire)")
	f.BoolVar(&opts.Force, "force", false, "overwrite an existing directory, or rewrite a known site with new settings")
	f.BoolVar(&opts.Rotate, "rotate", false, "issue the site new credentials and revoke the old ones")
	f.BoolVar(&opts.Node, "node", false, "the start script and host unit run `canvas node` (the canvas's own host, its own leaf-node connection to --hub with the site's credentials and labels) instead of the leaf node and a wasmCloud host")
	outputFlag(cmd, &output, "table", "json", "yaml")
	return cmd
}

// hubFlags say how edge revoke and list reach the hub's system account.
type hubFlags struct {
	url     string
	timeout time.Duration
}

func (h *hubFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&h.url, "nats", "", "the hub's client URL (default: the one lattice init recorded)")
	cmd.Flags().DurationVar(&h.timeout, "timeout", 10*time.Second, "how long to wait for the hub")
}

// pushAccount sends the lattice account's current JWT to the hub with the
// system account's credentials.
func pushAccount(ctx context.Context, l *edge.Lattice, url string) error {
	if url == "" {
		url = l.State().ClientURL
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	nc, err := lattice.Connect(ctx, lattice.Config{URLs: url, CredsFile: l.AdminCredsFile(), Name: "canvas-edge"}, nil)
	if err != nil {
		return err
	}
	defer nc.Close()
	return hubclient.PushAccount(ctx, nc, l.AccountJWT())
}

func newEdgeRevokeCmd() *cobra.Command {
	var (
		dir, site string
		hub       hubFlags
		output    string
	)
	cmd := &cobra.Command{
		Use:   "revoke --site NAME",
		Short: "Cut an edge site off the lattice at once",
		Long: `revoke adds the site's credentials to the lattice account's revocations,
records it in the lattice directory and pushes the new account JWT to the
hub's resolver with the system account's credentials ($SYS.REQ.CLAIMS.UPDATE).
The hub applies it without a restart: the site's leaf connection is closed
and cannot come back. If the hub cannot be reached the revocation stays
recorded; run the command again to push it. 'canvas edge bootstrap --rotate'
gives the site new credentials.`,
		Example: `  canvas edge revoke --site north-1
  canvas edge revoke --site north-1 --lattice-dir /etc/wasmcanvas/lattice --nats nats://hub:4222`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output, "table", "json", "yaml"); err != nil {
				return err
			}
			if err := edge.ValidateSiteName(site); err != nil {
				return usageErrorf("%v", err)
			}
			l, err := edge.Open(dir, time.Now())
			if err != nil {
				return err
			}
			s, err := l.Revoke(site)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), hub.timeout)
			defer cancel()
			if err := pushAccount(ctx, l, hub.url); err != nil {
				return fmt.Errorf("site %s is revoked in %s, but the hub has not applied it: %w; run the command again once the hub is reachable", site, l.Dir(), err)
			}
			v := viewSite(s)
			return printData(cmd.OutOrStdout(), output, v, func(w io.Writer) {
				fmt.Fprintf(w, "Site %s revoked at %s; the hub applied it.\n", v.Name, v.Revoked.UTC().Format(time.RFC3339))
			})
		},
	}
	addLatticeDirFlag(cmd, &dir)
	cmd.Flags().StringVar(&site, "site", "", "the site to revoke")
	hub.add(cmd)
	outputFlag(cmd, &output, "table", "json", "yaml")
	return cmd
}

func newEdgePushCmd() *cobra.Command {
	var (
		dir string
		hub hubFlags
	)
	cmd := &cobra.Command{
		Use:   "push",
		Short: "Push the lattice account's JWT to the hub again",
		Long: `push sends the lattice account's current JWT (with every revocation the
lattice directory records) to the hub's resolver. revoke and bootstrap
--rotate push it themselves; push is for when the hub was unreachable then,
or a hub server was set up again from an older hub/nats.conf.`,
		Example: `  canvas edge push --nats nats://hub.example.net:4222`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := edge.Open(dir, time.Now())
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), hub.timeout)
			defer cancel()
			if err := pushAccount(ctx, l, hub.url); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "The hub has the lattice account's current JWT.")
			return nil
		},
	}
	addLatticeDirFlag(cmd, &dir)
	hub.add(cmd)
	return cmd
}

func newEdgeListCmd() *cobra.Command {
	var (
		dir     string
		hub     hubFlags
		offline bool
		output  string
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List edge sites, their credentials' expiry and whether their leaf node is connected",
		Long: `list shows the sites the lattice directory records. Unless --offline it asks
the hub's servers for their leaf nodes through the system account
($SYS.REQ.SERVER.PING.LEAFZ) and shows LEAF connected or disconnected; if
the hub does not answer, LEAF is unknown and a warning says why.`,
		Example: `  canvas edge list
  canvas edge list -o json --nats nats://hub.example.net:4222`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output, "table", "json", "yaml"); err != nil {
				return err
			}
			l, err := edge.Open(dir, time.Now())
			if err != nil {
				return err
			}
			st := l.State()
			connected := map[string]bool{}
			leafKnown := false
			if !offline && len(st.Sites) > 0 {
				leafs, err := askLeafs(cmd.Context(), l, hub)
				if err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "warning: leaf nodes unknown: %v\n", err)
				} else {
					leafKnown = true
					for _, lf := range leafs {
						if lf.Account == st.Account {
							connected[lf.Name] = true
						}
					}
				}
			}
			views := make([]siteView, 0, len(st.Sites))
			for _, s := range st.Sites {
				v := viewSite(s)
				switch {
				case !leafKnown:
					v.Leaf = "unknown"
				case connected[edge.LeafServerName(st.Lattice, s.Name)]:
					v.Leaf = "connected"
				default:
					v.Leaf = "disconnected"
				}
				views = append(views, v)
			}
			sort.Slice(views, func(i, j int) bool { return views[i].Name < views[j].Name })
			return printData(cmd.OutOrStdout(), output, views, func(w io.Writer) {
				if len(views) == 0 {
					fmt.Fprintf(cmd.ErrOrStderr(), "No sites in lattice %s: add one with `canvas edge bootstrap`.\n", st.Lattice)
					return
				}
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "SITE\tSTATUS\tLEAF\tEXPIRES\tHUB\tLABELS")
				for _, v := range views {
					status := "active"
					if v.Revoked != nil {
						status = "revoked"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", v.Name, status, v.Leaf, v.Expires, v.Hub, formatLabels(v.Labels))
				}
				tw.Flush()
			})
		},
	}
	addLatticeDirFlag(cmd, &dir)
	hub.add(cmd)
	cmd.Flags().BoolVar(&offline, "offline", false, "do not ask the hub which leaf nodes are connected")
	outputFlag(cmd, &output, "table", "json", "yaml")
	return cmd
}

func askLeafs(ctx context.Context, l *edge.Lattice, hub hubFlags) ([]hubclient.Leaf, error) {
	url := hub.url
	if url == "" {
		url = l.State().ClientURL
	}
	ctx, cancel := context.WithTimeout(ctx, hub.timeout)
	defer cancel()
	nc, err := lattice.Connect(ctx, lattice.Config{URLs: url, CredsFile: l.AdminCredsFile(), Name: "canvas-edge"}, nil)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	return hubclient.Leafs(ctx, nc, time.Second)
}

func formatLabels(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		keys[i] = k + "=" + labels[k]
	}
	return strings.Join(keys, ",")
}
