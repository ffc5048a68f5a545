// Package client is the Go client of the canvasd API over HTTP, and the
// Client interface that natsclient (over the NATS micro service
// canvas.api.>) satisfies with the same behaviour, so the CLI does not care
// which it uses. It links no NATS (a dependency test keeps it so).
// API failures come back as *wire.Problem errors carrying the status code
// and, for invalid Components, every field error.
//
// It must not interpret Components beyond what a request needs: no
// validation, no translation (the server is the judge of both).
package client
