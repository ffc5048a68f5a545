// The part of the wasmtime C API (v39) that this package uses, declared here
// so the plain go command builds it: wasmtime-go ships the headers inside its
// module, where no cgo directive of ours can point. The library itself is
// linked by wasmtime-go's own #cgo LDFLAGS (engine.go imports it).
//
// Written from wasm.h, wasmtime.h and wasmtime/component/*.h of the
// wasmtime-go module in go.mod. TestWasmtimeAPIMatchesUpstream compiles these
// declarations against those headers (prototypes, typedefs and macros must
// not conflict) and compares every struct and union below, member by member
// (size, alignment, offset, scalar type), so a wasmtime-go upgrade that
// changes any of them fails the test instead of corrupting memory.
//
// Type definitions with a body sit inside CM_WASMTIME_DECLS_ONLY guards: the
// declaration check includes the upstream headers first and skips them.
// Each is written one member a line for that test's parser.
#ifndef WASMCANVAS_WASMTIME_API_H
#define WASMCANVAS_WASMTIME_API_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// wasm.h: bytes and names.

typedef char wasm_byte_t;
#ifndef CM_WASMTIME_DECLS_ONLY
typedef struct wasm_byte_vec_t {
  size_t size;
  wasm_byte_t *data;
} wasm_byte_vec_t;
#endif
typedef wasm_byte_vec_t wasm_name_t;
void wasm_byte_vec_new(wasm_byte_vec_t *out, size_t size, const wasm_byte_t ptr[]);
void wasm_byte_vec_new_empty(wasm_byte_vec_t *out);
void wasm_byte_vec_delete(wasm_byte_vec_t *vec);

// wasm.h and wasmtime/config.h: engine and its configuration.

typedef struct wasm_config_t wasm_config_t;
typedef struct wasm_engine_t wasm_engine_t;
typedef struct wasmtime_pooling_allocation_config_t wasmtime_pooling_allocation_config_t;
wasm_config_t *wasm_config_new(void);
wasm_engine_t *wasm_engine_new_with_config(wasm_config_t *config);
void wasm_engine_delete(wasm_engine_t *engine);
void wasmtime_engine_increment_epoch(wasm_engine_t *engine);
void wasmtime_config_epoch_interruption_set(wasm_config_t *config, bool enable);
void wasmtime_config_max_wasm_stack_set(wasm_config_t *config, size_t size);
void wasmtime_config_wasm_component_model_set(wasm_config_t *config, bool enable);
typedef uint8_t wasmtime_profiling_strategy_t;
typedef uint8_t wasmtime_opt_level_t;
void wasmtime_config_cranelift_opt_level_set(wasm_config_t *config, wasmtime_opt_level_t level);
void wasmtime_config_cranelift_flag_set(wasm_config_t *config, const char *key, const char *value);
void wasmtime_config_profiler_set(wasm_config_t *config, wasmtime_profiling_strategy_t strategy);
typedef uint8_t wasmtime_strategy_t;
void wasmtime_config_strategy_set(wasm_config_t *config, wasmtime_strategy_t strategy);
void wasmtime_pooling_allocation_strategy_set(wasm_config_t *config,
                                              const wasmtime_pooling_allocation_config_t *pool);
wasmtime_pooling_allocation_config_t *wasmtime_pooling_allocation_config_new(void);
void wasmtime_pooling_allocation_config_delete(wasmtime_pooling_allocation_config_t *pool);
void wasmtime_pooling_allocation_config_decommit_batch_size_set(
    wasmtime_pooling_allocation_config_t *pool, size_t n);
void wasmtime_pooling_allocation_config_linear_memory_keep_resident_set(
    wasmtime_pooling_allocation_config_t *pool, size_t n);
void wasmtime_pooling_allocation_config_table_keep_resident_set(
    wasmtime_pooling_allocation_config_t *pool, size_t n);
void wasmtime_pooling_allocation_config_max_memory_size_set(
    wasmtime_pooling_allocation_config_t *pool, size_t n);
