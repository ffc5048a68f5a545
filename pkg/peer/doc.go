// Package peer lets canvases resolve dependent APIs across each other, as
// the reference canvas's Canvas-Info service does within one cluster.
//
// A Registry holds the APIs other canvases registered with this one
// (TMF638 Services POSTed to its canvas-info service); a Peers, one per
// set of --peer-canvas URLs, registers this canvas's exposed APIs with
// each peer and reads the peer's TMF639 inventory of APIs. Resolver asks
// both for a specification URL, and says why when neither has a ready API
// for it. The package speaks HTTP to peers and keeps everything in memory:
// the stores stay the source of truth for this canvas's own Components.
package peer
