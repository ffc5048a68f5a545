// Package e2e holds the long end-to-end runs behind the build tag e2e
// (`make e2e`): real canvasd and nats-server processes killed with SIGKILL
// at random moments while Components are applied, updated and deleted; the
// README quick start with the real binary; canvas up restarted 50 times,
// each serving its Component the instant up returns; and a secured lattice
// (a hub and two edge sites' leaf nodes from the files `canvas lattice init`
// and `canvas edge bootstrap` write, one site revoked); a real Prometheus
// scraping a Component's metrics API; and one OTLP trace from a client
// through a JavaScript Component's own span to the Component it calls
// (examples/components/traced-js, built by `make components`); and the
// real `nats micro ls` and `nats micro info wasmcanvas` (natscli, installed
// from the Go module proxy with `go install`) finding the canvas API; and
// a migration round trip (`canvas migrate export`, `import`, `export
// --from wasmcanvas`) through a real Kubernetes CRD API server
// (apiextensions-apiserver on Debian's etcd, `make migrate-deps`) with the
// upstream Component CRD, client-go on the client side; and
// the real kubectl (bin/kubectl, `make kube-deps`) and client-go driving the
// kube API of a canvasd through the reference canvas's BDD use cases
// UC002, UC003, UC007-F001 and UC013.
// It has no code of its own, only tests.
package e2e
