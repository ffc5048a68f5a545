package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

var convertTargets = []string{"v1", "v1beta4", "v1beta3"}

func newConvertCmd() *cobra.Command {
	var (
		file   string
		to     string
		output string
	)
	cmd := &cobra.Command{
		Use:   "convert -f FILE --to v1|v1beta4|v1beta3",
		Short: "Convert an ODA Component between CRD versions",
		Long: `convert reads a Component of any served version (v1, v1beta4, v1beta3),
validates it, and writes it in the version asked for, with the same field
mappings the reference canvas's conversion webhook applies (for example
v1beta3 top-level metadata <-> v1 spec.componentMetadata, controllerRole <->
canvasSystemRole, specification URLs <-> {url, version} objects).`,
		Example: `  canvas convert -f old-component.yaml --to v1
  canvas convert -f component.yaml --to v1beta3 -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, "yaml", "json"); err != nil {
				return err
			}
			target := strings.TrimPrefix(to, oda.Group+"/")
			if !contains(convertTargets, target) {
				return usageErrorf("--to %q: must be one of %v", to, convertTargets)
			}
			c, err := parseOne(cmd, file)
			if err != nil {
				return err
			}
			out, err := oda.Convert(c, oda.Group+"/"+target)
			if err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			data, err := oda.Marshal(out, output)
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(data)
			return err
		},
	}
	cmd.Flags().StringVarP(&file, "filename", "f", "", "Component file, or - for standard input")
	cmd.Flags().StringVar(&to, "to", "v1", fmt.Sprintf("target version: one of %v", convertTargets))
	outputFlag(cmd, &output, "yaml", "json")
	_ = cmd.RegisterFlagCompletionFunc("to", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return convertTargets, cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}

// parseOne reads and parses exactly one Component from -f; on invalid input
// it prints every field error to stderr and returns a reported error.
func parseOne(cmd *cobra.Command, file string) (*oda.Component, error) {
	c, _, err := parseOneSource(cmd, file)
	return c, err
}

func parseOneSource(cmd *cobra.Command, file string) (*oda.Component, source, error) {
	if file == "" {
		return nil, source{}, usageErrorf("no input: pass -f FILE or -f - (standard input)")
	}
	srcs, err := readSources(cmd.InOrStdin(), []string{file}, false)
	if err != nil {
		return nil, source{}, err
	}
	if len(srcs) != 1 {
		return nil, source{}, usageErrorf("-f %s: expected one Component file, found %d files", file, len(srcs))
	}
	s := srcs[0]
	c, err := oda.Parse(s.name, s.data)
	if err != nil {
		list := asErrorList(s.name, err)
		for _, fe := range list {
			fmt.Fprintln(cmd.ErrOrStderr(), fe.Error())
		}
		return nil, s, reported(fmt.Errorf("%s: %d error(s)", s.name, len(list)))
	}
	return c, s, nil
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
