// Command canvas is the wasmcanvas CLI; the command tree lives in package cli.
package main

import (
	"os"

	"github.com/wasmcanvas/wasmcanvas/cmd/canvas/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
