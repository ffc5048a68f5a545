;; The adapter's shim (see package compose): each export is one
;; wasi:io/streams function as the guest calls it, lifted with the
;; adapter's memory. It calls the host's function of the same name with
;; its return area at 0; the strings between them are UTF-8 (pack.go). A
;; write sends the bytes as they are when they are ASCII and packed
;; otherwise, and says which; a read gets the bytes, plain or packed, and
;; a tag after them, and returns the bytes. It drops the borrowed stream
;; handle (a callee must drop what it borrowed before it returns) and
;; returns the area: a result<string, stream-error> laid out in latin1 is
;; a result<list<u8>, stream-error>, byte for byte. post-return frees the
;; call's bytes.
(module
  (import "h" "write" (func $write (param i32 i32 i32 i32 i32)))
  (import "h" "blocking-write-and-flush" (func $blocking_write (param i32 i32 i32 i32 i32)))
  (import "h" "read" (func $read (param i32 i64 i32)))
  (import "h" "blocking-read" (func $blocking_read (param i32 i64 i32)))
  (import "h" "drop-output-stream" (func $drop_out (param i32)))
  (import "h" "drop-input-stream" (func $drop_in (param i32)))
  (import "h" "reset" (func $reset))
  (import "h" "alloc" (func $alloc (param i32) (result i32)))
  (import "h" "memory" (memory 0))

  (func (export "write") (param $self i32) (param $ptr i32) (param $len i32) (result i32)
    (call $send (local.get $self) (local.get $ptr) (local.get $len) (i32.const 0))
    (i32.const 0))
  (func (export "blocking-write-and-flush") (param $self i32) (param $ptr i32) (param $len i32) (result i32)
    (call $send (local.get $self) (local.get $ptr) (local.get $len) (i32.const 1))
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

  ;; send writes the len bytes at ptr to the stream self, packed unless
  ;; they are ASCII.
  (func $send (param $self i32) (param $ptr i32) (param $len i32) (param $blocking i32)
    (local $packed i32) (local $m i32) (local $q i32)
    (if (i32.eqz (call $ascii (local.get $ptr) (local.get $len)))
      (then
        (local.set $m (call $packed_len (local.get $len)))
        (local.set $q (call $alloc (local.get $m)))
        (call $pack (local.get $ptr) (local.get $len) (local.get $q))
        (local.set $ptr (local.get $q))
        (local.set $len (local.get $m))
        (local.set $packed (i32.const 1))))
    (if (local.get $blocking)
      (then (call $blocking_write (local.get $self) (local.get $ptr) (local.get $len) (local.get $packed) (i32.const 0)))
      (else (call $write (local.get $self) (local.get $ptr) (local.get $len) (local.get $packed) (i32.const 0))))
    (call $drop_out (local.get $self)))

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

  ;; ascii says whether the n bytes at p are all below 0x80; it stops at
  ;; the first word that is not.
  (func $ascii (param $p i32) (param $n i32) (result i32)
    (local $acc i64)
    (block $done
      (loop $words
        (br_if $done (i32.lt_u (local.get $n) (i32.const 8)))
        (if (i64.ne (i64.and (i64.load align=1 (local.get $p)) (i64.const 0x8080808080808080)) (i64.const 0))
          (then (return (i32.const 0))))
        (local.set $p (i32.add (local.get $p) (i32.const 8)))
        (local.set $n (i32.sub (local.get $n) (i32.const 8)))
        (br $words)))
    (block $done
      (loop $bytes
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $acc (i64.or (local.get $acc) (i64.load8_u (local.get $p))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $bytes)))
    (i64.eqz (i64.and (local.get $acc) (i64.const 0x8080808080808080))))

  ;; packed_len is the length of n bytes packed: 8 chars per 7 bytes, r+1
  ;; for a last group of r.
  (func $packed_len (param $n i32) (result i32)
    (local $r i32)
    (local.set $r (i32.rem_u (local.get $n) (i32.const 7)))
    (i32.add (i32.shl (i32.div_u (local.get $n) (i32.const 7)) (i32.const 3))
             (select (i32.add (local.get $r) (i32.const 1)) (i32.const 0) (local.get $r))))

  ;; pack7 spreads the low 56 bits of x over eight 7-bit lanes, one a
  ;; byte: pack.go's pack7.
  (func $pack7 (param $x i64) (result i64)
    (local.set $x (i64.and (local.get $x) (i64.const 0x00ffffffffffffff)))
    (local.set $x (i64.or (i64.and (local.get $x) (i64.const 0x0fffffff))
                          (i64.shl (i64.and (local.get $x) (i64.const 0x00fffffff0000000)) (i64.const 4))))
    (local.set $x (i64.or (i64.and (local.get $x) (i64.const 0x00003fff00003fff))
                          (i64.shl (i64.and (local.get $x) (i64.const 0x0fffc0000fffc000)) (i64.const 2))))
    (i64.or (i64.and (local.get $x) (i64.const 0x007f007f007f007f))
            (i64.shl (i64.and (local.get $x) (i64.const 0x3f803f803f803f80)) (i64.const 1))))

  ;; pack writes the n bytes at src packed to dst. Whole groups load a
  ;; word while 8 bytes remain; the rest is read a byte at a time.
  (func $pack (param $src i32) (param $n i32) (param $dst i32)
    (local $x i64) (local $i i32)
    (block $done
      (loop $groups
        (br_if $done (i32.lt_u (local.get $n) (i32.const 8)))
        ;; $pack7, inlined
        (local.set $x (i64.and (i64.load align=1 (local.get $src)) (i64.const 0x00ffffffffffffff)))
        (local.set $x (i64.or (i64.and (local.get $x) (i64.const 0x0fffffff))
                              (i64.shl (i64.and (local.get $x) (i64.const 0x00fffffff0000000)) (i64.const 4))))
        (local.set $x (i64.or (i64.and (local.get $x) (i64.const 0x00003fff00003fff))
                              (i64.shl (i64.and (local.get $x) (i64.const 0x0fffc0000fffc000)) (i64.const 2))))
        (i64.store align=1 (local.get $dst)
          (i64.or (i64.and (local.get $x) (i64.const 0x007f007f007f007f))
                  (i64.shl (i64.and (local.get $x) (i64.const 0x3f803f803f803f80)) (i64.const 1))))
        (local.set $src (i32.add (local.get $src) (i32.const 7)))
        (local.set $n (i32.sub (local.get $n) (i32.const 7)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 8)))
        (br $groups)))
    (if (i32.eqz (local.get $n)) (then (return)))
    (local.set $x (i64.const 0))
    (local.set $i (local.get $n))
    (block $done
      (loop $bytes
        (br_if $done (i32.eqz (local.get $i)))
        (local.set $i (i32.sub (local.get $i) (i32.const 1)))
        (local.set $x (i64.or (i64.shl (local.get $x) (i64.const 8))
                              (i64.load8_u (i32.add (local.get $src) (local.get $i)))))
        (br $bytes)))
    (local.set $x (call $pack7 (local.get $x)))
    (loop $chars
      (i64.store8 (i32.add (local.get $dst) (local.get $i)) (local.get $x))
      (local.set $x (i64.shr_u (local.get $x) (i64.const 8)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $chars (i32.le_u (local.get $i) (local.get $n)))))

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
