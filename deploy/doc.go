// Package deploy holds the files `canvas lattice init` and `canvas edge
// bootstrap` fill in: the hub's nats-server config and systemd unit
// (hub/), and an edge site's leaf-node config, start script, systemd units
// and README (site/). They are Go text/templates, embedded so the canvas
// binary carries them; pkg/edge renders them. Nothing here runs.
package deploy

import "embed"

// Templates holds hub/*.tmpl and site/*.tmpl.
//
//go:embed hub/*.tmpl site/*.tmpl
var Templates embed.FS
