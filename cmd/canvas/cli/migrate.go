package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/wasmcanvas/wasmcanvas/pkg/migrate"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

func newMigrateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Move ODA Components between the Kubernetes canvas and wasmcanvas",
		Long: `migrate moves Components between the Kubernetes reference canvas and
wasmcanvas without changing their spec, through a bundle directory:

  components/<namespace>/<name>.yaml   each Component, cluster-only fields stripped
                                       (status, uid, resourceVersion, generation,
                                       creationTimestamp, managedFields, finalizers,
                                       ownerReferences, last-applied and kopf
                                       annotations), spec as the source served it
  implementations.yaml                 implementation name -> Wasm artefact, to fill in
  report.md                            what maps onto wasmcanvas and what does not

Specs are not converted: a Component read as v1beta3 stays v1beta3 (canvasd
accepts v1, v1beta4 and v1beta3); one read as v1 comes back out of wasmcanvas
byte-identical after normalisation (canonical JSON of spec).`,
		Args: noArgs,
	}
	cmd.AddCommand(newMigrateExportCmd(), newMigrateImportCmd(), newMigrateDiffCmd())
	return cmd
}

// kubeFlags are how migrate reaches a Kubernetes canvas.
type kubeFlags struct {
	kubeconfig, context, namespace string
}

func (f *kubeFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig of the Kubernetes canvas (default $KUBECONFIG or ~/.kube/config)")
	cmd.Flags().StringVar(&f.context, "kube-context", "", "kubeconfig context (default its current-context)")
	cmd.Flags().StringVarP(&f.namespace, "namespace", "n", oda.DefaultNamespace, "namespace of the Components")
}

func (f *kubeFlags) client() (*migrate.Kube, error) {
	cfg, err := migrate.KubeConfig(f.kubeconfig, f.context)
	if err != nil {
		return nil, err
	}
	return migrate.NewKube(cfg)
}

func newMigrateExportCmd() *cobra.Command {
	var (
		from, component, out, output string
		kube                         kubeFlags
		remote                       remoteFlags
	)
	cmd := &cobra.Command{
		Use:   "export --out DIR [--from kubernetes|wasmcanvas] [--namespace NS] [--component NAME]",
		Short: "Write Components of a canvas to a migration bundle",
		Long: `export reads Components (v1, v1beta4 or v1beta3, the first the API server
serves) from a Kubernetes canvas through its API (--kubeconfig), or with
--from wasmcanvas from canvasd (--server, --context), and writes a bundle to
--out: the Components, implementations.yaml (from wasmcanvas: the artefacts of
their wasmcanvas.io/implementations annotations, which the exported YAML no
longer carries, so it applies unchanged to the Kubernetes canvas; from
Kubernetes: every implementation with an empty artefact to fill in) and
report.md. It prints the report (-o json|yaml for tools).`,
		Example: `  canvas migrate export --kubeconfig ~/.kube/config --namespace components --out bundle/
  canvas migrate export --from wasmcanvas --component ctk-productcatalogmanagement --out back/`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, "text", "json", "yaml"); err != nil {
				return err
			}
			if out == "" {
				return usageErrorf("--out DIR is required: the bundle directory to write")
			}
			ctx := cmd.Context()
			var (
				b      *migrate.Bundle
				source string
				err    error
			)
			switch from {
			case "kubernetes":
				k, err := kube.client()
				if err != nil {
					return err
				}
				source = "Kubernetes canvas (" + kube.namespace + ")"
				b, err = migrate.FromKubernetes(ctx, k, kube.namespace, component)
				if err != nil {
					return err
				}
			case "wasmcanvas":
				cl, err := remote.dial(ctx)
				if err != nil {
					return err
				}
				defer cl.Close()
				source = "wasmcanvas (" + kube.namespace + ")"
				if b, err = migrate.FromCanvas(ctx, cl, kube.namespace, component); err != nil {
					return apiError(cmd, err)
				}
			default:
				return usageErrorf("--from %q: use kubernetes or wasmcanvas", from)
			}
			if len(b.Components) == 0 {
				return fmt.Errorf("no Components in namespace %s on the %s canvas: nothing to export", kube.namespace, from)
			}
			rep, err := b.Write(out, source)
			if err != nil {
				return err
			}
			return printReport(cmd.OutOrStdout(), output, out, rep)
		},
	}
	cmd.Flags().StringVar(&from, "from", "kubernetes", "canvas to read: kubernetes or wasmcanvas")
	cmd.Flags().StringVar(&component, "component", "", "export only this Component")
	cmd.Flags().StringVar(&out, "out", "", "bundle directory to write")
	outputFlag(cmd, &output, "text", "json", "yaml")
	kube.add(cmd)
	remote.add(cmd)
	return cmd
}

func printReport(w io.Writer, output, dir string, rep migrate.Report) error {
	switch output {
	case "json":
		return writeJSON(w, rep)
	case "yaml":
		return writeYAML(w, rep)
	}
	for _, c := range rep.Components {
		fmt.Fprintf(w, "component %s/%s (%s) -> %s: %d part(s) map, %d do not\n", c.Namespace, c.Name, c.APIVersion,
			filepath.Join(dir, c.File), len(c.Maps), len(c.DoesNotMap))
	}
	if len(rep.Missing) > 0 {
		fmt.Fprintf(w, "fill in %s: %v\n", filepath.Join(dir, migrate.ImplementationsFile), rep.Missing)
	}
	fmt.Fprintf(w, "report: %s\n", filepath.Join(dir, migrate.ReportFile))
	return nil
}