void wasmtime_pooling_allocation_config_max_core_instances_per_component_set(
    wasmtime_pooling_allocation_config_t *pool, uint32_t n);
void wasmtime_pooling_allocation_config_max_memories_per_component_set(
    wasmtime_pooling_allocation_config_t *pool, uint32_t n);
void wasmtime_pooling_allocation_config_max_tables_per_component_set(
    wasmtime_pooling_allocation_config_t *pool, uint32_t n);
void wasmtime_pooling_allocation_config_total_component_instances_set(
    wasmtime_pooling_allocation_config_t *pool, uint32_t n);
void wasmtime_pooling_allocation_config_total_core_instances_set(
    wasmtime_pooling_allocation_config_t *pool, uint32_t n);
void wasmtime_pooling_allocation_config_total_memories_set(
    wasmtime_pooling_allocation_config_t *pool, uint32_t n);
void wasmtime_pooling_allocation_config_total_tables_set(
    wasmtime_pooling_allocation_config_t *pool, uint32_t n);

// wasmtime/error.h

typedef struct wasmtime_error wasmtime_error_t;
wasmtime_error_t *wasmtime_error_new(const char *message);
void wasmtime_error_delete(wasmtime_error_t *error);
void wasmtime_error_message(const wasmtime_error_t *error, wasm_name_t *message);
bool wasmtime_error_exit_status(const wasmtime_error_t *error, int *status);

// wasmtime/wat.h

wasmtime_error_t *wasmtime_wat2wasm(const char *wat, size_t wat_len, wasm_byte_vec_t *ret);

// wasmtime/store.h

typedef struct wasmtime_store wasmtime_store_t;
typedef struct wasmtime_context wasmtime_context_t;
wasmtime_store_t *wasmtime_store_new(wasm_engine_t *engine, void *data,
                                     void (*finalizer)(void *));
void wasmtime_store_delete(wasmtime_store_t *store);
wasmtime_context_t *wasmtime_store_context(wasmtime_store_t *store);
void wasmtime_store_limiter(wasmtime_store_t *store, int64_t memory_size,
                            int64_t table_elements, int64_t instances, int64_t tables,
                            int64_t memories);
void *wasmtime_context_get_data(const wasmtime_context_t *context);
void wasmtime_context_set_epoch_deadline(wasmtime_context_t *context,
                                         uint64_t ticks_beyond_current);

// wasmtime/component/types/*.h: types of a component, its imports and
// exports, functions and resources.

typedef struct wasmtime_component_t wasmtime_component_t;
typedef struct wasmtime_component_type_t wasmtime_component_type_t;
typedef struct wasmtime_component_instance_type wasmtime_component_instance_type_t;
typedef struct wasmtime_component_func_type_t wasmtime_component_func_type_t;
typedef struct wasmtime_component_resource_type wasmtime_component_resource_type_t;
typedef uint8_t wasmtime_component_valtype_kind_t;
typedef uint8_t wasmtime_component_item_kind_t;

#define WASMTIME_COMPONENT_ITEM_COMPONENT_INSTANCE 1
#define WASMTIME_COMPONENT_ITEM_COMPONENT_FUNC 3
#define WASMTIME_COMPONENT_ITEM_RESOURCE 4

#ifndef CM_WASMTIME_DECLS_ONLY
// Every member upstream is a pointer; this package only deletes a valtype,
// so one pointer member gives the layout.
typedef union wasmtime_component_valtype_union {
  wasmtime_component_resource_type_t *own;
  wasmtime_component_resource_type_t *borrow;
} wasmtime_component_valtype_union_t;

typedef struct wasmtime_component_valtype_t {
  wasmtime_component_valtype_kind_t kind;
  wasmtime_component_valtype_union_t of;
} wasmtime_component_valtype_t;

// Upstream has more pointer members; type is the largest.
typedef union wasmtime_component_item_union {
  wasmtime_component_instance_type_t *component_instance;
  wasmtime_component_resource_type_t *resource;
  wasmtime_component_valtype_t type;
} wasmtime_component_item_union_t;

