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

func newDescribeCmd() *cobra.Command {
	var (
		namespace string
		remote    remoteFlags
	)
	cmd := &cobra.Command{
		Use:   "describe component NAME [-n NAMESPACE]",
		Short: "Show a Component: spec summary, identity and API policies, API URLs, wadm application, events",
		Example: `  canvas describe component ctk-productcatalogmanagement
  canvas describe comp r-cat -n odacompns-1`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 || !isComponentResource(args[0]) {
				return usageErrorf("usage: canvas describe component NAME")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cl, err := remote.dial(ctx)
			if err != nil {
				return err
			}
			defer cl.Close()
			c, err := cl.Get(ctx, namespace, args[1])
			if err != nil {
				return apiError(cmd, err)
			}
			evs, err := cl.Events(ctx, namespace, args[1])
			if err != nil {
				return apiError(cmd, err)
			}
			return describe(cmd.OutOrStdout(), c, evs, time.Now())
		},
	}
	cmd.Flags().StringVarP(&namespace, "namespace", "n", oda.DefaultNamespace, "namespace")
	remote.add(cmd)
	return cmd
}

func describe(w io.Writer, c *oda.Component, evs []wire.Event, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	kv := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
	m := c.Metadata
	kv("Name", m.Name)
	kv("Namespace", m.Namespace)
	kv("API Version", c.APIVersion)
	kv("Generation", fmt.Sprint(m.Generation))
	kv("Resource Version", m.ResourceVersion)
	kv("Created", m.CreationTimestamp)
	if cm := c.Spec.ComponentMetadata; cm != nil {
		kv("Component", strings.TrimSpace(fmt.Sprintf("%s %s %s", cm.ID, cm.Name, cm.Version)))
		if cm.FunctionalBlock != "" {
			kv("Functional Block", cm.FunctionalBlock)
		}
	}
	kv("Deployment Status", deploymentStatus(c))
	if st := c.Status; st != nil {
		if st.Summary != nil && st.Summary.FailureReason != "" {
			reason := st.Summary.FailureReason
			if st.Summary.FailedPart != "" {
				reason += " (part " + st.Summary.FailedPart + ")"
			}
			kv("Failure", reason)
		}
		if wc := st.WasmCloud; wc != nil {
			kv("Wadm App", wc.App)
			kv("Wadm Version", wc.Version)
			status := wc.Status
			if wc.Message != "" {
				status += ": " + wc.Message
			}
			kv("Wadm Status", status)
			kv("Observed Generation", fmt.Sprint(wc.ObservedGeneration))
			if len(wc.Hosts) > 0 {
				kv("Hosts", strings.Join(wc.Hosts, ", "))
			}
			for _, cs := range wc.Code {
				kv("Code", codeLine(cs))
			}
		}
		if ic := st.IdentityConfig; ic != nil {
			kv("Identity Provider", ic.IdentityProvider)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(w, "\nSpec:")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  FUNCTION\tAPI\tTYPE\tIMPLEMENTATION\tPATH")
	apis := func(fn string, list []oda.ExposedAPI) {
		for i := range list {
			a := &list[i]
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", fn, a.Name, a.EffectiveAPIType(), a.EffectiveImplementation(), a.EffectivePath())
		}
	}
	deps := func(fn string, list []oda.DependentAPI) {
		for i := range list {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", fn, list[i].Name, "dependent", "", "")
		}
	}
	if f := c.Spec.CoreFunction; f != nil {
		apis("core", f.ExposedAPIs)
		deps("core", f.DependentAPIs)
	}
	if f := c.Spec.ManagementFunction; f != nil {
		apis("management", f.ExposedAPIs)
		deps("management", f.DependentAPIs)
	}
	if f := c.Spec.SecurityFunction; f != nil {
		apis("security", f.ExposedAPIs)
		deps("security", f.DependentAPIs)
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	if err := describePlacement(w, c); err != nil {
		return err
	}
	if err := describePolicies(w, c); err != nil {
		return err
	}

	if st := c.Status; st != nil {
		fmt.Fprintln(w, "\nAPIs:")
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  NAME\tREADY\tURL")
		for _, list := range [][]oda.APIStatus{st.CoreAPIs, st.ManagementAPIs, st.SecurityAPIs} {
			for _, a := range list {
				fmt.Fprintf(tw, "  %s\t%t\t%s\n", a.Name, a.Ready, a.URL)
			}
		}
		for _, list := range [][]oda.DependentAPIStatus{st.CoreDependentAPIs, st.ManagementDependentAPIs, st.SecurityDependentAPIs} {
			for _, a := range list {
				fmt.Fprintf(tw, "  %s (dependent)\t%t\t%s\n", a.Name, a.Ready, a.URL)
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}

	fmt.Fprintln(w, "\nEvents:")
	if len(evs) == 0 {
		fmt.Fprintln(w, "  <none>")
		return nil
	}
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  TYPE\tREASON\tAGE\tMESSAGE")
	for _, e := range evs {
		ago := age(e.LastTimestamp.Format(time.RFC3339), now)
		if e.Count > 1 {
			ago += fmt.Sprintf(" (x%d over %s)", e.Count, age(e.FirstTimestamp.Format(time.RFC3339), now))
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", e.Type, e.Reason, ago, e.Message)
	}
	return tw.Flush()
}

// describePlacement shows where the Component's replicas run: per
// implementation and site as the status reports them, else as the
// placement annotation asks (before the canvas reported). Nothing when
// the Component has neither.
func describePlacement(w io.Writer, c *oda.Component) error {
	var sites []oda.SiteStatus
	if st := c.Status; st != nil && st.WasmCloud != nil {
		sites = st.WasmCloud.Sites
	}
	entries, annotated, err := oda.ParsePlacement(c)
	if len(sites) == 0 && !annotated {
		return nil
	}
	fmt.Fprintln(w, "\nPlacement:")
	if err != nil {
		fmt.Fprintf(w, "  %v\n", err)
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  IMPLEMENTATION\tSITE\tREQUIRES\tREPLICAS\tSTATE\tMESSAGE")
	ignored := false
	for _, s := range sites {
		msg := s.Message
		if s.State == oda.SiteIgnored {
			ignored, msg = true, ""
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%s\t%s\n", s.Implementation, s.Site, labelList(s.Requirements), s.Replicas, s.State, msg)
	}
	if len(sites) == 0 {
		for _, e := range entries {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%s\t%s\n", "(each)", e.Name, labelList(e.Labels), e.Replicas, oda.SiteRequested, "")
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if ignored {
		fmt.Fprintln(w, "  The embedded canvas (canvas up) runs every Component on its one node: the placement is accepted and ignored; canvasd with wadm places the replicas.")
	}
	return nil
}

// codeLine says what code an implementation serves from and how long
// compiling it took.
func codeLine(cs oda.CodeStatus) string {
	var parts []string
	if cs.BaselineCompile != "" {
		by := ""
		if cs.BaselineCompiler != "" {
			by = " by " + cs.BaselineCompiler
		}
		parts = append(parts, "baseline compiled"+by+" in "+cs.BaselineCompile)
	}
	switch {
	case cs.Error != "":
		parts = append(parts, "optimised compile failed: "+cs.Error)
	case cs.OptimizedCompile != "" && cs.Cached:
		parts = append(parts, "optimised code loaded in "+cs.OptimizedCompile)
	case cs.OptimizedCompile != "":
		parts = append(parts, "optimised in "+cs.OptimizedCompile)
	case cs.Tier == "baseline":
		parts = append(parts, "optimising")
	}
	line := cs.Implementation + ": " + cs.Tier
	if len(parts) > 0 {
		line += " (" + strings.Join(parts, ", ") + ")"
	}
	switch {
	case cs.StreamAdapter && cs.StreamsRetyped:
		line += "; bodies in bulk (stream adapter)"
	case cs.StreamAdapter:
		line += "; bodies in bulk to the stream adapter, as lists within the component (its types are not retyped: the canvas log says why)"
	}
	return line
}
