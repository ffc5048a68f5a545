#ifndef WASMCANVAS_CM_H
#define WASMCANVAS_CM_H
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "wasmtime_api.h"

// The values of wasmtime/config.h's enum wasmtime_profiling_strategy_enum
// (an enum, so wasmtime_api.h cannot restate it): NONE, JITDUMP, VTUNE,
// PERFMAP. TestProfilerValues checks them against the upstream header.
#define CM_PROFILING_NONE 0
#define CM_PROFILING_JITDUMP 1
#define CM_PROFILING_PERFMAP 3

// wasmtime/config.h's enum wasmtime_opt_level_enum: NONE, SPEED,
// SPEED_AND_SIZE (TestProfilerValues checks it too).
#define CM_OPT_LEVEL_NONE 0

// The Rust values of wasmtime's Option<Strategy> in its Config (see
// cm_config_winch), and a bound on where in the config it may sit.
#define CM_STRATEGY_CRANELIFT 1
#define CM_STRATEGY_WINCH 2
#define CM_CONFIG_MAX_OFFSET 4096
bool cm_config_winch(wasm_config_t *conf);

// Where wasmtime 39's PoolingInstanceAllocatorConfig keeps its two Enabled
// fields and its one bool (see cm_pooling_pagemap_scan), and the values of
// the Rust enum Enabled { Auto, Yes, No }.
#define CM_POOL_MPK_OFFSET 0x84
#define CM_POOL_PAGEMAP_SCAN_OFFSET 0x85
#define CM_POOL_STACK_ZEROING_OFFSET 0x86
#define CM_ENABLED_AUTO 0
#define CM_ENABLED_NO 2
bool cm_pooling_pagemap_scan(wasmtime_pooling_allocation_config_t *pc);
wasmtime_error_t *cm_linker_add_func(wasmtime_component_linker_instance_t *li,
                                     const char *name, size_t name_len,
                                     uintptr_t handle);
wasmtime_error_t *cm_linker_add_resource(wasmtime_component_linker_instance_t *li,
                                         const char *name, size_t name_len,
                                         uint32_t ty, uintptr_t handle);
wasmtime_store_t *cm_store_new(wasm_engine_t *engine, uintptr_t handle, int64_t memory_size,
                               int64_t table_elements, int64_t instances,
                               wasmtime_context_t **ctx_out);
wasmtime_error_t *cm_resource_to_val(wasmtime_context_t *ctx, bool owned, uint32_t rep,
                                     uint32_t ty, wasmtime_component_val_t *dst);
typedef struct {
  wasmtime_error_t *err;
  uint32_t ty;
  uint32_t rep;
  bool owned;
  bool converted;
} cm_host_resource_t;

// CM_PRE_RESOURCES top-level arguments of a host call at most get their
// resource handles converted before Go sees them.
#define CM_PRE_RESOURCES 8

// CM_KIND_HOST_RESOURCE marks, in a host call's results, an owned host
// resource the Go side left for the trampoline to convert: of.u64 holds
// type << 32 | rep. It never reaches wasmtime.
#define CM_KIND_HOST_RESOURCE 250
cm_host_resource_t cm_resource_from_any(wasmtime_context_t *ctx,
                                        const wasmtime_component_resource_any_t *any);
typedef struct {
  wasmtime_error_t *args;
  wasmtime_error_t *call;
  wasmtime_error_t *post_return;
} cm_call_t;
cm_call_t cm_func_call(const wasmtime_component_func_t *fn, wasmtime_context_t *ctx,
                       wasmtime_component_val_t *args, size_t nargs,
                       wasmtime_component_val_t *results, size_t nresults);
wasmtime_component_val_t *cm_vals_new(size_t n);
wasmtime_component_val_t *cm_val_box(void);
void cm_list_from_bytes(wasmtime_component_val_t *dst, const uint8_t *p, size_t n);
bool cm_list_to_bytes(const wasmtime_component_val_t *items, size_t n, uint8_t *dst);
void cm_vals_delete(wasmtime_component_val_t *vals, size_t n);
void cm_vals_discard(wasmtime_component_val_t *vals, size_t n);
#endif
