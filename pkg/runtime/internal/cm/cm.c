#include "cm.h"
#include "_cgo_export.h"

// The trampolines exist because cgo cannot take the address of an exported
// Go function with wasmtime's const-qualified callback signature.

// cm_scalar_kind reports kinds that hold no other value (so no marker).
static bool cm_scalar_kind(wasmtime_component_valkind_t k) {
  return k <= WASMTIME_COMPONENT_STRING || k == WASMTIME_COMPONENT_ENUM ||
         k == WASMTIME_COMPONENT_FLAGS;
}

// cm_resolve_resources turns the CM_KIND_HOST_RESOURCE markers in v into
// resource values. After the first failure (or when first is an error
// already) it only makes the remaining markers safe to delete.
static wasmtime_error_t *cm_resolve_resources(wasmtime_context_t *ctx, wasmtime_component_val_t *v,
                                              wasmtime_error_t *first) {
  switch (v->kind) {
  case CM_KIND_HOST_RESOURCE: {
    uint64_t p = v->of.u64;
    v->kind = WASMTIME_COMPONENT_BOOL;
    v->of.boolean = false;
    if (first == NULL) {
      first = cm_resource_to_val(ctx, true, (uint32_t)p, (uint32_t)(p >> 32), v);
    }
    break;
  }
  case WASMTIME_COMPONENT_LIST:
    // A list's elements share one type: if the first is a scalar, none
    // holds a marker (a list<u8> body chunk is thousands of them).
    if (v->of.list.size > 0 && cm_scalar_kind(v->of.list.data[0].kind)) {
      break;
    }
    for (size_t i = 0; i < v->of.list.size; i++) {
      first = cm_resolve_resources(ctx, &v->of.list.data[i], first);
    }
    break;
  case WASMTIME_COMPONENT_TUPLE:
    for (size_t i = 0; i < v->of.tuple.size; i++) {
      first = cm_resolve_resources(ctx, &v->of.tuple.data[i], first);
    }
    break;
  case WASMTIME_COMPONENT_RECORD:
    for (size_t i = 0; i < v->of.record.size; i++) {
      first = cm_resolve_resources(ctx, &v->of.record.data[i].val, first);
    }
    break;
  case WASMTIME_COMPONENT_VARIANT:
    if (v->of.variant.val != NULL) {
      first = cm_resolve_resources(ctx, v->of.variant.val, first);
    }
    break;
  case WASMTIME_COMPONENT_OPTION:
    if (v->of.option != NULL) {
      first = cm_resolve_resources(ctx, v->of.option, first);
    }
    break;
  case WASMTIME_COMPONENT_RESULT:
    if (v->of.result.val != NULL) {
      first = cm_resolve_resources(ctx, v->of.result.val, first);
    }
    break;
  default:
    break;
  }
  return first;
}

static wasmtime_error_t *cm_func_trampoline(
    void *data, wasmtime_context_t *ctx, const wasmtime_component_func_type_t *ty,
    wasmtime_component_val_t *args, size_t nargs, wasmtime_component_val_t *results,
    size_t nresults) {
  (void)ty;
  // The store's handle and the host view of top-level resource arguments
  // (most host calls take a borrowed self) travel with the call: each is a
  // cgo call fewer than the Go side asking for it.
  cm_host_resource_t res[CM_PRE_RESOURCES];
  size_t n = nargs < CM_PRE_RESOURCES ? nargs : CM_PRE_RESOURCES;
  for (size_t i = 0; i < n; i++) {
    if (args[i].kind == WASMTIME_COMPONENT_RESOURCE) {
      res[i] = cm_resource_from_any(ctx, args[i].of.resource);
      res[i].converted = true;
    } else {
      res[i].converted = false;
      res[i].err = NULL;
    }
  }
  wasmtime_error_t *err = cmHostCall((uintptr_t)data, (uintptr_t)wasmtime_context_get_data(ctx),
                                     ctx, args, nargs, results, nresults, res, n);
  // An error the Go side did not take (it stopped early) is ours to free.
  for (size_t i = 0; i < n; i++) {
    if (res[i].converted && res[i].err != NULL) {
      wasmtime_error_delete(res[i].err);
    }
  }
  // Owned resources among the results were left as markers: convert them
  // here, one C call each instead of a cgo call each (or, after an error,
  // make them safe for wasmtime to drop).
  for (size_t i = 0; i < nresults; i++) {
    err = cm_resolve_resources(ctx, &results[i], err);
  }
  return err;
}

