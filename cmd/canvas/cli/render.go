package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
	"github.com/wasmcanvas/wasmcanvas/pkg/translate"
	"github.com/wasmcanvas/wasmcanvas/pkg/version"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm"
)

func newRenderCmd() *cobra.Command {
	var (
		file      string
		implsFile string
		systemApp string
		output    string
		system    bool
		sysOpts   translate.SystemOptions
	)
	cmd := &cobra.Command{
		Use:   "render -f FILE [--implementations FILE] | render --system",
		Short: "Print the wadm application manifest an ODA Component becomes",
		Long: `render validates a Component and prints the wadm (OAM) manifest the canvas
would publish for it: one application named {namespace}-{name}, a Wasm
component per implementation, HTTP ingress links for the exposed APIs,
identity/observability links to canvas-bridge, messaging links for events.

The ODA spec has no field for a Wasm artefact, so each implementation's
artefact comes from the Component's wasmcanvas.io/implementations annotation
(a JSON map) or from --implementations FILE (a YAML map, which wins).
Relative file:// paths resolve against the directory of the file that names
them. render never fetches an artefact.

render --system prints the shared system application the Components'
manifests reference instead: the wasmCloud http-server (the ingress, routing
by path), http-client, NATS messaging and keyvalue providers and
canvas-bridge, marked shared for wadm. canvasd keeps it deployed on a
lattice (same --system-app, --bridge-image, --ingress-address); canvas up
serves these parts in-process.`,
		Example: `  canvas render -f component.yaml
  canvas render -f component.yaml --implementations impls.yaml -o json
  canvas render --system --bridge-image file:///opt/wasmcanvas/canvas-bridge.par.gz

  # impls.yaml
  ctk-prodcatapi: ghcr.io/acme/productcatalog:1.0.0
  ctk-productcatalogmanagement-sm: file://build/metrics.wasm`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, "yaml", "json"); err != nil {
				return err
			}
			var m *wadm.Manifest
			if system {
				if file != "" || implsFile != "" {
					return usageErrorf("--system renders the system application: drop -f and --implementations")
				}
				sysOpts.Name = systemApp
				var err error
				if m, err = translate.SystemApplication(sysOpts); err != nil {
					return usageErrorf("--system-app, --bridge-image, --ingress-address: %v", err)
				}
			} else {
				c, src, err := parseOneSource(cmd, file)
				if err != nil {
					return err
				}
				if m, err = renderManifest(c, src, implsFile, systemApp); err != nil {
					return printFieldErrors(cmd, src.name, err)
				}
			}
			var (
				data []byte
				err  error
			)
			if output == "json" {
				data, err = wadm.MarshalJSON(m)
				data = append(data, '\n')
			} else {
				data, err = wadm.MarshalYAML(m)
			}
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(data)
			return err
		},
	}
	cmd.Flags().StringVarP(&file, "filename", "f", "", "Component file, or - for standard input")
	cmd.Flags().StringVar(&implsFile, "implementations", "", "YAML map of implementation name to Wasm artefact (OCI reference or file:// path)")
	cmd.Flags().StringVar(&systemApp, "system-app", translate.DefaultSystemApp, "shared wadm application holding the ingress, HTTP client, messaging and canvas-bridge")
	cmd.Flags().BoolVar(&system, "system", false, "print the shared system application instead of a Component's manifest")
	cmd.Flags().StringVar(&sysOpts.BridgeImage, "bridge-image", "", "with --system: canvas-bridge's provider archive, an OCI reference or file:// URL (default "+translate.BridgeImage(version.Version)+")")
	cmd.Flags().StringVar(&sysOpts.IngressAddress, "ingress-address", translate.DefaultIngressAddress, "with --system: HOST:PORT the http-server provider listens on")
	outputFlag(cmd, &output, "yaml", "json")
	return cmd
}

// renderManifest resolves the implementation artefacts (the annotation's
// relative to the Component file, the file's relative to itself) and
// translates.
func renderManifest(c *oda.Component, src source, implsFile, systemApp string) (*wadm.Manifest, error) {
	impls, err := translate.AnnotationImplementations(c, src.dir)
	if err != nil {
		return nil, err
	}
	if implsFile != "" {
		data, err := readImplsFile(implsFile)
		if err != nil {
			return nil, err
		}
		abs, err := filepath.Abs(filepath.Dir(implsFile))
		if err != nil {
			return nil, err
		}
		fromFile, err := translate.ParseImplementations(implsFile, data, abs)
		if err != nil {
			return nil, err
		}
		for k, v := range fromFile {
			impls[k] = v
		}
	}
	return translate.Component(c, translate.Options{Implementations: impls, SystemApp: systemApp})
}

func readImplsFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--implementations: %w", err)
	}
	defer f.Close()
	return readLimited(f, path)
}

// printFieldErrors prints an oda.ErrorList one error a line, filling in the
// file name where the error has none, and returns a reported error.
func printFieldErrors(cmd *cobra.Command, file string, err error) error {
	list := asErrorList(file, err)
	for _, fe := range list {
		if fe.File == "" {
			fe.File = file
		}
		fmt.Fprintln(cmd.ErrOrStderr(), fe.Error())
	}
	return reported(fmt.Errorf("%d error(s)", len(list)))
}