func newMigrateImportCmd() *cobra.Command {
	var (
		dryRun  bool
		timeout = DefaultWaitTimeout
		output  string
		remote  remoteFlags
	)
	cmd := &cobra.Command{
		Use:   "import DIR [--dry-run]",
		Short: "Apply a migration bundle to wasmcanvas and wait for Complete",
		Long: `import validates every Component of the bundle DIR (errors name the file and
field path), shows the plan (create, update or unchanged per Component, and
each implementation's artefact from implementations.yaml) and, unless
--dry-run, applies the Components with their artefacts in the
wasmcanvas.io/implementations annotation and follows each to Complete
(exit 1 when one is Failed or --timeout passes). It refuses to apply while
an implementation has no artefact.`,
		Example: `  canvas migrate import bundle/ --dry-run
  canvas migrate import bundle/ --timeout 5m`,
		Args: exactArgs(1, "the bundle directory DIR"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output, "text", "json", "yaml"); err != nil {
				return err
			}
			dir := args[0]
			b, err := migrate.Read(dir)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			cl, err := remote.dial(ctx)
			if err != nil {
				return err
			}
			defer cl.Close()
			plan, err := b.Plan(ctx, cl)
			if err != nil {
				return apiError(cmd, err)
			}
			switch output {
			case "json":
				err = writeJSON(cmd.OutOrStdout(), plan)
			case "yaml":
				err = writeYAML(cmd.OutOrStdout(), plan)
			default:
				_, err = io.WriteString(cmd.OutOrStdout(), plan.Text())
			}
			if err != nil || dryRun {
				return err
			}
			if len(plan.Missing) > 0 {
				return fmt.Errorf("%s: no artefact for implementation(s) %v: fill them in, then import again", filepath.Join(dir, migrate.ImplementationsFile), plan.Missing)
			}
			implsPath := filepath.Join(dir, migrate.ImplementationsFile)
			impls, err := loadImplsFile(implsPath)
			if err != nil {
				return printFieldErrors(cmd, implsPath, err)
			}
			var targets []waitTarget
			for _, st := range plan.Steps {
				if st.Action == migrate.ActionUnchanged {
					continue
				}
				path := filepath.Join(dir, st.File)
				data, err := os.ReadFile(path)
				if err != nil {
					return err
				}
				own := map[string]string{}
				for impl := range st.Implementations {
					own[impl] = impls[impl]
				}
				_, body, _, err := prepareBody(source{name: path, dir: filepath.Dir(path), data: data}, own)
				if err != nil {
					return printFieldErrors(cmd, path, err)
				}
				c, _, err := cl.Apply(ctx, path, body)
				if err != nil {
					return apiError(cmd, err)
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "component %s/%s %sd (generation %d)\n", c.Metadata.Namespace, c.Metadata.Name, st.Action, c.Metadata.Generation)
				targets = append(targets, waitTarget{namespace: c.Metadata.Namespace, name: c.Metadata.Name, generation: c.Metadata.Generation})
			}
			if len(targets) == 0 {
				return nil
			}
			return waitComplete(ctx, cmd, cl, targets, timeout)
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "validate and show the plan; apply nothing")
	cmd.Flags().DurationVar(&timeout, "timeout", DefaultWaitTimeout, "how long to wait for every Component to be Complete")
	outputFlag(cmd, &output, "text", "json", "yaml")
	remote.add(cmd)
	return cmd
}

func newMigrateDiffCmd() *cobra.Command {
	var (
		output string
		all    bool
		kube   kubeFlags
		remote remoteFlags
	)
	cmd := &cobra.Command{
		Use:   "diff NAME --kubeconfig K8S [--namespace NS]",
		Short: "Compare a Component's status on the Kubernetes canvas and on wasmcanvas, field by field",
		Long: `diff reads the status of Component NAME from the Kubernetes canvas and from
wasmcanvas and lists every field (e.g. coreAPIs[0].url,
summary/status.deployment_status) with both values and whether they are the
same, differ or exist on one side only (uids, ips and urls differ by nature;
wasmCloud is wasmcanvas's own). Without --all only the rows that are not the
same are shown.`,
		Example: `  canvas migrate diff ctk-productcatalogmanagement --kubeconfig ~/.kube/config`,
		Args:    exactArgs(1, "the Component NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output, "table", "json", "yaml"); err != nil {
				return err
			}
			ctx := cmd.Context()
			k, err := kube.client()
			if err != nil {
				return err
			}
			kst, err := k.Status(ctx, kube.namespace, args[0])
			if err != nil {
				return err
			}
			cl, err := remote.dial(ctx)
			if err != nil {
				return err
			}
			defer cl.Close()
			wst, err := cl.Status(ctx, kube.namespace, args[0])
			if err != nil {
				return apiError(cmd, err)
			}
			raw, err := json.Marshal(wst)
			if err != nil {
				return err
			}
			var wm map[string]any
			if err := json.Unmarshal(raw, &wm); err != nil {
				return err
			}
			rows := migrate.DiffStatus(kst, wm)
			if !all {
				kept := rows[:0]
				for _, r := range rows {
					if r.Match != migrate.MatchSame {
						kept = append(kept, r)
					}
				}
				rows = kept
			}
			switch output {
			case "json":
				return writeJSON(cmd.OutOrStdout(), rows)
			case "yaml":
				return writeYAML(cmd.OutOrStdout(), rows)
			}
			_, err = io.WriteString(cmd.OutOrStdout(), migrate.StatusTable(rows))
			return err
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "show the fields that are the same too")
	outputFlag(cmd, &output, "table", "json", "yaml")
	kube.add(cmd)
	remote.add(cmd)
	return cmd
}