typedef struct wasmtime_component_item_t {
  wasmtime_component_item_kind_t kind;
  wasmtime_component_item_union_t of;
} wasmtime_component_item_t;
#endif

wasmtime_component_type_t *wasmtime_component_type(const wasmtime_component_t *component);
void wasmtime_component_type_delete(wasmtime_component_type_t *ty);
size_t wasmtime_component_type_import_count(const wasmtime_component_type_t *ty,
                                            const wasm_engine_t *engine);
bool wasmtime_component_type_import_nth(const wasmtime_component_type_t *ty,
                                        const wasm_engine_t *engine, size_t nth,
                                        const char **name_ret, size_t *name_len_ret,
                                        struct wasmtime_component_item_t *type_ret);
size_t wasmtime_component_type_export_count(const wasmtime_component_type_t *ty,
                                            const wasm_engine_t *engine);
bool wasmtime_component_type_export_nth(const wasmtime_component_type_t *ty,
                                        const wasm_engine_t *engine, size_t nth,
                                        const char **name_ret, size_t *name_len_ret,
                                        struct wasmtime_component_item_t *type_ret);
size_t wasmtime_component_instance_type_export_count(const wasmtime_component_instance_type_t *ty,
                                                     const wasm_engine_t *engine);
bool wasmtime_component_instance_type_export_nth(const wasmtime_component_instance_type_t *ty,
                                                 const wasm_engine_t *engine, size_t nth,
                                                 const char **name_ret, size_t *name_len_ret,
                                                 struct wasmtime_component_item_t *type_ret);
void wasmtime_component_item_delete(wasmtime_component_item_t *ptr);
void wasmtime_component_func_type_delete(wasmtime_component_func_type_t *ty);
bool wasmtime_component_func_type_result(const wasmtime_component_func_type_t *ty,
                                         wasmtime_component_valtype_t *type_ret);
void wasmtime_component_valtype_delete(wasmtime_component_valtype_t *ptr);
wasmtime_component_resource_type_t *wasmtime_component_resource_type_new_host(uint32_t ty);
wasmtime_component_resource_type_t *
wasmtime_component_resource_type_clone(const wasmtime_component_resource_type_t *ty);
bool wasmtime_component_resource_type_equal(const wasmtime_component_resource_type_t *a,
                                            const wasmtime_component_resource_type_t *b);
void wasmtime_component_resource_type_delete(wasmtime_component_resource_type_t *resource);

// wasmtime/component/component.h

typedef struct wasmtime_component_export_index_t wasmtime_component_export_index_t;
wasmtime_error_t *wasmtime_component_new(const wasm_engine_t *engine, const uint8_t *buf,
                                         size_t len, wasmtime_component_t **component_out);
wasmtime_error_t *wasmtime_component_serialize(const wasmtime_component_t *component,
                                               wasm_byte_vec_t *ret);
wasmtime_error_t *wasmtime_component_deserialize(const wasm_engine_t *engine,
                                                 const uint8_t *buf, size_t len,
                                                 wasmtime_component_t **component_out);
void wasmtime_component_delete(wasmtime_component_t *component);
wasmtime_component_export_index_t *
wasmtime_component_get_export_index(const wasmtime_component_t *component,
                                    const wasmtime_component_export_index_t *instance_export_index,
                                    const char *name, size_t name_len);
void wasmtime_component_export_index_delete(wasmtime_component_export_index_t *export_index);

// wasmtime/component/val.h: component values.

typedef struct wasmtime_component_resource_any wasmtime_component_resource_any_t;
typedef struct wasmtime_component_resource_host wasmtime_component_resource_host_t;
wasmtime_component_resource_host_t *wasmtime_component_resource_host_new(bool owned, uint32_t rep,
                                                                         uint32_t ty);
uint32_t wasmtime_component_resource_host_rep(const wasmtime_component_resource_host_t *resource);
uint32_t wasmtime_component_resource_host_type(const wasmtime_component_resource_host_t *resource);
bool wasmtime_component_resource_host_owned(const wasmtime_component_resource_host_t *resource);
void wasmtime_component_resource_host_delete(wasmtime_component_resource_host_t *resource);
wasmtime_error_t *
wasmtime_component_resource_any_to_host(wasmtime_context_t *ctx,
                                        const wasmtime_component_resource_any_t *resource,
                                        wasmtime_component_resource_host_t **ret);
