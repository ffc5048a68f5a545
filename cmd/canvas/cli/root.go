package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

// Exit codes, documented in the package doc and in `canvas --help`.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
)

// exitError carries an exit code up to Main; its message has been printed
// already when silent is set (e.g. validation reports).
type exitError struct {
	code   int
	err    error
	silent bool
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return &exitError{code: ExitUsage, err: fmt.Errorf(format, args...)}
}

// reported marks an error whose details were already written to stdout.
func reported(err error) error { return &exitError{code: ExitFailure, err: err, silent: true} }

// Main runs the CLI with the given arguments and streams and returns the
// process exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	stdout, stderr = forTerminal(stdout), forTerminal(stderr)
	root := newRootCmd(stdin, stdout, stderr)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if !ee.silent {
			fmt.Fprintln(stderr, "error:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "error:", err)
	if isUsageError(err) {
		return ExitUsage
	}
	return ExitFailure
}

// isUsageError recognises cobra's own flag and argument errors, which it
// returns as plain errors: flag errors pass through SetFlagErrorFunc, an
// unknown (sub)command only shows in the message cobra formats.
func isUsageError(err error) bool {
	var fe *flagError
	return errors.As(err, &fe) || strings.HasPrefix(err.Error(), "unknown command ")
}

type flagError struct{ err error }

// unknownCommand is cobra's error for an unknown subcommand of c, with its
// suggestions.
func unknownCommand(c *cobra.Command, name string) error {
	msg := fmt.Sprintf("unknown command %q for %q", name, c.CommandPath())
	if s := c.SuggestionsFor(name); len(s) > 0 {
		msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t")
	}
	return errors.New(msg)
}

func (e *flagError) Error() string { return e.err.Error() }
func (e *flagError) Unwrap() error { return e.err }

func newRootCmd(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "canvas",
		Short: "Run TM Forum ODA Components on WebAssembly (wasmCloud)",
		Long: `canvas drives wasmcanvas, an ODA Canvas for WebAssembly.

It takes the same ODA Component resources (oda.tmforum.org/v1, v1beta4,
v1beta3) that the Kubernetes reference canvas runs and turns each into a
wadm application manifest: run by canvasd on a wasmCloud lattice, or by
'canvas up' on this one machine.

Exit codes: 0 success, 1 invalid input or failed operation, 2 bad command line.`,
		Example: `  # Run the whole canvas on this machine and deploy the TMF620 example
  canvas up --detach
  canvas apply -f examples/productcatalog/component.yaml --wait
  canvas get components

  # Check a Component file (all errors at once)
  canvas validate -f component.yaml

  # Show the wadm manifest a Component becomes
  canvas render -f component.yaml --implementations impls.yaml`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		// `canvas get componentz --server URL`: cobra parses the flags of
		// get, which has none of its subcommands' flags, before it looks
		// at componentz. The unknown subcommand is the mistake to name.
		if args := c.Flags().Args(); c.HasAvailableSubCommands() && len(args) > 0 {
			err = unknownCommand(c, args[0])
		}
		return &flagError{err}
	})
	root.AddCommand(
		newValidateCmd(),
		newRenderCmd(),
		newConvertCmd(),
		newVersionCmd(),
		newApplyCmd(), newGetCmd(), newDescribeCmd(), newDeleteCmd(), newWatchCmd(), newConfigCmd(),
		newUpCmd(), newDownCmd(), newKubeconfigCmd(),
		newLatticeCmd(), newEdgeCmd(), newNodeCmd(), newTokenCmd(),
		newMigrateCmd(),
		newAPIKeyCmd(), newClientCmd(),
	)
	root.InitDefaultCompletionCmd() // now, so that its group is guarded too
	for _, c := range root.Commands() {
		guardGroups(c)
	}
	return root
}

// groupUseLine is the line of cobra's usage template that a runnable
// command adds.
const groupUseLine = "{{if .Runnable}}\n  {{.UseLine}}{{end}}"

// guardGroups makes c and every command under it that only groups
// subcommands refuse a word that is none of them: cobra would print a
// group's help and exit 0 for `canvas apikey lst`, so a script's typo
// passed for success. Such a word is an unknown command (exit 2), with
// cobra's suggestions; a group given nothing prints its help, as before.
// (The root does this itself.)
func guardGroups(c *cobra.Command) {
	if !c.HasSubCommands() {
		return
	}
	if c.SuggestionsMinimumDistance <= 0 {
		c.SuggestionsMinimumDistance = 2 // cobra's default, which it sets on the root alone
	}
	c.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return unknownCommand(cmd, args[0])
		}
		return nil
	}
	if !c.Runnable() {
		c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
		// Its usage keeps saying `canvas apikey [command]` alone, not also
		// `canvas apikey [flags]` as a runnable command's would. Its
		// subcommands would inherit that template: they keep the one
		// they had, use line and all.
		inherited := c.UsageTemplate()
		c.SetUsageTemplate(strings.Replace(inherited, groupUseLine, "", 1))
		for _, s := range c.Commands() {
			s.SetUsageTemplate(inherited)
		}
	}
	for _, s := range c.Commands() {
		guardGroups(s)
	}
}
