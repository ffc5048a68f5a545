package compose

// wrap writes the outer component. Its index spaces continue those of the
// copied prefix (the guest's own imports, types and aliases, byte for
// byte); the comments give each definition's index. inner is the guest
// to nest: wasm itself, or wasm retyped (retyped is then set).
func (g *guest) wrap(wasm, inner []byte, retyped bool, memory, shim, reexport []byte) []byte {
	w := &writer{b: make([]byte, 0, len(wasm)+4096)}
	w.b = append(w.b, wasm[:g.prefix]...)
	streams := g.imports[g.streams]
	T, F, I := g.types, g.funcs, g.instances

	// Types: the streams resources and error, aliased from the import.
	tOut, tIn, tErr := T, T+1, T+2
	w.section(6, func(w *writer) int {
		for _, n := range []string{"output-stream", "input-stream", "stream-error"} {
			w.aliasExport(sortType, streams.idx, n)
		}
		return 3
	})
	T += 3
	// list<u8>, borrows, results, the guest's two function types and the
	// type of Interface. Retyped, the guest reads strings: one layout of
	// indices for both ways.
	tBytes, tBorrowOut, tBorrowIn, tWriteRes, tReadRes := T, T+1, T+2, T+3, T+4
	tWrite, tRead, tIface := T+5, T+6, T+7
	w.section(7, func(w *writer) int {
		w.byte(0x70, 0x7d) // list<u8>
		w.byte(0x68)       // borrow<output-stream>
		w.u32(tOut)
		w.byte(0x68) // borrow<input-stream>
		w.u32(tIn)
		w.byte(0x6a, 0x00, 0x01) // result<_, stream-error>
		w.idx(tErr)
		w.byte(0x6a, 0x01) // result<list<u8>, stream-error>, or <string, ...>
		if retyped {
			w.byte(0x73)
		} else {
			w.idx(tBytes)
		}
		w.byte(0x01)
		w.idx(tErr)
		fn := func(self uint32, arg string, argType func(), res uint32) {
			w.byte(0x40)
			w.u32(2)
			w.name("self")
			w.idx(self)
			w.name(arg)
			argType()
			w.byte(0x00)
			w.idx(res)
		}
		fn(tBorrowOut, "contents", func() { w.idx(tBytes) }, tWriteRes)
		fn(tBorrowIn, "len", func() { w.byte(0x77) }, tReadRes)
		// instance type of Interface: its own index space, the resources
		// and error aliased from the outer one.
		w.byte(0x42)
		w.u32(9 + uint32(len(shimOrder)))             // 3 aliases, 6 types, the exports
		for _, t := range []uint32{tOut, tIn, tErr} { // 0, 1, 2
			w.byte(0x02, sortType, 0x02, 0x01)
			w.u32(t)
		}
		w.byte(0x01, 0x68, 0x00)             // 3: borrow<output-stream>
		w.byte(0x01, 0x68, 0x01)             // 4: borrow<input-stream>
		w.byte(0x01, 0x6a, 0x00, 0x01, 0x02) // 5: result<_, stream-error>
		w.byte(0x01, 0x6a, 0x01, 0x73, 0x01, 0x02)
		// 6: result<string, stream-error>
		w.byte(0x01, 0x40, 0x03) // 7: func(self: 3, contents: string, packed: bool) -> 5
		w.name("self")
		w.byte(0x03)
		w.name("contents")
		w.byte(0x73)
		w.name("packed")
		w.byte(0x7f, 0x00, 0x05)
		w.byte(0x01, 0x40, 0x02) // 8: func(self: 4, len: u64) -> 6
		w.name("self")
		w.byte(0x04)
		w.name("len")
		w.byte(0x77, 0x00, 0x06)
		for _, n := range shimOrder {
			w.byte(0x04, 0x00)
			w.name(n)
			w.byte(sortFunc)
			if isRead(n) {
				w.byte(0x08)
			} else {
				w.byte(0x07)
			}
		}
		return 8
	})
	T += 8

	// import Interface; alias its four functions.
	iHost := I
	w.section(10, func(w *writer) int {
		w.byte(0x00)
		w.name(Interface)
		w.byte(sortInstance)
		w.u32(tIface)
		return 1
	})
	I++
	fHost := F // F .. F+3, in shimOrder
	w.section(6, func(w *writer) int {
		for _, n := range shimOrder {
			w.aliasExport(sortFunc, iHost, n)
		}
		return len(shimOrder)
	})
	F += uint32(len(shimOrder))

	// The adapter: core module 0 (memory, realloc, reset) and 1 (shim).
	w.raw(1, memory)
	w.raw(1, shim)
	// core instance 0: the memory module.
	w.section(2, func(w *writer) int {
		w.byte(0x00, 0x00, 0x00) // instantiate module 0, no arguments
		return 1
	})
	// core memory 0, core funcs 0 (realloc), 1 (reset) and 2 (alloc).
	w.section(6, func(w *writer) int {
		w.byte(sortCore, coreMemory, 0x01, 0x00)
		w.name("memory")
		for _, n := range []string{"realloc", "reset", "alloc"} {
			w.byte(sortCore, coreFunc, 0x01, 0x00)
			w.name(n)
		}
		return 4
	})
	// core funcs 3..6: the host functions lowered, their strings UTF-8 in
	// the adapter's memory (pack.go); 7, 8: resource.drop of the two stream
	// types.
	const fLowered = 3
	fDropOut, fDropIn := uint32(fLowered+len(shimOrder)), uint32(fLowered+len(shimOrder)+1)
	w.section(8, func(w *writer) int {
		for i := range shimOrder {
			w.byte(0x01, 0x00)
			w.u32(fHost + uint32(i))
			w.u32(3)
			w.byte(0x00)       // string-encoding=utf8
			w.byte(0x03, 0x00) // memory 0
			w.byte(0x04, 0x00) // realloc: core func 0
		}
		w.byte(0x03)
		w.u32(tOut)
		w.byte(0x03)
		w.u32(tIn)
		return len(shimOrder) + 2
	})
	// core instance 1: the shim's imports; core instance 2: the shim.
	w.section(2, func(w *writer) int {
		w.byte(0x01)
		w.u32(uint32(len(shimOrder)) + 5)
		for i, n := range shimOrder {
			w.name(n)
			w.byte(coreFunc)
			w.u32(fLowered + uint32(i))
		}
		w.name("drop-output-stream")
		w.byte(coreFunc)
		w.u32(fDropOut)
		w.name("drop-input-stream")
		w.byte(coreFunc)
		w.u32(fDropIn)
		w.name("reset")
		w.byte(coreFunc, 0x01)
		w.name("alloc")
		w.byte(coreFunc, 0x02)
		w.name("memory")
		w.byte(coreMemory, 0x00)
		w.byte(0x00, 0x01) // instantiate module 1
		w.u32(1)
		w.name("h")
		w.byte(coreInstance, 0x01)
		return 2
	})
	// core funcs 9..12: the shim's exports; 13: its post-return.
	fShim := fDropIn + 1
	fPostReturn := fShim + uint32(len(shimOrder))
	w.section(6, func(w *writer) int {
		for _, n := range append(shimOrder[:len(shimOrder):len(shimOrder)], "post-return") {
			w.byte(sortCore, coreFunc, 0x01, 0x02)
			w.name(n)
		}
		return len(shimOrder) + 1
	})
	// funcs F ..: the shim lifted to the guest's types. Retyped, the
	// guest reads latin1 strings from the adapter (wasmtime copies them
	// whole); it writes lists, since between components a latin1+utf16
	// string must start at an even address, which a list<u8> need not.
	fAdapted := map[string]uint32{}
	lifted := 0
	w.section(8, func(w *writer) int {
		for i, n := range shimOrder {
			read := isRead(n)
			w.byte(0x00, 0x00)
			w.u32(fShim + uint32(i))
			if retyped && read {
				w.u32(4)
				w.byte(0x02) // string-encoding=latin1+utf16
			} else {
				w.u32(3)
			}
			w.byte(0x03, 0x00) // memory 0
			w.byte(0x04, 0x00) // realloc: core func 0
			w.byte(0x05)       // post-return
			w.u32(fPostReturn)
			if read {
				w.u32(tRead)
			} else {
				w.u32(tWrite)
			}
			fAdapted[n] = F + uint32(lifted)
			lifted++
		}
		return lifted
	})
	F += uint32(lifted)

	// The streams instance the guest gets: the re-exporter (component 0)
	// instantiated with the adapted functions and every other function
	// of the host's instance as it is.
	pass := []string{"error", "pollable"}
	given := map[string]uint32{"output-stream": tOut, "input-stream": tIn, "stream-error": tErr}
	var funcs []string
	for _, e := range g.streamsAPI {
		if e.sort == sortFunc {
			funcs = append(funcs, e.name)
		}
	}
	w.section(6, func(w *writer) int {
		n := 0
		alias := func(sort byte, name string, next *uint32) {
			w.aliasExport(sort, streams.idx, name)
			given[name] = *next
			*next++
			n++
		}
		for _, name := range pass {
			if g.hasType(name) {
				alias(sortType, name, &T)
			}
		}
		for _, f := range funcs {
			if _, ok := Adapted[f]; !ok {
				alias(sortFunc, f, &F)
			}
		}
		return n
	})
	for f, shimName := range Adapted {
		given[f] = fAdapted[shimName]
	}
	w.raw(4, reexport)
	iStreams := I
	w.section(5, func(w *writer) int {
		w.byte(0x00, 0x00) // instantiate component 0
		var args int
		var body writer
		for _, t := range []string{"error", "input-stream", "output-stream", "pollable", "stream-error"} {
			if idx, ok := given[t]; ok {
				body.name(t)
				body.byte(sortType)
				body.u32(idx)
				args++
			}
		}
		for _, f := range funcs {
			body.name(importName(f))
			body.byte(sortFunc)
			body.u32(given[f])
			args++
		}
		w.u32(uint32(args))
		w.b = append(w.b, body.b...)
		return 1
	})
	I++

	// The guest, nested (component 1), instantiated with the adapted
	// streams instance and every other import as it is.
	w.raw(4, inner)
	iGuest := I
	w.section(5, func(w *writer) int {
		w.byte(0x00, 0x01)
		w.u32(uint32(len(g.imports)))
		for i, im := range g.imports {
			w.name(im.name)
			w.byte(im.sort)
			if i == g.streams {
				w.u32(iStreams)
			} else {
				w.u32(im.idx)
			}
		}
		return 1
	})
	I++
	// Its exports, re-exported.
	next := map[byte]*uint32{sortType: &T, sortFunc: &F, sortInstance: &I}
	idx := make([]uint32, len(g.exports))
	w.section(6, func(w *writer) int {
		for i, e := range g.exports {
			w.aliasExport(e.sort, iGuest, e.name)
			if n := next[e.sort]; n != nil {
				idx[i] = *n
				*n++
			}
		}
		return len(g.exports)
	})
	w.section(11, func(w *writer) int {
		for i, e := range g.exports {
			w.byte(0x00)
			w.name(e.name)
			w.byte(e.sort)
			w.u32(idx[i])
			w.byte(0x00)
		}
		return len(g.exports)
	})
	return w.b
}
