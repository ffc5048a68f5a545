package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/wasmcanvas/wasmcanvas/pkg/lattice"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
	"github.com/wasmcanvas/wasmcanvas/pkg/latticeadmin"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm/wadmclient"
)

// latticeFormats are the -o values of every lattice admin command.
var latticeFormats = []string{"table", "json", "yaml"}

// latticeConn are the connection flags of the lattice admin commands:
// they talk to the lattice's NATS directly (the control interface and
// wadm), so a context must name a NATS URL, not only canvasd's HTTP API.
type latticeConn struct {
	nats        string
	natsCreds   string
	creds       string // --creds, natscli's spelling of --nats-creds
	contextName string
	configPath  string
	lattice     string
	ctlPrefix   string
	timeout     time.Duration
	output      string
}

func (f *latticeConn) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.nats, "nats", "", "NATS URL of the lattice (default: the current context's nats)")
	cmd.Flags().StringVar(&f.natsCreds, "nats-creds", "", "NATS credentials file for --nats")
	cmd.Flags().StringVar(&f.creds, "creds", "", "same as --nats-creds (natscli's spelling)")
	cmd.Flags().StringVar(&f.contextName, "context", "", "use this context of the config file instead of its current-context")
	addConfigFlag(cmd, &f.configPath)
	cmd.Flags().StringVar(&f.lattice, "lattice", subject.DefaultLattice, "lattice name the hosts were started with")
	cmd.Flags().StringVar(&f.ctlPrefix, "ctl-prefix", subject.CtlDefaultPrefix, "control interface topic prefix the hosts were started with")
	cmd.Flags().DurationVar(&f.timeout, "timeout", latticeadmin.DefaultTimeout, "how long to wait for a reply, and how long a ping collects them")
	outputFlag(cmd, &f.output, latticeFormats...)
}

// resolve picks the NATS URL and credentials: --nats, else the context
// named by --context or current-context.
func (f *latticeConn) resolve() (url, creds, from string, err error) {
	if f.creds != "" {
		if f.natsCreds != "" && f.natsCreds != f.creds {
			return "", "", "", usageErrorf("--creds %s and --nats-creds %s name two files: give one of them", f.creds, f.natsCreds)
		}
		f.natsCreds = f.creds
	}
	if f.natsCreds != "" && f.nats == "" {
		return "", "", "", usageErrorf("--nats-creds goes with --nats URL (a context keeps its own nats-creds)")
	}
	if f.nats != "" {
		return f.nats, f.natsCreds, "--nats", nil
	}
	path, err := configFile(f.configPath)
	if err != nil {
		return "", "", "", err
	}
	cfg, err := loadConfig(path)
	if err != nil {
		return "", "", "", err
	}
	name := f.contextName
	if name == "" {
		name = cfg.CurrentContext
	}
	if name == "" {
		return "", "", "", usageErrorf("no lattice to talk to: pass --nats URL, or make a context with `canvas config set-context NAME --nats URL --current`")
	}
	c := cfg.find(name)
	if c == nil {
		return "", "", "", usageErrorf("context %q is not in %s (see `canvas config get-contexts`)", name, path)
	}
	if c.NATS == "" {
		return "", "", "", usageErrorf("context %q in %s has no nats URL, and lattice commands talk to NATS: set one with `canvas config set-context %s --nats URL`, or pass --nats", name, path, name)
	}
	return c.NATS, c.NATSCreds, fmt.Sprintf("context %q", name), nil
}

