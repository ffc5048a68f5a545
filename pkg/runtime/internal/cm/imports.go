package cm

/*
#include "cm.h"
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// ImportedInstance is one instance a component imports, as far as a host
// has to define it: its function names and the resource types it
// introduces (resources that merely re-export an earlier import's resource,
// like wasi:io/streams' "error", are left out: wasmtime resolves those).
type ImportedInstance struct {
	Name      string
	Funcs     []string
	Resources []string
}

// ImportedInstances lists the instance imports of c in import order.
func (c *Component) ImportedInstances() []ImportedInstance {
	ty := C.wasmtime_component_type(c.ptr)
	defer C.wasmtime_component_type_delete(ty)
	var seen []*C.wasmtime_component_resource_type_t
	defer func() {
		for _, r := range seen {
			C.wasmtime_component_resource_type_delete(r)
		}
	}()
	fresh := func(r *C.wasmtime_component_resource_type_t) bool {
		for _, s := range seen {
			if C.wasmtime_component_resource_type_equal(s, r) {
				return false
			}
		}
		seen = append(seen, C.wasmtime_component_resource_type_clone(r))
		return true
	}
	var out []ImportedInstance
	n := int(C.wasmtime_component_type_import_count(ty, c.eng.ptr))
	for i := 0; i < n; i++ {
		var name *C.char
		var nameLen C.size_t
		var item C.wasmtime_component_item_t
		if !C.wasmtime_component_type_import_nth(ty, c.eng.ptr, C.size_t(i), &name, &nameLen, &item) {
			continue
		}
		if item.kind == C.WASMTIME_COMPONENT_ITEM_COMPONENT_INSTANCE {
			it := *(**C.wasmtime_component_instance_type_t)(unsafe.Pointer(&item.of))
			imp := ImportedInstance{Name: C.GoStringN(name, C.int(nameLen))}
			m := int(C.wasmtime_component_instance_type_export_count(it, c.eng.ptr))
			for j := 0; j < m; j++ {
				var en *C.char
				var enLen C.size_t
				var ei C.wasmtime_component_item_t
				if !C.wasmtime_component_instance_type_export_nth(it, c.eng.ptr, C.size_t(j), &en, &enLen, &ei) {
					continue
				}
				switch ei.kind {
				case C.WASMTIME_COMPONENT_ITEM_COMPONENT_FUNC:
					imp.Funcs = append(imp.Funcs, C.GoStringN(en, C.int(enLen)))
				case C.WASMTIME_COMPONENT_ITEM_RESOURCE:
					if fresh(*(**C.wasmtime_component_resource_type_t)(unsafe.Pointer(&ei.of))) {
						imp.Resources = append(imp.Resources, C.GoStringN(en, C.int(enLen)))
					}
				}
				C.wasmtime_component_item_delete(&ei)
			}
			out = append(out, imp)
		}
		C.wasmtime_component_item_delete(&item)
	}
	return out
}

// Defined reports whether name was already defined in this instance.
func (li *LinkerInstance) Defined(name string) bool { return li.defined[name] }

// Trap defines name as a function that traps, naming the import.
func (li *LinkerInstance) Trap(name string) error {
	msg := fmt.Sprintf("%s#%s is not provided by this host", li.name, name)
	return li.Func(name, func(*Store, []Value, []Value) error { return fmt.Errorf("%s", msg) })
}
