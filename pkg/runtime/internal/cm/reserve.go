package cm

import (
	"errors"
	"fmt"
	"syscall"
)

// ErrPoolReservation means the address space the pooling allocator reserves
// up front is not available (a ulimit -v, or a small address space).
var ErrPoolReservation = errors.New("cannot reserve the pooling allocator's address space")

// Per memory slot, wasmtime reserves its default memory reservation (4 GiB
// on 64-bit hosts, so bounds checks stay implicit) plus a guard region and
// a page; instances and tables add a little.
const (
	poolSlotBytes   = 4<<30 + 32<<20 + 64<<10
	poolExtraBytes  = 16 << 30
	poolCoreInstMax = 1 << 20
)

// poolReservation estimates the bytes of address space a pool of p needs.
func poolReservation(p *PoolingConfig) uint64 {
	n := uint64(p.TotalInstances)
	slot := max(uint64(poolSlotBytes), p.MaxMemoryBytes+poolSlotBytes-4<<30)
	return n*poolMemoriesPerComponent*slot + n*poolCoreInstancesPerComponent*poolCoreInstMax + poolExtraBytes
}

// probePool checks that the pool's reservation can be mapped, by mapping
// (inaccessible, unbacked) and unmapping that much: wasmtime's C API aborts
// the process when its own reservation fails, so this must fail first.
func probePool(p *PoolingConfig) error {
	size := poolReservation(p)
	b, err := syscall.Mmap(-1, 0, int(size), syscall.PROT_NONE, syscall.MAP_PRIVATE|syscall.MAP_ANON|syscall.MAP_NORESERVE)
	if err != nil {
		return fmt.Errorf("%w: %d instances need about %.1f TiB of virtual address space (%v): lower the instance count, raise ulimit -v, or turn pooling off",
			ErrPoolReservation, p.TotalInstances, float64(size)/(1<<40), err)
	}
	return syscall.Munmap(b)
}
