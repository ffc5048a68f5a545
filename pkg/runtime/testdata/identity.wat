;; A hand-written component that imports wasmcanvas:identity@0.1.0
;; (wit/identity.wit) for the runtime's tests: its exports access-token and
;; verify are the host functions lowered and lifted straight through
;; (results at 64), so tests drive every WIT type of the interface through
;; the canonical ABI.
(component $C
  (import "wasmcanvas:identity/tokens@0.1.0" (instance $tokens
    (type $e0 (variant (case "unavailable" string) (case "invalid" string)))
    (export "error" (type $e (eq $e0)))
    (type $c0 (record (field "subject" string) (field "issuer" string) (field "audience" (list string))
      (field "roles" (list string)) (field "expires-at" u64)))
    (export "claims" (type $c (eq $c0)))
    (export "access-token" (func (param "audience" string) (result (result string (error $e)))))
    (export "verify" (func (param "token" string) (result (result $c (error $e)))))
  ))
  (alias export $tokens "error" (type $error))
  (alias export $tokens "claims" (type $claims))

  (core module $Mem
    (memory (export "memory") 1)
    (global $bump (mut i32) (i32.const 1024))
    (func (export "realloc") (param i32 i32) (param $align i32) (param $size i32) (result i32)
      (local $p i32)
      (local.set $p (i32.and (i32.add (global.get $bump) (i32.sub (local.get $align) (i32.const 1)))
                             (i32.sub (i32.const 0) (local.get $align))))
      (global.set $bump (i32.add (local.get $p) (local.get $size)))
      (if (i32.gt_u (global.get $bump) (i32.mul (memory.size) (i32.const 65536)))
        (then (if (i32.eq (memory.grow (i32.add (i32.shr_u (global.get $bump) (i32.const 16)) (i32.const 1))) (i32.const -1))
          (then unreachable))))
      (local.get $p))
    (func (export "reset") (global.set $bump (i32.const 1024)))
  )
  (core instance $mem (instantiate $Mem))
  (alias core export $mem "memory" (core memory $memory))
  (alias core export $mem "realloc" (core func $realloc))

  (core func $access-token (canon lower (func $tokens "access-token") (memory $memory) (realloc $realloc)))
  (core func $verify (canon lower (func $tokens "verify") (memory $memory) (realloc $realloc)))

  (core module $Main
    (import "mem" "reset" (func $reset))
    (import "t" "access-token" (func $access-token (param i32 i32 i32)))
    (import "t" "verify" (func $verify (param i32 i32 i32)))
    (func (export "access-token") (param i32 i32) (result i32)
      (call $access-token (local.get 0) (local.get 1) (i32.const 64))
      (i32.const 64))
    (func (export "verify") (param i32 i32) (result i32)
      (call $verify (local.get 0) (local.get 1) (i32.const 64))
      (i32.const 64))
    ;; The host writes the results before the next call's arguments, so
    ;; the heap is reset once they were read, after each call.
    (func (export "post") (param i32) (call $reset))
  )
  (core instance $main (instantiate $Main
    (with "mem" (instance $mem))
    (with "t" (instance (export "access-token" (func $access-token)) (export "verify" (func $verify))))
  ))

  (func (export "access-token") (param "audience" string) (result (result string (error $error)))
    (canon lift (core func $main "access-token") (memory $memory) (realloc $realloc)
      (post-return (func $main "post"))))
  (func (export "verify") (param "token" string) (result (result $claims (error $error)))
    (canon lift (core func $main "verify") (memory $memory) (realloc $realloc)
      (post-return (func $main "post"))))
)