static wasmtime_error_t *cm_resource_trampoline(void *data, wasmtime_context_t *ctx,
                                                uint32_t rep) {
  return cmResourceDrop((uintptr_t)data, (uintptr_t)wasmtime_context_get_data(ctx), rep);
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

// cm_config_winch selects Winch, wasmtime's baseline compiler, in conf,
// and reports whether it could. wasmtime 39's library has Winch compiled
// in, but its C API names only AUTO and CRANELIFT, and its
// wasmtime_config_strategy_set compiles to one instruction that stores a
// constant, Some(Strategy::Cranelift) == 1, in the config: on x86-64,
// `movb $1, disp32(%rdi); ret`. When the setter is exactly that, the byte
// it stores at disp is the strategy, and 2 is Some(Strategy::Winch) (the
// Rust enum is Auto, Cranelift, Winch). Anything else (another build,
// another architecture) leaves conf alone and returns false. NewEngine
// then checks that the engine it gets really is Winch (winch.go).
bool cm_config_winch(wasm_config_t *conf) {
#if defined(__x86_64__)
  const uint8_t *code = (const uint8_t *)(uintptr_t)&wasmtime_config_strategy_set;
  if (code[0] != 0xc6 || code[1] != 0x87 || code[6] != CM_STRATEGY_CRANELIFT || code[7] != 0xc3) {
    return false;
  }
  int32_t disp;
  memcpy(&disp, code + 2, sizeof disp);
  if (disp < 0 || disp >= CM_CONFIG_MAX_OFFSET) {
    return false;
  }
  ((uint8_t *)conf)[disp] = CM_STRATEGY_WINCH;
  return true;
#else
  (void)conf;
  return false;
#endif
}

// cm_pooling_pagemap_scan turns on wasmtime's PAGEMAP_SCAN reset of freed
// pool slots in pc (PoolingAllocationConfig::pagemap_scan(Enabled::Auto):
// on when the kernel has the ioctl, off when not), and reports whether it
// could. With it a freed memory resets only the pages its instance wrote,
// instead of its whole kept-resident part. wasmtime 39 has the option, its
// C API has no setter. wasmtime_pooling_allocation_config_new fills in the
// config's defaults and ends, in this library, with
// `movw $0x202, 0x84(%rax); movb $0, 0x86(%rax)`: the two Enabled fields
// (memory_protection_keys at 0x84, pagemap_scan at 0x85, as
// PoolingInstanceAllocator::new reads them) set to No (2), then
// async_stack_zeroing (false). Only when those exact instructions are
// there, and the byte still holds No, is it set to Auto (0); any other
// build or architecture leaves pc alone. Engine creation then opens
// /proc/self/pagemap, which NewEngine's caller can check (pagemap.go).
bool cm_pooling_pagemap_scan(wasmtime_pooling_allocation_config_t *pc) {
#if defined(__x86_64__)
  static const uint8_t defaults[] = {
      0x66, 0xc7, 0x80, CM_POOL_MPK_OFFSET, 0, 0, 0, CM_ENABLED_NO, CM_ENABLED_NO, // movw $0x202, 0x84(%rax)
      0xc6, 0x80, CM_POOL_STACK_ZEROING_OFFSET, 0, 0, 0, 0,                       // movb $0, 0x86(%rax)
  };
  const uint8_t *code = (const uint8_t *)(uintptr_t)&wasmtime_pooling_allocation_config_new;
  bool found = false;
  for (size_t i = 0; i + sizeof defaults <= 256 && !found; i++) {
    found = memcmp(code + i, defaults, sizeof defaults) == 0;
  }
  uint8_t *cfg = (uint8_t *)pc;
  if (!found || cfg[CM_POOL_PAGEMAP_SCAN_OFFSET] != CM_ENABLED_NO) {
    return false;
  }
  cfg[CM_POOL_PAGEMAP_SCAN_OFFSET] = CM_ENABLED_AUTO;
  return true;
#else
  (void)pc;
  return false;
#endif
}

// cm_store_new makes a store with its limits and no deadline (a far epoch
// keeps set-up code running), and its context: one cgo call instead of four.
wasmtime_store_t *cm_store_new(wasm_engine_t *engine, uintptr_t handle, int64_t memory_size,
                               int64_t table_elements, int64_t instances,
                               wasmtime_context_t **ctx_out) {
  wasmtime_store_t *store = wasmtime_store_new(engine, (void *)handle, NULL);
  wasmtime_store_limiter(store, memory_size, table_elements, instances, -1, -1);
  wasmtime_context_t *ctx = wasmtime_store_context(store);
  wasmtime_context_set_epoch_deadline(ctx, (uint64_t)1 << 62);
  *ctx_out = ctx;
  return store;
}

// cm_func_call calls fn with args, which it takes (their resource markers
// converted first, the values deleted afterwards, also on failure), and
// after a successful call runs post-return: the results are wasmtime's
// copies, so the guest's memory they came from may be released before Go
// reads them. One cgo call instead of three plus one per resource argument.
cm_call_t cm_func_call(const wasmtime_component_func_t *fn, wasmtime_context_t *ctx,
                       wasmtime_component_val_t *args, size_t nargs,
                       wasmtime_component_val_t *results, size_t nresults) {
  cm_call_t out = {0};
  for (size_t i = 0; i < nargs; i++) {
    out.args = cm_resolve_resources(ctx, &args[i], out.args);
  }
  if (out.args == NULL) {
    out.call = wasmtime_component_func_call(fn, ctx, args, nargs, results, nresults);
    if (out.call == NULL) {
      out.post_return = wasmtime_component_func_post_return(fn, ctx);
    }
  }
  cm_vals_delete(args, nargs);
  return out;
}

// The helpers below fold several C API calls into one, so the Go side pays
// for one cgo transition instead of three to five.

wasmtime_error_t *cm_resource_to_val(wasmtime_context_t *ctx, bool owned, uint32_t rep,
                                     uint32_t ty, wasmtime_component_val_t *dst) {
  wasmtime_component_resource_host_t *h = wasmtime_component_resource_host_new(owned, rep, ty);
  wasmtime_component_resource_any_t *any = NULL;
  wasmtime_error_t *err = wasmtime_component_resource_host_to_any(ctx, h, &any);
  wasmtime_component_resource_host_delete(h);
  if (err == NULL) {
    dst->kind = WASMTIME_COMPONENT_RESOURCE;
    dst->of.resource = any;
  }
  return err;
}

// cm_resource_from_any returns by value so the Go side passes no pointer
// (which would move its variables to the heap).
cm_host_resource_t cm_resource_from_any(wasmtime_context_t *ctx,
                                        const wasmtime_component_resource_any_t *any) {
  cm_host_resource_t out = {0};
  wasmtime_component_resource_host_t *h = NULL;
  out.err = wasmtime_component_resource_any_to_host(ctx, any, &h);
  if (out.err != NULL) {
    return out;
  }
  out.ty = wasmtime_component_resource_host_type(h);
  out.rep = wasmtime_component_resource_host_rep(h);
  out.owned = wasmtime_component_resource_host_owned(h);
  wasmtime_component_resource_host_delete(h);
  return out;
}

// A list<u8> crosses the C API as one value per byte (the API has no byte
// list). The two helpers below fill and read such a list in one cgo call
// and one C loop each, instead of a Go loop over the C values.

// cm_list_from_bytes makes dst, which must own nothing, the list<u8> of the
// n bytes at p.
void cm_list_from_bytes(wasmtime_component_val_t *dst, const uint8_t *p, size_t n) {
  dst->kind = WASMTIME_COMPONENT_LIST;
  wasmtime_component_vallist_new_uninit(&dst->of.list, n);
  wasmtime_component_val_t *items = dst->of.list.data;
  for (size_t i = 0; i < n; i++) {
    items[i] = (wasmtime_component_val_t){.kind = WASMTIME_COMPONENT_U8, .of.u8 = p[i]};
  }
}

// cm_list_to_bytes copies the n values at items to dst when every one is a
// u8, and reports whether they were (dst is partly written when not).
bool cm_list_to_bytes(const wasmtime_component_val_t *items, size_t n, uint8_t *dst) {
  for (size_t i = 0; i < n; i++) {
    if (items[i].kind != WASMTIME_COMPONENT_U8) {
      return false;
    }
    dst[i] = items[i].of.u8;
  }
  return true;
}

// cm_val_box returns a value on a wasmtime allocation (the payload of an
// option, result or variant) holding "bool false", which owns nothing.
wasmtime_component_val_t *cm_val_box(void) {
  wasmtime_component_val_t zero = {0};
  return wasmtime_component_val_new(&zero);
}

// cm_vals_new allocates n zeroed values: zero is "bool false", which owns
// nothing, so wasmtime may overwrite (and drop) it.
wasmtime_component_val_t *cm_vals_new(size_t n) {
  return calloc(n, sizeof(wasmtime_component_val_t));
}

void cm_vals_delete(wasmtime_component_val_t *vals, size_t n) {
  for (size_t i = 0; i < n; i++) {
    wasmtime_component_val_delete(&vals[i]);
  }
  free(vals);
}

// cm_vals_discard is cm_vals_delete for values that may still hold
// CM_KIND_HOST_RESOURCE markers (arguments whose conversion stopped early):
// the markers are made safe first, since wasmtime must never see one.
void cm_vals_discard(wasmtime_component_val_t *vals, size_t n) {
  // With an error already given, cm_resolve_resources only neutralizes.
  wasmtime_error_t *stop = wasmtime_error_new("discarded");
  for (size_t i = 0; i < n; i++) {
    stop = cm_resolve_resources(NULL, &vals[i], stop);
  }
  wasmtime_error_delete(stop);
  cm_vals_delete(vals, n);
}