// dial checks the flags, connects and returns the connection to close.
func (f *latticeConn) dial(ctx context.Context) (*nats.Conn, error) {
	if err := checkOutput(f.output, latticeFormats...); err != nil {
		return nil, err
	}
	if err := subject.ValidateLattice(f.lattice); err != nil {
		return nil, usageErrorf("--lattice: %v", err)
	}
	if err := subject.ValidatePrefix(f.ctlPrefix); err != nil {
		return nil, usageErrorf("--ctl-prefix: %v", err)
	}
	if f.timeout <= 0 {
		return nil, usageErrorf("--timeout %v: must be positive", f.timeout)
	}
	url, creds, from, err := f.resolve()
	if err != nil {
		return nil, err
	}
	nc, err := lattice.Connect(ctx, lattice.Config{URLs: url, CredsFile: creds, Name: "canvas-cli", ConnectTimeout: connectTimeout}, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", from, err)
	}
	return nc, nil
}

// withClient connects, runs fn with a control interface client and closes.
func (f *latticeConn) withClient(cmd *cobra.Command, fn func(context.Context, *latticeadmin.Client) error) error {
	ctx := cmd.Context()
	nc, err := f.dial(ctx)
	if err != nil {
		return err
	}
	defer nc.Close()
	c, err := latticeadmin.New(nc, f.lattice, latticeadmin.WithPrefix(f.ctlPrefix), latticeadmin.WithTimeout(f.timeout))
	if err != nil {
		return usageErrorf("%v", err)
	}
	return fn(ctx, c)
}

