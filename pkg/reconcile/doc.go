// Package reconcile owns the level-triggered loop that makes the lattice
// match the desired ODA Components: for each key {namespace}.{name} it reads
// the desired Component (pkg/store), translates it (pkg/translate), puts and
// deploys the wadm manifest through a deploy.Deployer, reads the
// application's status back and writes the Component's ODA status, in the
// reference canvas's shape, to a separate status store. It records
// Kubernetes-style events on a JetStream stream for `canvas describe`.
//
// An exposed-API path belongs to the Component created first that claims
// it (the route table translate derives); a later claimant is Failed naming
// the path and its owner, whichever Deployer runs, and deploys once the
// owner's application is gone or no longer serves the path. Path claims and dependent-API providers come from an index
// of the desired store kept from its watch, never from listing it per
// pass.
//
// System keeps the shared system application (translate.SystemApplication)
// deployed at its version on the wadm backend, so the shared components
// every Component's manifest references exist before it deploys.
//
// Reconcile is idempotent and restart-safe: it reads desired and observed
// state on every pass and never trusts what an event said, so a lost event,
// a crash or a NATS restart only delays convergence. It must not parse
// Component files, decide placement or talk to wadm except through the
// Deployer; callers read status from the status store, never infer it.
package reconcile
