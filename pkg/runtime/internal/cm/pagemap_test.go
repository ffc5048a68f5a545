package cm

import (
	"fmt"
	"testing"
)

// resetProbeWAT's probe export checks that its memory is as a fresh
// instance's (two 64 KiB pages, its data segments' bytes at 0 and 70000,
// zeros elsewhere, zeros again after growing it to 32 pages) and answers a
// bit per thing that is not: 0 when all is as new. It then dirties what a
// later instance in the same pool slot must not see: the data bytes, and
// one byte in every other 4 KiB page of the grown 2 MiB (256 runs of
// written pages: more than the 32 wasmtime's PAGEMAP_SCAN reset takes in
// one scan, and past the test pool's 1 MiB kept resident).
const resetProbeWAT = `(component
  (core module $m
    (memory (export "mem") 2)
    (data (i32.const 0) "\2a")
    (data (i32.const 70000) "\2b")
    (func (export "probe") (result i64)
      (local $bad i64) (local $p i32)
      (if (i32.ne (memory.size) (i32.const 2))
        (then (local.set $bad (i64.or (local.get $bad) (i64.const 1)))))
      (if (i32.ne (i32.load8_u (i32.const 0)) (i32.const 42))
        (then (local.set $bad (i64.or (local.get $bad) (i64.const 2)))))
      (if (i32.ne (i32.load8_u (i32.const 70000)) (i32.const 43))
        (then (local.set $bad (i64.or (local.get $bad) (i64.const 4)))))
      (drop (memory.grow (i32.const 30)))
      (local.set $p (i32.const 8))
      (block $done (loop $pages
        (br_if $done (i32.ge_u (local.get $p) (i32.const 0x200000)))
        (if (i32.ne (i32.load8_u (local.get $p)) (i32.const 0))
          (then (local.set $bad (i64.or (local.get $bad) (i64.const 8)))))
        (local.set $p (i32.add (local.get $p) (i32.const 4096)))
        (br $pages)))
      (i32.store8 (i32.const 0) (i32.const 0))
      (i32.store8 (i32.const 70000) (i32.const 0))
      (local.set $p (i32.const 8))
      (block $done (loop $dirty
        (br_if $done (i32.ge_u (local.get $p) (i32.const 0x200000)))
        (i32.store8 (local.get $p) (i32.const 0xff))
        (local.set $p (i32.add (local.get $p) (i32.const 8192)))
        (br $dirty)))
      (local.get $bad)))
  (core instance $i (instantiate $m))
  (func (export "probe") (result u64) (canon lift (core func $i "probe"))))`

// A pool slot's memory is as new for every instance that gets it: the
// default reset (all of the kept-resident part) and PAGEMAP_SCAN's (only
// the written pages, the rest decommitted) alike.
func TestPoolSlotResetsBetweenInstances(t *testing.T) {
	for _, scan := range []bool{false, true} {
		t.Run(fmt.Sprintf("pagemap-scan=%v", scan), func(t *testing.T) {
			f := compileFixtureOn(t, EngineConfig{Pooling: &PoolingConfig{
				TotalInstances: 1, MaxMemoryBytes: 4 << 20, KeepResidentBytes: 1 << 20, PagemapScan: scan,
			}}, []byte(resetProbeWAT))
			if scan && KernelScansPagemap() && !f.eng.PagemapScan() {
				t.Fatal("PagemapScan asked for on a kernel with PAGEMAP_SCAN, and not on")
			}
			if !scan && f.eng.PagemapScan() {
				t.Fatal("PagemapScan on without being asked for")
			}
			x, err := f.comp.Export("probe")
			if err != nil {
				t.Fatal(err)
			}
			defer x.Close()
			for i := range 20 {
				s := NewStore(f.eng, StoreLimits{}, nil)
				inst, err := f.lnk.Instantiate(s, f.comp)
				if err != nil {
					s.Close()
					t.Fatalf("instance %d: %v", i, err)
				}
				fn, err := inst.Func(x)
				if err != nil {
					s.Close()
					t.Fatal(err)
				}
				res, err := fn.Call()
				s.Close()
				if err != nil {
					t.Fatalf("instance %d: probe: %v", i, err)
				}
				if bad := res[0].(uint64); bad != 0 {
					t.Fatalf("instance %d found its memory not as new: %04b (1 size, 2 and 4 data, 8 zeros)", i, bad)
				}
			}
		})
	}
}