// print writes v as JSON or YAML, or calls table. JSON keeps <, > and &
// as they are, as the hosts write them.
func (f *latticeConn) print(w io.Writer, v any, table func(*tabwriter.Writer)) error {
	switch f.output {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case "yaml":
		return writeYAML(w, v)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	table(tw)
	return tw.Flush()
}

// ctlResult is what a change prints with -o json|yaml: the host's reply.
type ctlResult struct {
	Success bool   `json:"success"`
	Message string `json:"message"`
}

func (f *latticeConn) printMessage(w io.Writer, msg string) error {
	return f.print(w, ctlResult{Success: true, Message: msg}, func(tw *tabwriter.Writer) { fmt.Fprintln(tw, msg) })
}

// init adds the lattice admin commands (hosts, ping, inventory, apps,
// links, config, label, events) to the `canvas lattice` parent.
func init() {
	latticeSubcommands = append(latticeSubcommands,
		newLatticeHostsCmd, newLatticePingCmd, newLatticeInventoryCmd, newLatticeAppsCmd,
		newLatticeLinksCmd, newLatticeConfigCmd, newLatticeLabelCmd, newLatticeEventsCmd,
	)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// labelList is k=v,k=v in key order.
func labelList(labels map[string]string) string {
	var kv []string
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		kv = append(kv, k+"="+labels[k])
	}
	return strings.Join(kv, ",")
}

func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func noHosts(cmd *cobra.Command, f *latticeConn) {
	fmt.Fprintf(cmd.ErrOrStderr(), "No host of lattice %q answered within %v.\n", f.lattice, f.timeout)
}

func newLatticeHostsCmd() *cobra.Command {
	var f latticeConn
	cmd := &cobra.Command{
		Use:   "hosts",
		Short: "List the lattice's wasmCloud hosts with their labels and what they run",
		Long: `hosts pings every host of the lattice (host.ping, collecting replies for
--timeout), then asks each for its inventory (host.get) to count its
components and providers. -o json|yaml print each host as it answered the
ping with the two counts beside it.`,
		Example: `  canvas lattice hosts
  canvas lattice hosts --nats nats://hub:4222 --nats-creds admin.creds -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.withClient(cmd, func(ctx context.Context, c *latticeadmin.Client) error {
				hosts, err := c.Hosts(ctx)
				if err != nil {
					return err
				}
				if len(hosts) == 0 && f.output == "table" {
					noHosts(cmd, &f)
					return nil
				}
				if hosts == nil {
					hosts = []latticeadmin.HostSummary{}
				}
				return f.print(cmd.OutOrStdout(), hosts, func(tw *tabwriter.Writer) {
					fmt.Fprintln(tw, "ID\tNAME\tVERSION\tUPTIME\tCOMPONENTS\tPROVIDERS\tLABELS")
					for _, h := range hosts {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\n", h.Host.ID, h.Host.FriendlyName, deref(h.Host.Version),
							deref(h.Host.UptimeHuman), h.Components, h.Providers, labelList(h.Host.Labels))
					}
				})
			})
		},
	}
	f.add(cmd)
	return cmd
}

func newLatticePingCmd() *cobra.Command {
	var f latticeConn
	cmd := &cobra.Command{
		Use:   "ping",
		Short: "Ping every host of the lattice and show who answered, and how fast",
		Long: `ping sends one host.ping and collects the replies for --timeout: every host
of the lattice answers. -o json|yaml print the replies as the hosts sent them
(without the round-trip times).`,
		Example: `  canvas lattice ping --timeout 500ms`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.withClient(cmd, func(ctx context.Context, c *latticeadmin.Client) error {
				replies, err := c.Ping(ctx)
				if err != nil {
					return err
				}
				if len(replies) == 0 && f.output == "table" {
					noHosts(cmd, &f)
					return nil
				}
				hosts := make([]latticeadmin.Host, 0, len(replies))
				for _, r := range replies {
					hosts = append(hosts, r.Host)
				}
				return f.print(cmd.OutOrStdout(), hosts, func(tw *tabwriter.Writer) {
					fmt.Fprintln(tw, "ID\tNAME\tLATTICE\tCTL HOST\tRTT")
					for _, r := range replies {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Host.ID, r.Host.FriendlyName, r.Host.Lattice, deref(r.Host.CtlHost), r.RTT.Round(time.Microsecond))
					}
				})
			})
		},
	}
	f.add(cmd)
	return cmd
}

func newLatticeInventoryCmd() *cobra.Command {
	var f latticeConn
	cmd := &cobra.Command{
		Use:   "inventory HOST",
		Short: "Show what one host runs: its components and providers",
		Long: `inventory asks one host (its id, as 'canvas lattice hosts' lists it) for
its inventory (host.get). -o json|yaml print it as the host sent it.`,
		Example: `  canvas lattice inventory NCRXKSKEDK3Z775IRSNBKTFCRAEB7WBQNSREZ4DMFN2TKYRYXNV7UPRT`,
		Args:    exactArgs(1, "HOST"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := latticeadmin.ValidateHostID(args[0]); err != nil {
				return usageErrorf("%v", err)
			}
			return f.withClient(cmd, func(ctx context.Context, c *latticeadmin.Client) error {
				inv, err := c.Inventory(ctx, args[0])
				if err != nil {
					return err
				}
				return f.print(cmd.OutOrStdout(), inv, func(tw *tabwriter.Writer) { inventoryTable(tw, inv) })
			})
		},
	}
	f.add(cmd)
	return cmd
}

func inventoryTable(tw *tabwriter.Writer, inv latticeadmin.HostInventory) {
	fmt.Fprintf(tw, "HOST\t%s (%s)\n", inv.HostID, inv.FriendlyName)
	fmt.Fprintf(tw, "VERSION\t%s\n", inv.Version)
	fmt.Fprintf(tw, "UPTIME\t%s\n", inv.UptimeHuman)
	fmt.Fprintf(tw, "LABELS\t%s\n", orNone(labelList(inv.Labels)))
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "COMPONENT\tIMAGE\tMAX INSTANCES\tNAME\tAPP")
	for _, c := range inv.Components {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", c.ID, c.ImageRef, c.MaxInstances, orNone(deref(c.Name)), orNone(c.Annotations[latticeadmin.AnnotationAppSpec]))
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "PROVIDER\tIMAGE\tNAME\tAPP")
	for _, p := range inv.Providers {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.ID, orNone(deref(p.ImageRef)), orNone(deref(p.Name)), orNone(p.Annotations[latticeadmin.AnnotationAppSpec]))
	}
}

func newLatticeAppsCmd() *cobra.Command {
	var f latticeConn
	cmd := &cobra.Command{
		Use:   "apps",
		Short: "List the lattice's wadm applications, their deployed version and status",
		Long: `apps asks wadm (model.get on its API) for every application of the
lattice: the canvas's Components and any other. -o json|yaml print wadm's
application summaries.`,
		Example: `  canvas lattice apps -o yaml`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			nc, err := f.dial(ctx)
			if err != nil {
				return err
			}
			defer nc.Close()
			wc, err := wadmclient.New(nc, f.lattice, wadmclient.WithTimeout(f.timeout))
			if err != nil {
				return usageErrorf("%v", err)
			}
			list, err := wc.List(ctx)
			if err != nil {
				return err
			}
			models := list.Models
			if models == nil {
				models = []wadm.ModelSummary{}
			}
			return f.print(cmd.OutOrStdout(), models, func(tw *tabwriter.Writer) {
				fmt.Fprintln(tw, "NAME\tDEPLOYED\tLATEST\tSTATUS\tMESSAGE")
				for _, m := range models {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", m.Name, orNone(deref(m.DeployedVersion)), m.Version,
						m.DetailedStatus.Info.Type, m.DetailedStatus.Info.Message)
				}
			})
		},
	}
	f.add(cmd)
	return cmd
}

func newLatticeLinksCmd() *cobra.Command {
	var f latticeConn
	cmd := &cobra.Command{
		Use:   "links",
		Short: "List the lattice's interface links",
		Long: `links asks the lattice for its links (link.get; one host answers). The
INTERFACES column reads namespace:package/interface,interface.`,
		Example: `  canvas lattice links -o json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.withClient(cmd, func(ctx context.Context, c *latticeadmin.Client) error {
				links, err := c.Links(ctx)
				if err != nil {
					return err
				}
				if links == nil {
					links = []latticeadmin.Link{}
				}
				return f.print(cmd.OutOrStdout(), links, func(tw *tabwriter.Writer) {
					fmt.Fprintln(tw, "SOURCE\tTARGET\tNAME\tINTERFACES\tSOURCE CONFIG\tTARGET CONFIG")
					for _, l := range links {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s:%s/%s\t%s\t%s\n", l.SourceID, l.Target, l.Name, l.WitNamespace, l.WitPackage,
							strings.Join(l.Interfaces, ","), orNone(strings.Join(l.SourceConfig, ",")), orNone(strings.Join(l.TargetConfig, ",")))
					}
				})
			})
		},
	}
	f.add(cmd)
	return cmd
}

