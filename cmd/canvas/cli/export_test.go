package cli

// PrintBanner exposes what canvas up prints once the canvas serves.
var PrintBanner = printBanner

// Describe exposes what canvas describe component prints.
var Describe = describe

// CodeLine exposes describe's line for an implementation's code.
var CodeLine = codeLine

// NewRootCmd exposes the command tree.
var NewRootCmd = newRootCmd
