package cli

// PrintBanner exposes what canvas up prints once the canvas serves.
var PrintBanner = printBanner
