package cli

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
)

// outputFlag registers -o/--output with the allowed formats, the first
// being the default, and shell completion for them.
func outputFlag(cmd *cobra.Command, target *string, formats ...string) {
	*target = formats[0]
	cmd.Flags().StringVarP(target, "output", "o", formats[0], fmt.Sprintf("output format: one of %v", formats))
	_ = cmd.RegisterFlagCompletionFunc("output", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return formats, cobra.ShellCompDirectiveNoFileComp
	})
}

func checkOutput(value string, formats ...string) error {
	for _, f := range formats {
		if value == f {
			return nil
		}
	}
	return usageErrorf("--output %q: must be one of %v", value, formats)
}

// writeJSON writes v as indented JSON with a trailing newline.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeYAML writes v as YAML via its JSON form, so json tags decide the
// field names in both formats.
func writeYAML(w io.Writer, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var generic any
	if err := yaml.Unmarshal(raw, &generic); err != nil {
		return err
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(generic); err != nil {
		return err
	}
	return enc.Close()
}

// printData writes v as JSON or YAML, or calls text for the other format
// (a table, or plain text).
func printData(w io.Writer, output string, v any, text func(io.Writer)) error {
	switch output {
	case "json":
		return writeJSON(w, v)
	case "yaml":
		return writeYAML(w, v)
	}
	text(w)
	return nil
}
