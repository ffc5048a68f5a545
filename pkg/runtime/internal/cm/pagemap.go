package cm

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"unsafe"
)

// PagemapScan reports whether e's pool resets a freed memory by the pages
// its instance wrote (Linux's PAGEMAP_SCAN ioctl, wasmtime's
// PoolingAllocationConfig::pagemap_scan) rather than the whole part it
// keeps resident. NewEngine asks for it when PoolingConfig.PagemapScan is
// set and this build of wasmtime lets it (cm_pooling_pagemap_scan);
// wasmtime then uses it if the kernel has the ioctl (Linux 6.7 and later),
// and opens /proc/self/pagemap, once per process, to issue it. So it is on
// when it was asked for, the kernel answers the ioctl, and wasmtime holds
// that file open (which also shows that wasmtime read the setting where
// cm_pooling_pagemap_scan wrote it).
func (e *Engine) PagemapScan() bool {
	return e.cfg.pagemapScan && KernelScansPagemap() && pagemapOpen()
}

// pmScanArg is the kernel's struct pm_scan_arg (linux/fs.h, 6.7).
type pmScanArg struct {
	size, flags, start, end, walkEnd, vec, vecLen, maxPages   uint64
	categoryInverted, categoryMask, categoryAnyOf, returnMask uint64
}

// pageRegion is the kernel's struct page_region.
type pageRegion struct{ start, end, categories uint64 }

// ioctlPagemapScan is PAGEMAP_SCAN: _IOWR('f', 16, struct pm_scan_arg).
const ioctlPagemapScan = 3<<30 | uint64(unsafe.Sizeof(pmScanArg{}))<<16 | 'f'<<8 | 16

// KernelScansPagemap reports whether the kernel answers PAGEMAP_SCAN: the
// probe wasmtime makes (an empty range, every category), made once.
var KernelScansPagemap = sync.OnceValue(func() bool {
	f, err := os.Open("/proc/self/pagemap")
	if err != nil {
		return false
	}
	defer f.Close()
	var region pageRegion
	arg := pmScanArg{
		vec: uint64(uintptr(unsafe.Pointer(&region))), vecLen: 1, maxPages: 1,
		categoryMask: 0xff, // every PAGE_IS_* category
	}
	arg.size = uint64(unsafe.Sizeof(arg))
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), uintptr(ioctlPagemapScan), uintptr(unsafe.Pointer(&arg)))
	return errno == 0
})

// pagemapOpen reports whether the process holds /proc/self/pagemap open.
func pagemapOpen() bool {
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return false
	}
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasPrefix(target, "/proc/") && strings.HasSuffix(target, "/pagemap") {
			return true
		}
	}
	return false
}
