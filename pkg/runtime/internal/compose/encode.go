package compose

// writer encodes the component binary format.
type writer struct{ b []byte }

func (w *writer) byte(c ...byte) { w.b = append(w.b, c...) }

func (w *writer) u32(v uint32) {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			w.b = append(w.b, c|0x80)
			continue
		}
		w.b = append(w.b, c)
		return
	}
}

// idx writes a type index as a valtype (s33: non-negative).
func (w *writer) idx(v uint32) {
	x := int64(v)
	for {
		c := byte(x & 0x7f)
		x >>= 7
		if x == 0 && c&0x40 == 0 {
			w.b = append(w.b, c)
			return
		}
		w.b = append(w.b, c|0x80)
	}
}

func (w *writer) name(s string) {
	w.u32(uint32(len(s)))
	w.b = append(w.b, s...)
}

// section wraps what fill writes as section id, counting the vector
// entries fill reports.
func (w *writer) section(id byte, fill func(w *writer) int) {
	var body writer
	n := fill(&body)
	var out writer
	out.u32(uint32(n))
	out.b = append(out.b, body.b...)
	w.byte(id)
	w.u32(uint32(len(out.b)))
	w.b = append(w.b, out.b...)
}

// raw appends a section whose content is not a vector (a module or a
// component).
func (w *writer) raw(id byte, content []byte) {
	w.byte(id)
	w.u32(uint32(len(content)))
	w.b = append(w.b, content...)
}

// aliasExport writes an alias of the export name (of sort) of the
// component instance inst.
func (w *writer) aliasExport(sort byte, inst uint32, name string) {
	w.byte(sort, 0x00)
	w.u32(inst)
	w.name(name)
}