// parseKV reads KEY=VALUE; the value may be empty, the key may not.
func parseKV(arg string) (key, value string, err error) {
	key, value, ok := strings.Cut(arg, "=")
	if !ok || key == "" {
		return "", "", usageErrorf("%q: want KEY=VALUE", arg)
	}
	return key, value, nil
}

func newLatticeConfigCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Read, write and delete the lattice's named config",
		Long: `config reads and writes the named config that components and providers
are started with (config.get, config.put, config.del). put replaces the
whole config with the KEY=VALUE pairs given.`,
		Example: `  canvas lattice config put shop-db url=postgres://db:5432/shop pool=10
  canvas lattice config get shop-db -o json
  canvas lattice config del shop-db`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return usageErrorf("config what? use `canvas lattice config get|put|del NAME`")
		},
	}
	var get, put, del latticeConn
	getCmd := &cobra.Command{
		Use:   "get NAME",
		Short: "Print a named config",
		Args:  exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := latticeadmin.ValidateConfigName(args[0]); err != nil {
				return usageErrorf("%v", err)
			}
			return get.withClient(cmd, func(ctx context.Context, c *latticeadmin.Client) error {
				values, found, err := c.ConfigGet(ctx, args[0])
				if err != nil {
					return err
				}
				if !found {
					return fmt.Errorf("config %q: not found on lattice %q (see `canvas lattice config put`)", args[0], get.lattice)
				}
				return get.print(cmd.OutOrStdout(), values, func(tw *tabwriter.Writer) {
					fmt.Fprintln(tw, "KEY\tVALUE")
					for _, k := range slices.Sorted(maps.Keys(values)) {
						fmt.Fprintf(tw, "%s\t%s\n", k, values[k])
					}
				})
			})
		},
	}
	putCmd := &cobra.Command{
		Use:   "put NAME KEY=VALUE...",
		Short: "Write a named config, replacing it",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 {
				return usageErrorf("%s takes NAME and at least one KEY=VALUE, got %d argument(s)", cmd.CommandPath(), len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := latticeadmin.ValidateConfigName(args[0]); err != nil {
				return usageErrorf("%v", err)
			}
			values := map[string]string{}
			for _, a := range args[1:] {
				k, v, err := parseKV(a)
				if err != nil {
					return err
				}
				if _, dup := values[k]; dup {
					return usageErrorf("key %q given twice: keep one", k)
				}
				values[k] = v
			}
			return put.withClient(cmd, func(ctx context.Context, c *latticeadmin.Client) error {
				msg, err := c.ConfigPut(ctx, args[0], values)
				if err != nil {
					return err
				}
				return put.printMessage(cmd.OutOrStdout(), msg)
			})
		},
	}
	delCmd := &cobra.Command{
		Use:   "del NAME",
		Short: "Delete a named config",
		Args:  exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := latticeadmin.ValidateConfigName(args[0]); err != nil {
				return usageErrorf("%v", err)
			}
			return del.withClient(cmd, func(ctx context.Context, c *latticeadmin.Client) error {
				msg, err := c.ConfigDelete(ctx, args[0])
				if err != nil {
					return err
				}
				return del.printMessage(cmd.OutOrStdout(), msg)
			})
		},
	}
	get.add(getCmd)
	put.add(putCmd)
	del.add(delCmd)
	cmd.AddCommand(getCmd, putCmd, delCmd)
	return cmd
}

func newLatticeLabelCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "label",
		Short: "Set or remove a label on one host",
		Long: `label sets (label.put) or removes (label.del) a label on one host, e.g. the
site=NAME a placement selects on. Hosts refuse keys starting with hostcore.
(their own labels). del takes KEY or KEY=VALUE (the value is ignored).`,
		Example: `  canvas lattice label put NCRXKSKEDK3Z775IRSNBKTFCRAEB7WBQNSREZ4DMFN2TKYRYXNV7UPRT zone=eu-west
  canvas lattice label del NCRXKSKEDK3Z775IRSNBKTFCRAEB7WBQNSREZ4DMFN2TKYRYXNV7UPRT zone`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return usageErrorf("label what? use `canvas lattice label put|del HOST KEY=VALUE`")
		},
	}
	var put, del latticeConn
	putCmd := &cobra.Command{
		Use:   "put HOST KEY=VALUE",
		Short: "Set a label on a host",
		Args:  exactArgs(2, "HOST and KEY=VALUE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := latticeadmin.ValidateHostID(args[0]); err != nil {
				return usageErrorf("%v", err)
			}
			k, v, err := parseKV(args[1])
			if err != nil {
				return err
			}
			return put.withClient(cmd, func(ctx context.Context, c *latticeadmin.Client) error {
				msg, err := c.LabelPut(ctx, args[0], k, v)
				if err != nil {
					return err
				}
				return put.printMessage(cmd.OutOrStdout(), msg)
			})
		},
	}
	delCmd := &cobra.Command{
		Use:   "del HOST KEY",
		Short: "Remove a label from a host",
		Args:  exactArgs(2, "HOST and KEY"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := latticeadmin.ValidateHostID(args[0]); err != nil {
				return usageErrorf("%v", err)
			}
			k, _, _ := strings.Cut(args[1], "=")
			if k == "" {
				return usageErrorf("label key is empty")
			}
			return del.withClient(cmd, func(ctx context.Context, c *latticeadmin.Client) error {
				msg, err := c.LabelDelete(ctx, args[0], k)
				if err != nil {
					return err
				}
				return del.printMessage(cmd.OutOrStdout(), msg)
			})
		},
	}
	put.add(putCmd)
	del.add(delCmd)
	cmd.AddCommand(putCmd, delCmd)
	return cmd
}

