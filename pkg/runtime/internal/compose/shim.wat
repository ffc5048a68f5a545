;; The adapter's shim (see package compose): each export is one
;; wasi:io/streams function as the guest calls it, lifted with the
;; adapter's memory. It calls the host's function of the same name with
;; its return area at 0: a write passes the bytes as a latin1 string; a
;; read gets a UTF-8 string, the bytes plain or packed with a tag after
;; them (pack.go), and returns the bytes. It drops the borrowed stream
;; handle (a callee must drop what it borrowed before it returns) and
;; returns the area: a result<string, stream-error> laid out in latin1 is
;; a result<list<u8>, stream-error>, byte for byte. post-return frees the
;; call's bytes.
(module
  (import "h" "write" (func $write (param i32 i32 i32 i32)))
  (import "h" "blocking-write-and-flush" (func $blocking_write (param i32 i32 i32 i32)))
  (import "h" "read" (func $read (param i32 i64 i32)))
  (import "h" "blocking-read" (func $blocking_read (param i32 i64 i32)))
  (import "h" "drop-output-stream" (func $drop_out (param i32)))
  (import "h" "drop-input-stream" (func $drop_in (param i32)))
  (import "h" "reset" (func $reset))
  (import "h" "alloc" (func $alloc (param i32) (result i32)))
  (import "h" "memory" (memory 0))

  (func (export "write") (param $self i32) (param $ptr i32) (param $len i32) (result i32)
    (call $write (local.get $self) (local.get $ptr) (local.get $len) (i32.const 0))
    (call $drop_out (local.get $self))
    (i32.const 0))
  (func (export "blocking-write-and-flush") (param $self i32) (param $ptr i32) (param $len i32) (result i32)
    (call $blocking_write (local.get $self) (local.get $ptr) (local.get $len) (i32.const 0))
    (call $drop_out (local.get $self))
    (i32.const 0))
  (func (export "read") (param $self i32) (param $len i64) (result i32)
    (call $read (local.get $self) (local.get $len) (i32.const 0))
    (call $drop_in (local.get $self))
    (call $untag)
    (i32.const 0))
  (func (export "blocking-read") (param $self i32) (param $len i64) (result i32)
    (call $blocking_read (local.get $self) (local.get $len) (i32.const 0))
    (call $drop_in (local.get $self))
    (call $untag)
    (i32.const 0))
  (func (export "post-return") (param i32) (call $reset))

  ;; untag turns the read's result at 0, result<string, stream-error> with
  ;; the string the bytes and a tag (0 plain, 1 packed), into the bytes.
  ;; Plain bytes stay where wasmtime put them, at the address realloc gave
  ;; (2-aligned, as a latin1+utf16 string must be when it leaves).
  (func $untag
    (local $p i32) (local $m i32) (local $n i32) (local $q i32)
    (if (i32.load8_u (i32.const 0)) (then (return))) ;; an error, as it is
    (local.set $p (i32.load (i32.const 4)))
    (local.set $m (i32.load (i32.const 8)))
    (if (i32.eqz (local.get $m)) (then (return)))
    (local.set $m (i32.sub (local.get $m) (i32.const 1)))
    (if (i32.load8_u (i32.add (local.get $p) (local.get $m)))
      (then
        ;; unpacked length; the last group's store writes up to 8 bytes
        (local.set $n (i32.mul (i32.shr_u (local.get $m) (i32.const 3)) (i32.const 7)))
        (if (i32.gt_u (i32.and (local.get $m) (i32.const 7)) (i32.const 1))
          (then (local.set $n (i32.add (local.get $n)
                  (i32.sub (i32.and (local.get $m) (i32.const 7)) (i32.const 1))))))
        (local.set $q (call $alloc (i32.add (local.get $n) (i32.const 8))))
        (call $unpack (local.get $p) (local.get $m) (local.get $q))
        (i32.store (i32.const 4) (local.get $q))
        (local.set $m (local.get $n))))
    (i32.store (i32.const 8) (local.get $m)))

  ;; unpack7 gathers eight 7-bit lanes, one a byte, into 56 bits: the
  ;; inverse of pack.go's pack7.
  (func $unpack7 (param $y i64) (result i64)
    (local.set $y (i64.or (i64.and (local.get $y) (i64.const 0x007f007f007f007f))
                          (i64.shr_u (i64.and (local.get $y) (i64.const 0x7f007f007f007f00)) (i64.const 1))))
    (local.set $y (i64.or (i64.and (local.get $y) (i64.const 0x00003fff00003fff))
                          (i64.shr_u (i64.and (local.get $y) (i64.const 0x3fff00003fff0000)) (i64.const 2))))
    (i64.or (i64.and (local.get $y) (i64.const 0x0fffffff))
            (i64.shr_u (i64.and (local.get $y) (i64.const 0x0fffffff00000000)) (i64.const 4))))

  ;; unpack writes the m chars at src unpacked to dst, which has 8 bytes
  ;; to spare past the unpacked length: each group stores a whole word.
  (func $unpack (param $src i32) (param $m i32) (param $dst i32)
    (local $y i64) (local $i i32)
    (block $done
      (loop $groups
        (br_if $done (i32.lt_u (local.get $m) (i32.const 8)))
        ;; $unpack7, inlined
        (local.set $y (i64.load align=1 (local.get $src)))
        (local.set $y (i64.or (i64.and (local.get $y) (i64.const 0x007f007f007f007f))
                              (i64.shr_u (i64.and (local.get $y) (i64.const 0x7f007f007f007f00)) (i64.const 1))))
        (local.set $y (i64.or (i64.and (local.get $y) (i64.const 0x00003fff00003fff))
                              (i64.shr_u (i64.and (local.get $y) (i64.const 0x3fff00003fff0000)) (i64.const 2))))
        (i64.store align=1 (local.get $dst)
          (i64.or (i64.and (local.get $y) (i64.const 0x0fffffff))
                  (i64.shr_u (i64.and (local.get $y) (i64.const 0x0fffffff00000000)) (i64.const 4))))
        (local.set $src (i32.add (local.get $src) (i32.const 8)))
        (local.set $m (i32.sub (local.get $m) (i32.const 8)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 7)))
        (br $groups)))
    (if (i32.eqz (local.get $m)) (then (return)))
    (local.set $y (i64.const 0))
    (local.set $i (local.get $m))
    (block $done
      (loop $chars
        (br_if $done (i32.eqz (local.get $i)))
        (local.set $i (i32.sub (local.get $i) (i32.const 1)))
        (local.set $y (i64.or (i64.shl (local.get $y) (i64.const 8))
                              (i64.load8_u (i32.add (local.get $src) (local.get $i)))))
        (br $chars)))
    (i64.store align=1 (local.get $dst) (call $unpack7 (local.get $y)))))
