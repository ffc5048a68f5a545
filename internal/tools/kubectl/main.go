// Command kubectl is the upstream kubectl (k8s.io/kubectl at the release
// of the k8s.io modules the canvas is built with), built from the Go
// module proxy by `make kube-deps` for the kube API e2e when a machine
// has no kubectl: Debian's kubernetes-client is too old to read OpenAPI v3.
// It is a module of its own so its dependencies stay out of the canvas's.
package main

import (
	"k8s.io/component-base/cli"
	"k8s.io/kubectl/pkg/cmd"
	"k8s.io/kubectl/pkg/cmd/util"
)

func main() {
	if err := cli.RunNoErrOutput(cmd.NewDefaultKubectlCommand()); err != nil {
		util.CheckErr(err)
	}
}
