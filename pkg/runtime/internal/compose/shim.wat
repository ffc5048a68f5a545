;; The adapter's shim (see package compose): each export is one
;; wasi:io/streams function as the guest calls it, lifted with the
;; adapter's memory. It calls the host's latin1-string function of the
;; same name with its return area at 0, drops the borrowed stream handle
;; (a callee must drop what it borrowed before it returns) and returns the
;; area: a result<string, stream-error> laid out in latin1 is a
;; result<list<u8>, stream-error>, byte for byte. post-return frees the
;; call's bytes.
(module
  (import "h" "write" (func $write (param i32 i32 i32 i32)))
  (import "h" "blocking-write-and-flush" (func $blocking_write (param i32 i32 i32 i32)))
  (import "h" "read" (func $read (param i32 i64 i32)))
  (import "h" "blocking-read" (func $blocking_read (param i32 i64 i32)))
  (import "h" "drop-output-stream" (func $drop_out (param i32)))
  (import "h" "drop-input-stream" (func $drop_in (param i32)))
  (import "h" "reset" (func $reset))

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
    (i32.const 0))
  (func (export "blocking-read") (param $self i32) (param $len i64) (result i32)
    (call $blocking_read (local.get $self) (local.get $len) (i32.const 0))
    (call $drop_in (local.get $self))
    (i32.const 0))
  (func (export "post-return") (param i32) (call $reset)))
