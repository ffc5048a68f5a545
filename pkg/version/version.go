// Package version holds the build's version string, set at link time by the
// Makefile (-X .../pkg/version.Version=...).
package version

// Version is the wasmcanvas release; "dev" for untagged builds.
var Version = "dev"
