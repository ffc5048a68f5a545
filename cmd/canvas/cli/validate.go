package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

// fileReport is one file's result in `canvas validate -o json|yaml`.
type fileReport struct {
	File       string        `json:"file"`
	Valid      bool          `json:"valid"`
	APIVersion string        `json:"apiVersion,omitempty"`
	Namespace  string        `json:"namespace,omitempty"`
	Name       string        `json:"name,omitempty"`
	Errors     oda.ErrorList `json:"errors"`
}

type validateReport struct {
	Valid  bool         `json:"valid"`
	Files  []fileReport `json:"files"`
	Errors int          `json:"errorCount"`
}

func newValidateCmd() *cobra.Command {
	var (
		files     []string
		recursive bool
		output    string
	)
	cmd := &cobra.Command{
		Use:   "validate -f FILE|DIR|-",
		Short: "Check ODA Component files against the schema and the canvas's rules",
		Long: `validate decodes each ODA Component strictly (unknown fields, wrong types,
duplicate keys and multi-document files are errors), checks it against the
Component CRD's schema for its apiVersion (v1, v1beta4 or v1beta3), converts
it to v1 and runs the semantic checks the schema cannot express (unique API
names, paths and ports, canvasSystemRole when security APIs are exposed, …).

Every error of every file is reported in one run, each with file:line, the
field path and a fix. Exit code 1 if any file is invalid.`,
		Example: `  canvas validate -f component.yaml
  canvas validate -f components/ -R
  cat component.yaml | canvas validate -f -
  canvas validate -f component.yaml -o json | jq '.files[].errors'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, "text", "json", "yaml"); err != nil {
				return err
			}
			srcs, err := readSources(cmd.InOrStdin(), files, recursive)
			if err != nil {
				return err
			}
			rep := validateReport{Valid: true}
			for _, s := range srcs {
				fr := fileReport{File: s.name, Errors: oda.ErrorList{}}
				c, err := oda.Parse(s.name, s.data)
				if err != nil {
					fr.Errors = asErrorList(s.name, err)
				} else {
					fr.APIVersion, fr.Namespace, fr.Name = c.APIVersion, c.Metadata.Namespace, c.Metadata.Name
				}
				fr.Valid = len(fr.Errors) == 0
				rep.Valid = rep.Valid && fr.Valid
				rep.Errors += len(fr.Errors)
				rep.Files = append(rep.Files, fr)
			}
			out := cmd.OutOrStdout()
			switch output {
			case "json":
				err = writeJSON(out, rep)
			case "yaml":
				err = writeYAML(out, rep)
			default:
				for _, fr := range rep.Files {
					if fr.Valid {
						fmt.Fprintf(out, "%s: valid (%s Component %s/%s)\n", fr.File, fr.APIVersion, fr.Namespace, fr.Name)
						continue
					}
					for _, fe := range fr.Errors {
						fmt.Fprintln(out, fe.Error())
					}
				}
				if !rep.Valid {
					fmt.Fprintf(out, "%d error(s) in %d file(s)\n", rep.Errors, countInvalid(rep.Files))
				}
			}
			if err != nil {
				return err
			}
			if !rep.Valid {
				return reported(fmt.Errorf("%d error(s)", rep.Errors))
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&files, "filename", "f", nil, "Component file, directory of files, or - for standard input (repeatable)")
	cmd.Flags().BoolVarP(&recursive, "recursive", "R", false, "descend into subdirectories of a -f directory")
	outputFlag(cmd, &output, "text", "json", "yaml")
	return cmd
}

func countInvalid(files []fileReport) int {
	n := 0
	for _, f := range files {
		if !f.Valid {
			n++
		}
	}
	return n
}

// asErrorList turns an error from the oda package into its field errors;
// an error of another kind becomes one error naming the file.
func asErrorList(file string, err error) oda.ErrorList {
	var list oda.ErrorList
	if errors.As(err, &list) {
		return list
	}
	var fe *oda.FieldError
	if errors.As(err, &fe) {
		return oda.ErrorList{*fe}
	}
	return oda.ErrorList{{File: file, Msg: err.Error()}}
}

// noArgs rejects positional arguments with a usage error that points at -f
// where the command reads files.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if cmd.Flags().Lookup("filename") != nil {
		return usageErrorf("%s takes no positional arguments, got %q: pass files with -f", cmd.CommandPath(), args)
	}
	return usageErrorf("%s takes no positional arguments, got %q (see %s --help)", cmd.CommandPath(), args, cmd.CommandPath())
}
