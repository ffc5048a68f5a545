;; The adapter's memory and allocator (see package compose). Bytes on their
;; way between the guest and the host are allocated here by bumping $top;
;; the shim's post-return resets it after every call, so the memory holds
;; one call's bytes at a time. Bytes 0..63 are the shim's return area.
(module
  (memory (export "memory") 1)
  (global $top (mut i32) (i32.const 64))

  ;; realloc(old, old_size, align, size): the canonical ABI's allocator.
  ;; Shrinking keeps the block; anything else takes a new one (copying the
  ;; old bytes). A block above 16 MiB traps: no chunk a host permits is
  ;; that large (check-write allows 1 MiB, a read returns 64 KiB, 75 KiB
  ;; packed), and the cap keeps a guest from doubling its memory through
  ;; this one.
  (func (export "realloc") (param $old i32) (param $old_size i32) (param $align i32) (param $size i32) (result i32)
    (local $p i32)
    (if (i32.and (i32.ne (local.get $old) (i32.const 0))
                 (i32.le_u (local.get $size) (local.get $old_size)))
      (then (return (local.get $old))))
    (if (i32.gt_u (local.get $size) (i32.const 0x1000000)) (then unreachable))
    (if (i32.or (i32.eqz (local.get $align))
                (i32.and (local.get $align) (i32.sub (local.get $align) (i32.const 1))))
      (then unreachable))
    ;; at least 2-aligned: the shim hands a read's plain bytes, placed here
    ;; as UTF-8 (align 1), to the guest as a latin1+utf16 string
    (local.set $p (call $bump (select (local.get $align) (i32.const 2) (i32.gt_u (local.get $align) (i32.const 1)))
                              (local.get $size)))
    (if (i32.ne (local.get $old) (i32.const 0))
      (then (memory.copy (local.get $p) (local.get $old) (local.get $old_size))))
    (local.get $p))

  ;; alloc(size): a block for the shim's own packing and unpacking, which
  ;; may be 8/7 of the largest block realloc gives (and 8 bytes more).
  (func (export "alloc") (param $size i32) (result i32)
    (if (i32.gt_u (local.get $size) (i32.const 0x1300000)) (then unreachable))
    (call $bump (i32.const 8) (local.get $size)))

  ;; bump takes size bytes aligned to align (a power of two) from $top,
  ;; growing the memory as needed and trapping when it cannot.
  (func $bump (param $align i32) (param $size i32) (result i32)
    (local $p i32) (local $end i64) (local $pages i32)
    (local.set $p
      (i32.and (i32.add (global.get $top) (i32.sub (local.get $align) (i32.const 1)))
               (i32.sub (i32.const 0) (local.get $align))))
    (local.set $end (i64.add (i64.extend_i32_u (local.get $p)) (i64.extend_i32_u (local.get $size))))
    (if (i64.gt_u (local.get $end) (i64.const 0xffffffff)) (then unreachable))
    (local.set $pages (i32.wrap_i64 (i64.shr_u (i64.add (local.get $end) (i64.const 0xffff)) (i64.const 16))))
    (if (i32.gt_u (local.get $pages) (memory.size))
      (then
        (if (i32.eq (memory.grow (i32.sub (local.get $pages) (memory.size))) (i32.const -1))
          (then unreachable))))
    (global.set $top (i32.wrap_i64 (local.get $end)))
    (local.get $p))

  (func (export "reset") (global.set $top (i32.const 64))))
