package cli

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/wasmcanvas/wasmcanvas/pkg/version"
)

type versionInfo struct {
	Version   string `json:"version"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

func newVersionCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:     "version",
		Short:   "Print the canvas version",
		Example: "  canvas version\n  canvas version -o json",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, "text", "json", "yaml"); err != nil {
				return err
			}
			v := versionInfo{Version: version.Version, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
			switch output {
			case "json":
				return writeJSON(cmd.OutOrStdout(), v)
			case "yaml":
				return writeYAML(cmd.OutOrStdout(), v)
			}
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "canvas %s (%s, %s)\n", v.Version, v.GoVersion, v.Platform)
			return err
		},
	}
	outputFlag(cmd, &output, "text", "json", "yaml")
	return cmd
}