wasmtime_error_t *
wasmtime_component_resource_host_to_any(wasmtime_context_t *ctx,
                                        const wasmtime_component_resource_host_t *resource,
                                        wasmtime_component_resource_any_t **ret);

typedef uint8_t wasmtime_component_valkind_t;

#define WASMTIME_COMPONENT_BOOL 0
#define WASMTIME_COMPONENT_S8 1
#define WASMTIME_COMPONENT_U8 2
#define WASMTIME_COMPONENT_S16 3
#define WASMTIME_COMPONENT_U16 4
#define WASMTIME_COMPONENT_S32 5
#define WASMTIME_COMPONENT_U32 6
#define WASMTIME_COMPONENT_S64 7
#define WASMTIME_COMPONENT_U64 8
#define WASMTIME_COMPONENT_F32 9
#define WASMTIME_COMPONENT_F64 10
#define WASMTIME_COMPONENT_CHAR 11
#define WASMTIME_COMPONENT_STRING 12
#define WASMTIME_COMPONENT_LIST 13
#define WASMTIME_COMPONENT_RECORD 14
#define WASMTIME_COMPONENT_TUPLE 15
#define WASMTIME_COMPONENT_VARIANT 16
#define WASMTIME_COMPONENT_ENUM 17
#define WASMTIME_COMPONENT_OPTION 18
#define WASMTIME_COMPONENT_RESULT 19
#define WASMTIME_COMPONENT_FLAGS 20
#define WASMTIME_COMPONENT_RESOURCE 21

struct wasmtime_component_val;
struct wasmtime_component_valrecord_entry;

#ifndef CM_WASMTIME_DECLS_ONLY
typedef struct wasmtime_component_vallist {
  size_t size;
  struct wasmtime_component_val *data;
} wasmtime_component_vallist_t;

typedef struct wasmtime_component_valrecord {
  size_t size;
  struct wasmtime_component_valrecord_entry *data;
} wasmtime_component_valrecord_t;

typedef struct wasmtime_component_valtuple {
  size_t size;
  struct wasmtime_component_val *data;
} wasmtime_component_valtuple_t;

typedef struct wasmtime_component_valflags {
  size_t size;
  wasm_name_t *data;
} wasmtime_component_valflags_t;

typedef struct {
  wasm_name_t discriminant;
  struct wasmtime_component_val *val;
} wasmtime_component_valvariant_t;

typedef struct {
  bool is_ok;
  struct wasmtime_component_val *val;
} wasmtime_component_valresult_t;

typedef union {
  bool boolean;
  int8_t s8;
  uint8_t u8;
  int16_t s16;
  uint16_t u16;
  int32_t s32;
  uint32_t u32;
  int64_t s64;
  uint64_t u64;
  float f32;
  double f64;
  uint32_t character;
  wasm_name_t string;
  wasmtime_component_vallist_t list;
  wasmtime_component_valrecord_t record;
  wasmtime_component_valtuple_t tuple;
  wasmtime_component_valvariant_t variant;
  wasm_name_t enumeration;
  struct wasmtime_component_val *option;
  wasmtime_component_valresult_t result;
  wasmtime_component_valflags_t flags;
  wasmtime_component_resource_any_t *resource;
} wasmtime_component_valunion_t;

typedef struct wasmtime_component_val {
  wasmtime_component_valkind_t kind;
  wasmtime_component_valunion_t of;
} wasmtime_component_val_t;

typedef struct wasmtime_component_valrecord_entry {
  wasm_name_t name;
  wasmtime_component_val_t val;
} wasmtime_component_valrecord_entry_t;
#endif

