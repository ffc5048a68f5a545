package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wasmcanvas/wasmcanvas/pkg/edge"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
	"github.com/wasmcanvas/wasmcanvas/pkg/translate"
)

// fileReport is one file's result in `canvas validate -o json|yaml`.
type fileReport struct {
	File       string        `json:"file"`
	Valid      bool          `json:"valid"`
	APIVersion string        `json:"apiVersion,omitempty"`
	Namespace  string        `json:"namespace,omitempty"`
	Name       string        `json:"name,omitempty"`
	Errors     oda.ErrorList `json:"errors"`
	// Warnings are what apply accepts but the canvas then reports Failed
	// (an implementation without a Wasm artefact, an artefact file that
	// does not exist) or never places (a site the lattice does not have,
	// with --lattice-dir).
	Warnings oda.ErrorList `json:"warnings,omitempty"`
}

type validateReport struct {
	Valid    bool         `json:"valid"`
	Files    []fileReport `json:"files"`
	Errors   int          `json:"errorCount"`
	Warnings int          `json:"warningCount"`
}

func newValidateCmd() *cobra.Command {
	var (
		files     []string
		recursive bool
		output    string
		implsFile string
		strict    bool
		latDir    string
	)
	cmd := &cobra.Command{
		Use:   "validate -f FILE|DIR|-",
		Short: "Check ODA Component files against the schema and the canvas's rules",
		Long: `validate decodes each ODA Component strictly (unknown fields, wrong types,
duplicate keys and multi-document files are errors), checks it against the
Component CRD's schema for its apiVersion (v1, v1beta4 or v1beta3), converts
it to v1 and runs the semantic checks the schema cannot express (unique API
names, paths and ports, canvasSystemRole when security APIs are exposed, …).
It then translates each Component as apply does: an implementation without
a Wasm artefact (wasmcanvas.io/implementations annotation or
--implementations FILE), or a file:// artefact that does not exist, is a
warning, since apply accepts the Component and the canvas reports it
Failed; with --strict, or when --implementations is given, it is an error.

With --lattice-dir DIR (written by ` + "`canvas lattice init`" + `), a site that the
wasmcanvas.io/placement annotation names but the lattice does not have (never
bootstrapped, or revoked) is a warning too (an error with --strict): wadm
would wait for hosts labelled site=NAME that never come. Without it, sites
are not checked.

Every error of every file is reported in one run, each with file:line, the
field path and a fix. Exit code 1 if any file is invalid.`,
		Example: `  canvas validate -f component.yaml
  canvas validate -f component.yaml --implementations impls.yaml
  canvas validate -f component.yaml --lattice-dir lattice
  canvas validate -f components/ -R --strict
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
			fromFile, err := loadImplsFile(implsFile)
			if err != nil {
				return printFieldErrors(cmd, implsFile, err)
			}
			var sites []string
			if latDir != "" {
				st, err := edge.ReadState(latDir)
				if err != nil {
					return usageErrorf("--lattice-dir: %v", err)
				}
				sites = st.SiteNames()
			}
			rep := validateReport{Valid: true}
			for _, s := range srcs {
				fr := fileReport{File: s.name, Errors: oda.ErrorList{}}
				c, err := oda.Parse(s.name, s.data)
				if err != nil {
					fr.Errors = asErrorList(s.name, err)
				} else {
					fr.APIVersion, fr.Namespace, fr.Name = c.APIVersion, c.Metadata.Namespace, c.Metadata.Name
					faults, missing := implementationIssues(c, s, implsFile, fromFile)
					fr.Errors = append(fr.Errors, faults...)
					if strict || implsFile != "" {
						fr.Errors = append(fr.Errors, missing...)
					} else {
						fr.Warnings = missing
					}
					if latDir != "" {
						unknown := withFile(s.name, oda.UnknownSites(c, sites))
						if strict {
							fr.Errors = append(fr.Errors, unknown...)
						} else {
							fr.Warnings = append(fr.Warnings, unknown...)
						}
					}
				}
				fr.Valid = len(fr.Errors) == 0
				rep.Valid = rep.Valid && fr.Valid
				rep.Errors += len(fr.Errors)
				rep.Warnings += len(fr.Warnings)
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
					}
					for _, fe := range fr.Errors {
						fmt.Fprintln(out, fe.Error())
					}
					for _, fe := range fr.Warnings {
						fmt.Fprintln(out, "warning: "+fe.Error())
					}
				}
				if !rep.Valid {
					fmt.Fprintf(out, "%d error(s) in %d file(s)\n", rep.Errors, countInvalid(rep.Files))
				}
				if rep.Warnings > 0 {
					fmt.Fprintf(out, "%d warning(s): the canvas would store such a Component as Failed or never place it (--strict makes them errors)\n", rep.Warnings)
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
	cmd.Flags().StringVar(&implsFile, "implementations", "", "YAML map of implementation name to Wasm artefact, as apply takes it; a missing artefact is then an error")
	cmd.Flags().BoolVar(&strict, "strict", false, "a missing Wasm artefact (or an unknown site) is an error, not a warning")
	cmd.Flags().StringVar(&latDir, "lattice-dir", "", "lattice directory (`canvas lattice init`): warn about placement sites it does not have")
	outputFlag(cmd, &output, "text", "json", "yaml")
	return cmd
}

// implementationIssues translates c as apply and canvasd do, with the
// artefacts of its annotation and of fromFile (the --implementations file).
// faults are errors apply refuses too; missing are the implementations
// without an artefact and the file:// artefacts that do not exist, which
// apply accepts and the canvas then reports Failed.
func implementationIssues(c *oda.Component, src source, implsFile string, fromFile map[string]string) (faults, missing oda.ErrorList) {
	impls, err := translate.AnnotationImplementations(c, src.dir)
	if err != nil {
		return withFile(src.name, asErrorList(src.name, err)), nil
	}
	maps.Copy(impls, fromFile)
	_, err = translate.Component(c, translate.Options{Implementations: impls})
	if err := translate.InputErrors(err); err != nil {
		faults = asErrorList(src.name, err)
	}
	missing = translate.MissingImplementations(err)
	for _, name := range slices.Sorted(maps.Keys(impls)) {
		path, ok := strings.CutPrefix(impls[name], "file://")
		if !ok {
			continue
		}
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			fe := oda.FieldError{Path: fmt.Sprintf("metadata.annotations[%q].%s", oda.AnnotationImplementations, name),
				Msg: "artefact " + path + " does not exist", Fix: translate.MissingArtefactFix(path)}
			if _, ok := fromFile[name]; ok {
				fe.File, fe.Path = implsFile, name
			}
			missing = append(missing, fe)
		}
	}
	return withFile(src.name, faults), withFile(src.name, missing)
}

// withFile fills in the file name of errors that have none.
func withFile(file string, list oda.ErrorList) oda.ErrorList {
	for i := range list {
		if list[i].File == "" {
			list[i].File = file
		}
	}
	return list
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
	if f := cmd.Flags().Lookup("dry-run"); f != nil && f.Changed && len(args) == 1 && slices.Contains([]string{"server", "client", "none"}, args[0]) {
		return usageErrorf("%s: got %q as a file: write --dry-run=%s (with =), or --dry-run alone for server", cmd.CommandPath(), args[0], args[0])
	}
	if cmd.Flags().Lookup("filename") != nil {
		return usageErrorf("%s takes no positional arguments, got %q: pass files with -f", cmd.CommandPath(), args)
	}
	return usageErrorf("%s takes no positional arguments, got %q (see %s --help)", cmd.CommandPath(), args, cmd.CommandPath())
}
