package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wasmcanvas/wasmcanvas/pkg/daemon"
	"github.com/wasmcanvas/wasmcanvas/pkg/identity"
)

func newTokenCmd() *cobra.Command {
	var (
		server, issuer, audience, clientID, secretFile, output string
	)
	cmd := &cobra.Command{
		Use:   "token [--audience API] [--client-id ID --client-secret-file FILE]",
		Short: "Print an access token from the canvas's OpenID issuer (client_credentials), for scripts",
		Long: `Print an access token from the canvas's issuer with the client_credentials grant.

The issuer is the embedded one canvasd serves at --server's /oidc, or
--issuer (an external OpenID Provider; its token endpoint is found by
discovery). Without --client-id the token is for the canvas-admin client,
authenticated with the local admin credential of the canvas on this machine
serving --server (canvas:write on the canvas API). The default audience is
the canvas API ("` + identity.CanvasAudience + `"); a Component's APIs are its client
id: its name in the namespace components, else NAMESPACE.NAME.`,
		Example: `  curl -H "Authorization: Bearer $(canvas token)" http://127.0.0.1:7443/v1/components
  canvas token --audience productcatalog --client-id shop --client-secret-file shop.secret
  canvas token --issuer https://keycloak.example.org/realms/canvas --client-id ci --client-secret-file ci.secret -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, "plain", "json", "yaml"); err != nil {
				return err
			}
			if (clientID == "") != (secretFile == "") {
				return usageErrorf("--client-id and --client-secret-file go together")
			}
			if issuer == "" {
				issuer = strings.TrimRight(server, "/") + daemon.IssuerPath
			}
			secret := ""
			if clientID == "" {
				clientID, secret = identity.AdminClient, localCredential(server)
				if secret == "" {
					return fmt.Errorf("no local admin credential of a canvas serving %s on this machine: pass --client-id and --client-secret-file (or --server of a canvas you started)", server)
				}
			} else {
				data, err := os.ReadFile(secretFile)
				if err != nil {
					return fmt.Errorf("--client-secret-file: %w", err)
				}
				if secret = strings.TrimSpace(string(data)); secret == "" {
					return fmt.Errorf("--client-secret-file %s is empty", secretFile)
				}
			}
			md, err := identity.Discover(cmd.Context(), nil, issuer)
			if err != nil {
				return fmt.Errorf("issuer %s: %w", issuer, err)
			}
			if md.TokenEndpoint == "" {
				return errors.New("issuer " + issuer + " publishes no token_endpoint")
			}
			tok, err := identity.ClientCredentials{TokenURL: md.TokenEndpoint, ClientID: clientID, Secret: secret}.Token(cmd.Context(), audience)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			switch output {
			case "json":
				return writeJSON(w, tok)
			case "yaml":
				return writeYAML(w, tok)
			}
			_, err = fmt.Fprintln(w, tok.AccessToken)
			return err
		},
	}
	cmd.Flags().StringVar(&server, "server", DefaultServer, "canvasd API URL: its embedded issuer is this URL + "+daemon.IssuerPath)
	cmd.Flags().StringVar(&issuer, "issuer", "", "issuer URL (default --server's embedded issuer)")
	cmd.Flags().StringVar(&audience, "audience", identity.CanvasAudience, "the API the token is for (aud)")
	cmd.Flags().StringVar(&clientID, "client-id", "", "OAuth client (default canvas-admin with the local admin credential)")
	cmd.Flags().StringVar(&secretFile, "client-secret-file", "", "file holding the client's secret")
	outputFlag(cmd, &output, "plain", "json", "yaml")
	return cmd
}
