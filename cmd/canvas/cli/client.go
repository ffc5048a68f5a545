package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/wasmcanvas/wasmcanvas/pkg/api/wire"
)

// oauthClient is what `canvas client` needs of canvasd: its HTTP API
// (pkg/client.HTTP); the NATS micro API has no client endpoints.
type oauthClient interface {
	CreateClient(ctx context.Context, req wire.ClientRequest) (*wire.Client, error)
	Clients(ctx context.Context) ([]wire.Client, error)
	GrantClient(ctx context.Context, id string, req wire.GrantRequest) (*wire.Client, error)
	DeleteClient(ctx context.Context, id string) (*wire.Client, error)
}

func newClientCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "client",
		Short: "Register OAuth clients with the canvas's embedded issuer and grant them a Component's roles",
		Long: `A Component with a securityFunction has its exposed APIs guarded: a caller needs
a bearer token whose audience is the Component's client id (its name in the
namespace components, else NAMESPACE.NAME) holding one of its componentRole
names or its canvasSystemRole. canvas client registers the clients that get
such tokens from the embedded issuer (client_credentials); create prints the
secret once, on stdout, so a script can keep it:

  canvas client create shop --grant productcatalog=pcadmin > shop.secret
  canvas token --client-id shop --client-secret-file shop.secret --audience productcatalog

Clients live in JetStream KV and survive restarts. The canvas's own clients
(canvas-admin, canvas-system) are refused, and a Component's own client is
deleted with its Component. With an external issuer (--oidc-issuer) clients
are managed in that issuer: these commands answer 501. They need canvas:write.`,
	}
	cmd.AddCommand(newClientCreateCmd(), newClientListCmd(), newClientGrantCmd(), newClientDeleteCmd())
	return cmd
}

// clientCommand holds the connection every client subcommand shares.
type clientCommand struct{ remote remoteFlags }

func (c *clientCommand) dial(ctx context.Context) (oauthClient, func(), error) {
	cl, err := c.remote.dial(ctx)
	if err != nil {
		return nil, nil, err
	}
	oc, ok := cl.(oauthClient)
	if !ok {
		cl.Close()
		return nil, nil, usageErrorf("canvas client talks to canvasd's HTTP API: use --server (or a context with a server), not --nats")
	}
	return oc, func() { cl.Close() }, nil
}

// parseGrant reads AUDIENCE=ROLE[,ROLE].
func parseGrant(flag, s string) (string, []string, error) {
	aud, list, ok := strings.Cut(s, "=")
	var roles []string
	for r := range strings.SplitSeq(list, ",") {
		if r = strings.TrimSpace(r); r != "" {
			roles = append(roles, r)
		}
	}
	aud = strings.TrimSpace(aud)
	if !ok || aud == "" || len(roles) == 0 {
		return "", nil, usageErrorf("%s %q: want AUDIENCE=ROLE[,ROLE], e.g. productcatalog=pcadmin", flag, s)
	}
	return aud, roles, nil
}

func newClientCreateCmd() *cobra.Command {
	var (
		c      clientCommand
		grants []string
		output string
	)
	cmd := &cobra.Command{
		Use:   "create NAME [--grant AUDIENCE=ROLE[,ROLE]]...",
		Short: "Register a client; prints its secret once",
		Example: `  canvas client create shop --grant productcatalog=pcadmin > shop.secret
  canvas client create ci --grant productcatalog=pcadmin,Admin -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output, "plain", "json", "yaml"); err != nil {
				return err
			}
			req := wire.ClientRequest{ID: args[0], Grants: map[string][]string{}}
			for _, g := range grants {
				aud, roles, err := parseGrant("--grant", g)
				if err != nil {
					return err
				}
				req.Grants[aud] = append(req.Grants[aud], roles...)
			}
			cl, done, err := c.dial(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			out, err := cl.CreateClient(cmd.Context(), req)
			if err != nil {
				return apiError(cmd, err)
			}
			switch output {
			case "json":
				return writeJSON(cmd.OutOrStdout(), out)
			case "yaml":
				return writeYAML(cmd.OutOrStdout(), out)
			}
			fmt.Fprintln(cmd.OutOrStdout(), out.Secret)
			fmt.Fprintf(cmd.ErrOrStderr(), "client %s registered (%s): keep its secret now, the canvas stores only its hash\n", out.ID, grantsText(out.Grants))
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&grants, "grant", nil, "roles on an audience, AUDIENCE=ROLE[,ROLE] (repeatable); a Component's audience is its client id")
	outputFlag(cmd, &output, "plain", "json", "yaml")
	c.remote.add(cmd)
	return cmd
}

func grantsText(g map[string][]string) string {
	if len(g) == 0 {
		return "no roles"
	}
	var parts []string
	for aud, roles := range g {
		parts = append(parts, aud+"="+strings.Join(roles, ","))
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}

func newClientListCmd() *cobra.Command {
	var (
		c      clientCommand
		output string
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the issuer's clients, their grants and owners (never secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, "table", "json", "yaml"); err != nil {
				return err
			}
			cl, done, err := c.dial(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			list, err := cl.Clients(cmd.Context())
			if err != nil {
				return apiError(cmd, err)
			}
			switch output {
			case "json":
				return writeJSON(cmd.OutOrStdout(), wire.ClientList{Items: list})
			case "yaml":
				return writeYAML(cmd.OutOrStdout(), wire.ClientList{Items: list})
			}
			return clientTable(cmd.OutOrStdout(), list)
		},
	}
	outputFlag(cmd, &output, "table", "json", "yaml")
	c.remote.add(cmd)
	return cmd
}

func clientTable(w io.Writer, list []wire.Client) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tGRANTS\tDEFINES ROLES\tOWNER")
	for _, c := range list {
		owner := c.Owner
		if owner == "" {
			owner = "-"
		}
		roles := strings.Join(c.Roles, ",")
		if roles == "" {
			roles = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.ID, grantsText(c.Grants), roles, owner)
	}
	return tw.Flush()
}

func newClientGrantCmd() *cobra.Command {
	var c clientCommand
	cmd := &cobra.Command{
		Use:     "grant NAME AUDIENCE=ROLE[,ROLE]",
		Short:   "Add roles on an audience to a client (its next token carries them)",
		Example: `  canvas client grant shop productcatalog=pcadmin`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			aud, roles, err := parseGrant("grant", args[1])
			if err != nil {
				return err
			}
			cl, done, err := c.dial(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			out, err := cl.GrantClient(cmd.Context(), args[0], wire.GrantRequest{Audience: aud, Roles: roles})
			if err != nil {
				return apiError(cmd, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "client %s: %s\n", out.ID, grantsText(out.Grants))
			return nil
		},
	}
	c.remote.add(cmd)
	return cmd
}

func newClientDeleteCmd() *cobra.Command {
	var c clientCommand
	cmd := &cobra.Command{
		Use:   "delete NAME",
		Short: "Remove a client: no new tokens; those it has live until they expire",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, done, err := c.dial(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			out, err := cl.DeleteClient(cmd.Context(), args[0])
			if err != nil {
				return apiError(cmd, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "client %s deleted\n", out.ID)
			return nil
		},
	}
	c.remote.add(cmd)
	return cmd
}
