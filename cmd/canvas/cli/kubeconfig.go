package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/wasmcanvas/wasmcanvas/pkg/auth"
	"github.com/wasmcanvas/wasmcanvas/pkg/daemon"
	"github.com/wasmcanvas/wasmcanvas/pkg/kubeapi"
	"github.com/wasmcanvas/wasmcanvas/pkg/up"
)

func newKubeconfigCmd() *cobra.Command {
	var stateDir string
	cmd := &cobra.Command{
		Use:   "kubeconfig",
		Short: "Print a kubeconfig for the Kubernetes-style API of a running canvas",
		Long: `kubeconfig prints, to stdout, a kubeconfig for the kube API of the canvas
running on the state directory ('canvas up', or canvasd --state-dir): its
https URL, the canvas's CA (created in the state directory) and the local
admin credential. The context's namespace is components, as on the
reference canvas. The output holds a credential: keep it private.`,
		Example: "  canvas kubeconfig > kc && kubectl --kubeconfig kc get components\n  canvas kubeconfig --state-dir /tmp/canvas > kc",
		Args:    noArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return printKubeconfig(cmd.OutOrStdout(), stateDir) },
	}
	cmd.Flags().StringVar(&stateDir, "state-dir", "", "state directory of the running canvas (default $XDG_STATE_HOME/wasmcanvas)")
	return cmd
}

// printKubeconfig writes the kubeconfig of the canvas on stateDir ("" for
// the default) to w.
func printKubeconfig(w io.Writer, stateDir string) error {
	if stateDir == "" {
		d, err := daemon.DefaultStateDir()
		if err != nil {
			return err
		}
		stateDir = d
	}
	server := ""
	if info, ok := up.Running(stateDir); ok {
		server = info.Kube
	} else if ri, err := daemon.ReadRuntimeInfo(stateDir); err == nil {
		server = ri.Kube
	} else {
		return notRunning(stateDir)
	}
	if server == "" {
		return fmt.Errorf("the canvas on %s serves no kube API (--kube-listen off): restart it with --kube-listen 127.0.0.1:0", stateDir)
	}
	ca, err := kubeapi.ReadCA(stateDir)
	if err != nil {
		return err
	}
	tok, err := auth.ReadAdminToken(stateDir)
	if err != nil {
		return fmt.Errorf("local admin credential: %w", err)
	}
	out, err := kubeapi.Kubeconfig(server, ca, tok)
	if err != nil {
		return err
	}
	_, err = w.Write(out)
	return err
}