void wasmtime_component_vallist_new_uninit(wasmtime_component_vallist_t *out, size_t size);
void wasmtime_component_valrecord_new_uninit(wasmtime_component_valrecord_t *out, size_t size);
void wasmtime_component_valtuple_new_uninit(wasmtime_component_valtuple_t *out, size_t size);
void wasmtime_component_valflags_new_uninit(wasmtime_component_valflags_t *out, size_t size);
wasmtime_component_val_t *wasmtime_component_val_new(wasmtime_component_val_t *val);
void wasmtime_component_val_delete(wasmtime_component_val_t *value);

// wasmtime/component/instance.h and func.h

#ifndef CM_WASMTIME_DECLS_ONLY
typedef struct wasmtime_component_instance {
  uint64_t store_id;
  uint32_t __private;
} wasmtime_component_instance_t;

typedef struct wasmtime_component_func {
  struct {
    uint64_t store_id;
    uint32_t __private1;
  };
  uint32_t __private2;
} wasmtime_component_func_t;
#endif

bool wasmtime_component_instance_get_func(
    const wasmtime_component_instance_t *instance, wasmtime_context_t *context,
    const wasmtime_component_export_index_t *export_index, wasmtime_component_func_t *func_out);
wasmtime_component_func_type_t *wasmtime_component_func_type(const wasmtime_component_func_t *func,
                                                             wasmtime_context_t *context);
wasmtime_error_t *wasmtime_component_func_call(const wasmtime_component_func_t *func,
                                               wasmtime_context_t *context,
                                               const wasmtime_component_val_t *args,
                                               size_t args_size,
                                               wasmtime_component_val_t *results,
                                               size_t results_size);
wasmtime_error_t *wasmtime_component_func_post_return(const wasmtime_component_func_t *func,
                                                      wasmtime_context_t *context);

// wasmtime/component/linker.h

typedef struct wasmtime_component_linker_t wasmtime_component_linker_t;
typedef struct wasmtime_component_linker_instance_t wasmtime_component_linker_instance_t;
typedef wasmtime_error_t *(*wasmtime_component_func_callback_t)(
    void *data, wasmtime_context_t *context, const wasmtime_component_func_type_t *ty,
    wasmtime_component_val_t *args, size_t nargs, wasmtime_component_val_t *results,
    size_t nresults);
typedef wasmtime_error_t *(*wasmtime_component_resource_destructor_t)(void *data,
                                                                      wasmtime_context_t *context,
                                                                      uint32_t rep);
wasmtime_component_linker_t *wasmtime_component_linker_new(const wasm_engine_t *engine);
void wasmtime_component_linker_delete(wasmtime_component_linker_t *linker);
void wasmtime_component_linker_allow_shadowing(wasmtime_component_linker_t *linker, bool allow);
wasmtime_component_linker_instance_t *
wasmtime_component_linker_root(wasmtime_component_linker_t *linker);
wasmtime_error_t *
wasmtime_component_linker_define_unknown_imports_as_traps(wasmtime_component_linker_t *linker,
                                                          const wasmtime_component_t *component);
wasmtime_error_t *wasmtime_component_linker_instantiate(const wasmtime_component_linker_t *linker,
                                                        wasmtime_context_t *context,
                                                        const wasmtime_component_t *component,
                                                        wasmtime_component_instance_t *instance_out);
wasmtime_error_t *wasmtime_component_linker_instance_add_instance(
    wasmtime_component_linker_instance_t *linker_instance, const char *name, size_t name_len,
    wasmtime_component_linker_instance_t **linker_instance_out);
wasmtime_error_t *wasmtime_component_linker_instance_add_func(
    wasmtime_component_linker_instance_t *linker_instance, const char *name, size_t name_len,
    wasmtime_component_func_callback_t callback, void *data, void (*finalizer)(void *));
wasmtime_error_t *wasmtime_component_linker_instance_add_resource(
    wasmtime_component_linker_instance_t *linker_instance, const char *name, size_t name_len,
    const wasmtime_component_resource_type_t *resource,
    wasmtime_component_resource_destructor_t destructor, void *data, void (*finalizer)(void *));
void wasmtime_component_linker_instance_delete(
    wasmtime_component_linker_instance_t *linker_instance);

#endif
