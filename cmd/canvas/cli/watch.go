package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/wasmcanvas/wasmcanvas/pkg/api/wire"
	"github.com/wasmcanvas/wasmcanvas/pkg/client"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

func newWatchCmd() *cobra.Command {
	var (
		namespace     string
		allNamespaces bool
		output        string
		timeout       time.Duration
		remote        remoteFlags
	)
	cmd := &cobra.Command{
		Use:   "watch [components] [-n NAMESPACE | -A]",
		Short: "Print Components as they change, until interrupted",
		Long: `watch prints the current Components, then one line per change (EVENT,
NAMESPACE, NAME, DEPLOYMENT_STATUS, WADM STATUS, VERSION); -o json prints each
watch event as one JSON line, -o yaml as one YAML document after a "---". It re-watches when canvasd restarts, and runs
until interrupted or, with --timeout, until that much time has passed (exit 0).`,
		Example: `  canvas watch
  canvas watch components -A -o json
  canvas watch -o yaml --timeout 10s`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 || (len(args) == 1 && !isComponentResource(args[0])) {
				return usageErrorf("usage: canvas watch [components]")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, "table", "json", "yaml"); err != nil {
				return err
			}
			ns := namespace
			if allNamespaces {
				ns = ""
			}
			ctx := cmd.Context()
			if timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			cl, err := remote.dial(ctx)
			if err != nil {
				return err
			}
			defer cl.Close()
			out := cmd.OutOrStdout()
			tw := tabwriter.NewWriter(out, 0, 4, 3, ' ', 0)
			if output == "table" {
				fmt.Fprintln(tw, "EVENT\tNAMESPACE\tNAME\tDEPLOYMENT_STATUS\tWADM STATUS\tVERSION")
				if err := tw.Flush(); err != nil {
					return err
				}
			}
			print := func(ev wire.WatchEvent) error {
				if ev.Type == wire.WatchBookmark {
					return nil
				}
				switch output {
				case "json":
					return json.NewEncoder(out).Encode(ev)
				case "yaml":
					if _, err := fmt.Fprintln(out, "---"); err != nil {
						return err
					}
					return writeYAML(out, ev)
				}
				c := ev.Object
				_, version := wadmApp(c)
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", ev.Type, c.Metadata.Namespace, c.Metadata.Name, deploymentStatus(c), wadmStatus(c), version)
				return tw.Flush()
			}
			for {
				err := cl.Watch(ctx, ns, "", print)
				if ctx.Err() != nil {
					return nil
				}
				if !errors.Is(err, client.ErrWatchEnded) {
					return apiError(cmd, err)
				}
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(rewatchPause):
				}
			}
		},
	}
	cmd.Flags().StringVarP(&namespace, "namespace", "n", oda.DefaultNamespace, "namespace")
	cmd.Flags().BoolVarP(&allNamespaces, "all-namespaces", "A", false, "watch every namespace")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "stop watching after this long (0: until interrupted)")
	outputFlag(cmd, &output, "table", "json", "yaml")
	remote.add(cmd)
	return cmd
}

func wadmStatus(c *oda.Component) string {
	if c.Status == nil || c.Status.WasmCloud == nil {
		return ""
	}
	return c.Status.WasmCloud.Status
}
