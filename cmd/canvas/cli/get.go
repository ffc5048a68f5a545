package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/wasmcanvas/wasmcanvas/pkg/api/wire"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

// componentAliases are the resource names get, describe and delete accept,
// as kubectl accepts them for components.oda.tmforum.org.
var componentAliases = []string{"component", "comp", "components.oda.tmforum.org"}

func isComponentResource(s string) bool {
	return s == "components" || contains(componentAliases, s)
}

func newGetCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "get components [NAME]",
		Short: "List Components and their deployment status",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return usageErrorf("get what? use `canvas get components`")
		},
	}
	var (
		namespace     string
		allNamespaces bool
		output        string
		remote        remoteFlags
	)
	comps := &cobra.Command{
		Use:     "components [NAME]",
		Aliases: componentAliases,
		Short:   "List Components (one with NAME) as kubectl get components prints them",
		Long: `get components prints the Components on the canvas with the column the
reference canvas's CRD defines (DEPLOYMENT_STATUS, from
status["summary/status"].deployment_status); -o wide adds the wadm application,
its version and the age. -o json|yaml print the Components with their status.`,
		Example: `  canvas get components
  canvas get components -A -o wide
  canvas get components ctk-productcatalogmanagement -n components -o yaml`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageErrorf("get components takes at most one NAME, got %q", args)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output, "table", "wide", "json", "yaml"); err != nil {
				return err
			}
			if allNamespaces && (len(args) == 1 || cmd.Flags().Changed("namespace")) {
				return usageErrorf("-A lists every namespace: it goes with neither NAME nor -n")
			}
			ctx := cmd.Context()
			cl, err := remote.dial(ctx)
			if err != nil {
				return err
			}
			defer cl.Close()
			out := cmd.OutOrStdout()
			if len(args) == 1 {
				c, err := cl.Get(ctx, namespace, args[0])
				if err != nil {
					return apiError(cmd, err)
				}
				switch output {
				case "json":
					return writeJSON(out, c)
				case "yaml":
					return writeYAML(out, c)
				}
				return printComponents(out, []*oda.Component{c}, false, output == "wide", time.Now())
			}
			ns := namespace
			if allNamespaces {
				ns = ""
			}
			items, err := cl.List(ctx, ns)
			if err != nil {
				return apiError(cmd, err)
			}
			list := wire.ComponentList{APIVersion: oda.APIVersionV1, Kind: wire.KindComponentList, Items: items}
			if list.Items == nil {
				list.Items = []*oda.Component{}
			}
			switch output {
			case "json":
				return writeJSON(out, list)
			case "yaml":
				return writeYAML(out, list)
			}
			if len(items) == 0 {
				where := "in namespace " + ns
				if ns == "" {
					where = "in any namespace"
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "No components found %s.\n", where)
				return nil
			}
			return printComponents(out, items, allNamespaces, output == "wide", time.Now())
		},
	}
	comps.Flags().StringVarP(&namespace, "namespace", "n", oda.DefaultNamespace, "namespace")
	comps.Flags().BoolVarP(&allNamespaces, "all-namespaces", "A", false, "list the Components of every namespace")
	outputFlag(comps, &output, "table", "wide", "json", "yaml")
	remote.add(comps)
	cmd.AddCommand(comps)
	return cmd
}

// deploymentStatus is the printer column of the reference CRD.
func deploymentStatus(c *oda.Component) string {
	if c.Status == nil || c.Status.Summary == nil {
		return ""
	}
	return c.Status.Summary.DeploymentStatus
}

func wadmApp(c *oda.Component) (app, version string) {
	if c.Status == nil || c.Status.WasmCloud == nil {
		return "", ""
	}
	return c.Status.WasmCloud.App, c.Status.WasmCloud.Version
}

// printComponents writes the kubectl-style table.
func printComponents(w io.Writer, items []*oda.Component, withNamespace, wide bool, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	var cols []string
	if withNamespace {
		cols = append(cols, "NAMESPACE")
	}
	cols = append(cols, "NAME", "DEPLOYMENT_STATUS")
	if wide {
		cols = append(cols, "WADM APP", "VERSION", "AGE")
	}
	fmt.Fprintln(tw, strings.Join(cols, "\t"))
	for _, c := range items {
		var row []string
		if withNamespace {
			row = append(row, c.Metadata.Namespace)
		}
		row = append(row, c.Metadata.Name, deploymentStatus(c))
		if wide {
			app, version := wadmApp(c)
			row = append(row, app, version, age(c.Metadata.CreationTimestamp, now))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	return tw.Flush()
}

// age formats like kubectl: 45s, 12m, 5h, 3d, or <unknown>.
func age(created string, now time.Time) string {
	t, err := time.Parse(time.RFC3339, created)
	if err != nil {
		return "<unknown>"
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return "0s"
	case d < 2*time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < 2*time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}
