package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/wasmcanvas/wasmcanvas/pkg/client"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

func newDeleteCmd() *cobra.Command {
	var (
		files     []string
		recursive bool
		namespace string
		wait      bool
		timeout   time.Duration
		remote    remoteFlags
	)
	cmd := &cobra.Command{
		Use:   "delete component NAME... | -f FILE|DIR [--wait]",
		Short: "Delete Components; the canvas undeploys their wadm applications",
		Long: `delete removes Components from the desired state; the reconciler then
undeploys and deletes each wadm application and removes the status. With
--wait, delete returns once that has happened (or exits 1 after --timeout).`,
		Example: `  canvas delete component ctk-productcatalogmanagement
  canvas delete -f component.yaml --wait`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if timeout <= 0 {
				return usageErrorf("--timeout %s must be positive", timeout)
			}
			var targets []waitTarget
			switch {
			case len(files) > 0 && len(args) > 0:
				return usageErrorf("give either component NAME... or -f FILE, not both")
			case len(files) > 0:
				srcs, err := readSources(cmd.InOrStdin(), files, recursive)
				if err != nil {
					return err
				}
				for _, s := range srcs {
					c, err := oda.Parse(s.name, s.data)
					if err != nil {
						return printFieldErrors(cmd, s.name, err)
					}
					ns := c.Metadata.Namespace
					if ns == "" {
						ns = oda.DefaultNamespace
					}
					targets = append(targets, waitTarget{namespace: ns, name: c.Metadata.Name})
				}
			case len(args) >= 2 && isComponentResource(args[0]):
				for _, n := range args[1:] {
					targets = append(targets, waitTarget{namespace: namespace, name: n})
				}
			default:
				return usageErrorf("usage: canvas delete component NAME... or canvas delete -f FILE")
			}
			ctx := cmd.Context()
			cl, err := remote.dial(ctx)
			if err != nil {
				return err
			}
			defer cl.Close()
			for _, t := range targets {
				if _, err := cl.Delete(ctx, t.namespace, t.name, ""); err != nil {
					return apiError(cmd, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "component %s deleted\n", t)
			}
			if !wait {
				return nil
			}
			return waitGone(ctx, cmd, cl, targets, timeout)
		},
	}
	cmd.Flags().StringArrayVarP(&files, "filename", "f", nil, "Component file or directory naming what to delete (repeatable)")
	cmd.Flags().BoolVarP(&recursive, "recursive", "R", false, "descend into subdirectories of a -f directory")
	cmd.Flags().StringVarP(&namespace, "namespace", "n", oda.DefaultNamespace, "namespace of the NAMEs")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until the wadm applications are removed")
	cmd.Flags().DurationVar(&timeout, "timeout", DefaultWaitTimeout, "how long --wait waits")
	remote.add(cmd)
	return cmd
}

// deletePoll is how often --wait asks whether the status is gone; the
// status disappearing is the reconciler's last step, and it publishes no
// other signal for it.
const deletePoll = 250 * time.Millisecond

func waitGone(ctx context.Context, cmd *cobra.Command, cl client.Client, targets []waitTarget, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	pending := append([]waitTarget(nil), targets...)
	for {
		var still []waitTarget
		for _, t := range pending {
			_, err := cl.Status(ctx, t.namespace, t.name)
			switch {
			case client.IsNotFound(err):
				fmt.Fprintf(cmd.OutOrStdout(), "component %s removed from the lattice\n", t)
			case err != nil && ctx.Err() == nil:
				return apiError(cmd, err)
			default:
				still = append(still, t)
			}
		}
		pending = still
		if len(pending) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			msg := fmt.Sprintf("timed out after %s waiting for the removal of", timeout)
			for _, t := range pending {
				msg += " " + t.String()
			}
			fmt.Fprintln(cmd.ErrOrStderr(), msg)
			return reported(fmt.Errorf("%d not removed", len(pending)))
		case <-time.After(deletePoll):
		}
	}
}
