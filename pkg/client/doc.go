// Package client is the Go client of the canvasd API, over HTTP (the
// default) or over the NATS micro service canvas.api.>; both satisfy
// Client with the same behaviour, so the CLI does not care which it uses.
// API failures come back as *wire.Problem errors carrying the status code
// and, for invalid Components, every field error.
//
// It must not interpret Components beyond what a request needs: no
// validation, no translation (the server is the judge of both).
package client
