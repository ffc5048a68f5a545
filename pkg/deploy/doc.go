// Package deploy owns the Deployer interface: put, deploy, undeploy,
// delete and status of a wadm application manifest, with status always in
// wadm's vocabulary (deployed, reconciling, waiting, failed, unhealthy,
// undeployed). Package reconcile drives it and never knows which backend is
// behind it.
//
// The backend here is Wadm, which speaks wadm's NATS API on a real lattice
// (pkg/wadm). The embedded single-node backend for `canvas up` implements
// the same interface. This package must not translate Components, write
// ODA status or retry: it makes one attempt per call and says what failed.
package deploy