func newLatticeEventsCmd() *cobra.Command {
	var (
		f     latticeConn
		types []string
		count int
		span  time.Duration
	)
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Tail the lattice's host events, until interrupted",
		Long: `events prints the host events of the lattice (wasmbus.evt.LATTICE.*) as they
arrive: one line each (TIME, TYPE, SOURCE, DATA) in a table, one CloudEvent
per line with -o json, one YAML document each with -o yaml. --type keeps
only the named events (repeat it; the name after com.wasmcloud.lattice.).
It runs until Ctrl-C (exit 0), --count events or --for.`,
		Example: `  canvas lattice events
  canvas lattice events --type component_scaled --type component_scale_failed -o json
  canvas lattice events --type labels_changed --count 1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, t := range types {
				if _, err := latticeadmin.EventName(t); err != nil {
					return usageErrorf("--type: %v", err)
				}
			}
			if count < 0 || span < 0 {
				return usageErrorf("--count and --for must not be negative")
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if span > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, span)
				defer cancel()
			}
			out := cmd.OutOrStdout()
			seen := 0
			return f.withClient(cmd, func(_ context.Context, c *latticeadmin.Client) error {
				ready := func(subjects []string) {
					fmt.Fprintf(cmd.ErrOrStderr(), "Watching %s (Ctrl-C to stop).\n", strings.Join(subjects, ", "))
					if f.output == "table" {
						fmt.Fprintln(out, "TIME\tTYPE\tSOURCE\tDATA")
					}
				}
				err := c.Events(ctx, types, ready, func(ev latticeadmin.Event) error {
					if err := f.printEvent(out, ev); err != nil {
						return err
					}
					if seen++; count > 0 && seen >= count {
						return errEnoughEvents
					}
					return nil
				})
				if errors.Is(err, errEnoughEvents) {
					return nil
				}
				return err
			})
		},
	}
	f.add(cmd)
	cmd.Flags().StringArrayVar(&types, "type", nil, "only events of this type, e.g. component_scaled (repeatable)")
	cmd.Flags().IntVar(&count, "count", 0, "stop after this many events (0: no limit)")
	cmd.Flags().DurationVar(&span, "for", 0, "stop after this long (0: until interrupted)")
	return cmd
}

// errEnoughEvents ends `events --count N` after the Nth event.
var errEnoughEvents = errors.New("enough events")

// printEvent writes one event. Tables are tab-separated lines (a stream
// cannot be aligned ahead); an event that is not a CloudEvent is shown raw.
func (f *latticeConn) printEvent(w io.Writer, ev latticeadmin.Event) error {
	if ev.DecodeErr != nil {
		if f.output == "table" {
			_, err := fmt.Fprintf(w, "-\t%s\t-\t%s (%v)\n", ev.Name, strconv.Quote(string(ev.Raw)), ev.DecodeErr)
			return err
		}
		return f.print(w, map[string]string{"subject": ev.Subject, "raw": string(ev.Raw), "error": ev.DecodeErr.Error()}, nil)
	}
	switch f.output {
	case "json":
		_, err := fmt.Fprintf(w, "%s\n", ev.Raw)
		return err
	case "yaml":
		if _, err := fmt.Fprintln(w, "---"); err != nil {
			return err
		}
		var v any
		if err := json.Unmarshal(ev.Raw, &v); err != nil {
			return err
		}
		return writeYAML(w, v)
	}
	e := ev.Envelope
	_, err := fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", e.Time, strings.TrimPrefix(e.Type, subject.HostEventTypePrefix), e.Source, e.Data)
	return err
}
