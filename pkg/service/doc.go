// Package service owns the lifecycle of a process's long-running parts: a
// Runner provisions every Service, starts them in order, and stops the
// started ones in reverse on Shutdown, on a failed Start, or when one ends
// by itself. It knows nothing of what the services do and must not grow
// canvas logic; pkg/daemon and pkg/up list their parts as Services.
package service
