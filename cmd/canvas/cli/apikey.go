package cli

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/wasmcanvas/wasmcanvas/pkg/api/wire"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

// apiKeyClient is what `canvas apikey` needs of canvasd: its HTTP API
// (pkg/client.HTTP); the NATS micro API has no key endpoints.
type apiKeyClient interface {
	CreateAPIKey(ctx context.Context, namespace, name, consumer string) (*wire.APIKey, error)
	APIKeys(ctx context.Context, namespace, name string) ([]wire.APIKey, error)
	RevokeAPIKey(ctx context.Context, namespace, name, id string) (*wire.APIKey, error)
}

func newAPIKeyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "apikey",
		Short: "Make, list and revoke the API keys of a Component's APIs (apiKeyVerification)",
		Long: `An exposed API whose gatewayConfiguration.apiKeyVerification is enabled answers
401 unless the request carries a key made for its Component, in the header or
query parameter its location names (default: apikey). The canvas stores only a
key's SHA-256; create prints the key once, on stdout, so a script can keep it:

  KEY=$(canvas apikey create productcatalog --consumer partner-a)

Keys live in JetStream KV, survive restarts, and a revoked key is refused by
every gateway of the canvas at once.`,
	}
	cmd.AddCommand(newAPIKeyCreateCmd(), newAPIKeyListCmd(), newAPIKeyRevokeCmd())
	return cmd
}

// apiKeyCommand holds what every apikey subcommand shares: the Component
// and the connection.
type apiKeyCommand struct {
	namespace string
	remote    remoteFlags
}

func (a *apiKeyCommand) add(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&a.namespace, "namespace", "n", oda.DefaultNamespace, "namespace of the Component")
	a.remote.add(cmd)
}

func (a *apiKeyCommand) dial(ctx context.Context) (apiKeyClient, func(), error) {
	cl, err := a.remote.dial(ctx)
	if err != nil {
		return nil, nil, err
	}
	kc, ok := cl.(apiKeyClient)
	if !ok {
		cl.Close()
		return nil, nil, usageErrorf("canvas apikey talks to canvasd's HTTP API: use --server (or a context with a server), not --nats")
	}
	return kc, func() { cl.Close() }, nil
}

func newAPIKeyCreateCmd() *cobra.Command {
	var (
		a        apiKeyCommand
		consumer string
		output   string
	)
	cmd := &cobra.Command{
		Use:   "create COMPONENT --consumer NAME",
		Short: "Make an API key for a Component's APIs; prints the key once",
		Example: `  canvas apikey create productcatalog --consumer partner-a
  curl -H "apikey: $KEY" http://127.0.0.1:8080/productcatalog/tmf-api/productCatalogManagement/v4/catalog
  canvas apikey create productcatalog --consumer partner-b -o json   # id and key together`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output, "plain", "json", "yaml"); err != nil {
				return err
			}
			if consumer == "" {
				return usageErrorf("--consumer is required: name who holds the key (rate limits and quotas by consumer count per name)")
			}
			cl, done, err := a.dial(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			k, err := cl.CreateAPIKey(cmd.Context(), a.namespace, args[0], consumer)
			if err != nil {
				return apiError(cmd, err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "API key %s for %s/%s (consumer %s): keep it now, the canvas stores only its hash\n", k.ID, k.Namespace, k.Component, k.Consumer)
			return printData(cmd.OutOrStdout(), output, k, func(w io.Writer) { fmt.Fprintln(w, k.Key) })
		},
	}
	cmd.Flags().StringVar(&consumer, "consumer", "", "who holds the key (required)")
	outputFlag(cmd, &output, "plain", "json", "yaml")
	a.add(cmd)
	return cmd
}

func newAPIKeyListCmd() *cobra.Command {
	var (
		a      apiKeyCommand
		output string
	)
	cmd := &cobra.Command{
		Use:   "list COMPONENT",
		Short: "List a Component's API keys (ids and consumers, never the keys)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output, "table", "json", "yaml"); err != nil {
				return err
			}
			cl, done, err := a.dial(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			keys, err := cl.APIKeys(cmd.Context(), a.namespace, args[0])
			if err != nil {
				return apiError(cmd, err)
			}
			return printData(cmd.OutOrStdout(), output, wire.APIKeyList{Items: keys}, func(w io.Writer) {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tCONSUMER\tCREATED")
				for _, k := range keys {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", k.ID, k.Consumer, k.Created.Format(time.RFC3339))
				}
				tw.Flush()
			})
		},
	}
	outputFlag(cmd, &output, "table", "json", "yaml")
	a.add(cmd)
	return cmd
}

func newAPIKeyRevokeCmd() *cobra.Command {
	var (
		a      apiKeyCommand
		output string
	)
	cmd := &cobra.Command{
		Use:   "revoke COMPONENT ID",
		Short: "Revoke an API key: every gateway refuses it from now on",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output, "text", "json", "yaml"); err != nil {
				return err
			}
			cl, done, err := a.dial(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			k, err := cl.RevokeAPIKey(cmd.Context(), a.namespace, args[0], args[1])
			if err != nil {
				return apiError(cmd, err)
			}
			return printData(cmd.OutOrStdout(), output, k, func(w io.Writer) {
				fmt.Fprintf(w, "API key %s of %s/%s (consumer %s) revoked\n", k.ID, k.Namespace, k.Component, k.Consumer)
			})
		},
	}
	outputFlag(cmd, &output, "text", "json", "yaml")
	a.add(cmd)
	return cmd
}
