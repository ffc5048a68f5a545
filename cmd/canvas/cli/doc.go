// Package cli is the `canvas` command tree (cobra). It parses flags, reads
// files and prints results; the work itself is done by pkg/oda,
// pkg/translate and the other pkg/ packages. It must not hold canvas logic.
//
// Exit codes: 0 success; 1 the input is invalid or the operation failed
// (the reasons are printed); 2 the command line itself is wrong.
package cli
