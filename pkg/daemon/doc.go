// Package daemon wires canvasd: the NATS connection (or an embedded
// nats-server with JetStream), the desired-state and status stores, the
// event recorder, the wadm deployer, the keeper of the shared system
// application (wadm backend only), the reconcile controller and the API
// server (HTTP and NATS micro). It has the nats-server embedding shape: New
// validates Options, Start brings everything up, Ready waits for readiness
// and names what is not ready, Shutdown stops it in reverse order and Wait
// blocks until it has stopped. Each part is a service of one
// pkg/service runner.
//
// It owns no canvas logic: it must not parse, translate, reconcile or
// serve requests itself, only start and stop the packages that do.
package daemon
