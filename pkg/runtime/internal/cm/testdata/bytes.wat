;; Test component for how bytes cross the C API: the guest asks the host
;; for n bytes and hands them straight back, rounds times, once as
;; list<u8> (the C API converts each byte to and from a value of its own)
;; and once as a string that the canonical ABI lowers and lifts as latin1
;; (string-encoding=latin1+utf16: one char per byte, and the C API copies a
;; string whole).
(component
  (import "test:host/bytes" (instance $host
    (export "get-list" (func (param "n" u32) (result (list u8))))
    (export "put-list" (func (param "b" (list u8)) (result u32)))
    (export "get-str" (func (param "n" u32) (result string)))
    (export "put-str" (func (param "s" string) (result u32)))
  ))
  (alias export $host "get-list" (func $get-list))
  (alias export $host "put-list" (func $put-list))
  (alias export $host "get-str" (func $get-str))
  (alias export $host "put-str" (func $put-str))

  (core module $Mem
    (memory (export "memory") 1)
    (global $bump (mut i32) (i32.const 1024))
    ;; Bump allocator that grows memory as needed; reset forgets everything.
    ;; A shrink keeps the block (wasmtime shrinks a latin1 string it sized
    ;; for the worst case), a growth copies it.
    (func (export "realloc") (param $old i32) (param $oldsz i32) (param $align i32) (param $size i32) (result i32)
      (local $p i32) (local $end i32)
      (if (i32.and (i32.ne (local.get $old) (i32.const 0)) (i32.le_u (local.get $size) (local.get $oldsz)))
        (then (return (local.get $old))))
      (local.set $p (i32.and (i32.add (global.get $bump) (i32.sub (local.get $align) (i32.const 1)))
                             (i32.sub (i32.const 0) (local.get $align))))
      (local.set $end (i32.add (local.get $p) (local.get $size)))
      (block $ok
        (br_if $ok (i32.le_u (local.get $end) (i32.mul (memory.size) (i32.const 65536))))
        (br_if $ok (i32.ne
          (memory.grow (i32.add (i32.shr_u (i32.sub (local.get $end) (i32.mul (memory.size) (i32.const 65536))) (i32.const 16)) (i32.const 1)))
          (i32.const -1)))
        unreachable)
      (global.set $bump (local.get $end))
      (memory.copy (local.get $p) (local.get $old) (local.get $oldsz))
      (local.get $p))
    (func (export "reset") (global.set $bump (i32.const 1024)))
  )
  (core instance $mem (instantiate $Mem))
  (alias core export $mem "memory" (core memory $memory))
  (alias core export $mem "realloc" (core func $realloc))
  (alias core export $mem "reset" (core func $reset))

  (core func $get-list-low (canon lower (func $get-list) (memory $memory) (realloc $realloc)))
  (core func $put-list-low (canon lower (func $put-list) (memory $memory)))
  (core func $get-str-low (canon lower (func $get-str) (memory $memory) (realloc $realloc) string-encoding=latin1+utf16))
  (core func $put-str-low (canon lower (func $put-str) (memory $memory) string-encoding=latin1+utf16))

  (core module $Main
    (import "mem" "memory" (memory 1))
    (import "mem" "reset" (func $reset))
    (import "host" "get-list" (func $get-list (param i32 i32)))
    (import "host" "put-list" (func $put-list (param i32 i32) (result i32)))
    (import "host" "get-str" (func $get-str (param i32 i32)))
    (import "host" "put-str" (func $put-str (param i32 i32) (result i32)))
    ;; Each round gets n bytes into a return area at 64 (ptr, len) and puts
    ;; them back; the result is the sum of what the host counted.
    (func (export "run-list") (param $n i32) (param $rounds i32) (result i32)
      (local $sum i32)
      (block $done
        (loop $round
          (br_if $done (i32.eqz (local.get $rounds)))
          (call $reset)
          (call $get-list (local.get $n) (i32.const 64))
          (local.set $sum (i32.add (local.get $sum)
            (call $put-list (i32.load (i32.const 64)) (i32.load (i32.const 68)))))
          (local.set $rounds (i32.sub (local.get $rounds) (i32.const 1)))
          (br $round)))
      (local.get $sum))
    (func (export "run-str") (param $n i32) (param $rounds i32) (result i32)
      (local $sum i32)
      (block $done
        (loop $round
          (br_if $done (i32.eqz (local.get $rounds)))
          (call $reset)
          (call $get-str (local.get $n) (i32.const 64))
          (local.set $sum (i32.add (local.get $sum)
            (call $put-str (i32.load (i32.const 64)) (i32.load (i32.const 68)))))
          (local.set $rounds (i32.sub (local.get $rounds) (i32.const 1)))
          (br $round)))
      (local.get $sum))
  )
  (core instance $main (instantiate $Main
    (with "mem" (instance $mem))
    (with "host" (instance
      (export "get-list" (func $get-list-low))
      (export "put-list" (func $put-list-low))
      (export "get-str" (func $get-str-low))
      (export "put-str" (func $put-str-low))
    ))
  ))
  (func (export "run-list") (param "n" u32) (param "rounds" u32) (result u32)
    (canon lift (core func $main "run-list")))
  (func (export "run-str") (param "n" u32) (param "rounds" u32) (result u32)
    (canon lift (core func $main "run-str")))
)
