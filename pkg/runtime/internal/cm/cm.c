#include "cm.h"
#include "_cgo_export.h"

// The trampolines exist because cgo cannot take the address of an exported
// Go function with wasmtime's const-qualified callback signature.

static wasmtime_error_t *cm_func_trampoline(
    void *data, wasmtime_context_t *ctx, const wasmtime_component_func_type_t *ty,
    wasmtime_component_val_t *args, size_t nargs, wasmtime_component_val_t *results,
    size_t nresults) {
  (void)ty;
  return cmHostCall((uintptr_t)data, ctx, args, nargs, results, nresults);
}

static wasmtime_error_t *cm_resource_trampoline(void *data, wasmtime_context_t *ctx,
                                                uint32_t rep) {
  return cmResourceDrop((uintptr_t)data, ctx, rep);
}

static void cm_finalize(void *data) { cmReleaseHandle((uintptr_t)data); }

wasmtime_error_t *cm_linker_add_func(wasmtime_component_linker_instance_t *li,
                                     const char *name, size_t name_len,
                                     uintptr_t handle) {
  return wasmtime_component_linker_instance_add_func(
      li, name, name_len, cm_func_trampoline, (void *)handle, cm_finalize);
}

wasmtime_error_t *cm_linker_add_resource(wasmtime_component_linker_instance_t *li,
                                         const char *name, size_t name_len,
                                         uint32_t ty, uintptr_t handle) {
  wasmtime_component_resource_type_t *rt = wasmtime_component_resource_type_new_host(ty);
  wasmtime_error_t *err = wasmtime_component_linker_instance_add_resource(
      li, name, name_len, rt, cm_resource_trampoline, (void *)handle, cm_finalize);
  wasmtime_component_resource_type_delete(rt);
  return err;
}

wasmtime_store_t *cm_store_new(wasm_engine_t *engine, uintptr_t handle) {
  return wasmtime_store_new(engine, (void *)handle, NULL);
}

uintptr_t cm_context_handle(wasmtime_context_t *ctx) {
  return (uintptr_t)wasmtime_context_get_data(ctx);
}
