package wire

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"
)

var (
	str   = &typ{k: kString}
	label = &typ{k: kTuple, fields: []*typ{str, str}}
	// The canvas's own signatures (wit/observe.wit, wit/identity.wit) and
	// the worked examples of WRPC.md, then generated ones.
	fuzzTypes = []*typ{
		{k: kTuple, fields: []*typ{str, {k: kU64}, {k: kList, elem: label}}},                                               // counter-add params
		{k: kTuple, fields: []*typ{str, {k: kF64}, {k: kList, elem: label}}},                                               // histogram-record params
		{k: kTuple, fields: []*typ{str, str, {k: kOption, elem: str}, str, {k: kU64}, {k: kU64}, {k: kList, elem: label}}}, // record-span params
		{k: kResult, elem: str, err: &typ{k: kVariant, fields: []*typ{str, str}}},                                          // access-token results
		{k: kResult, elem: &typ{k: kTuple, fields: []*typ{str, str, {k: kList, elem: str}, {k: kList, elem: str}, {k: kU64}}},
			err: &typ{k: kVariant, fields: []*typ{str, str}}}, // verify results
		{k: kResult, elem: &typ{k: kOption, elem: str}, err: &typ{k: kVariant, fields: []*typ{str, nil, str}}}, // identity store get
	}
)

func init() {
	r := rand.New(rand.NewPCG(1, 2))
	for range 26 {
		fuzzTypes = append(fuzzTypes, randType(r, 3))
	}
}

func errorsIsTooLarge(err error) bool { return errors.Is(err, ErrTooLarge) }

// FuzzDecode decodes arbitrary bytes as one of the fuzz types (the first
// byte picks it). The decoder must not panic or allocate by a claimed
// length, and whatever it accepts must re-encode to a value that decodes
// the same.
func FuzzDecode(f *testing.F) {
	f.Add([]byte{0, 1, 'a', 5, 0})
	f.Add([]byte{2, 2, 'i', 'd', 1, 's', 1, 'p', 1, 'x', 1, 2, 0})
	f.Add([]byte{4, 1, 1, 1, 'x'})
	f.Add([]byte{5, 0, 1, 3, 't', 'o', 'k'})
	f.Add([]byte{0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		typ := fuzzTypes[int(in[0])%len(fuzzTypes)]
		d := NewDecoder(in[1:])
		v := decodeValue(d, typ)
		if d.Err() != nil {
			return
		}
		var e Encoder
		encodeValue(&e, typ, v)
		d2 := NewDecoder(e.Bytes())
		v2 := decodeValue(d2, typ)
		if err := d2.Finish(); err != nil {
			t.Fatalf("re-encoded value does not decode: %v", err)
		}
		if !reflect.DeepEqual(normalize(v), normalize(v2)) && !hasNaN(v) {
			t.Fatalf("re-encoded value decodes differently:\n%#v\n%#v", v, v2)
		}
	})
}

func hasNaN(v any) bool {
	switch x := v.(type) {
	case float32:
		return x != x
	case float64:
		return x != x
	case []any:
		for _, y := range x {
			if hasNaN(y) {
				return true
			}
		}
	case optionV:
		return x.V != nil && hasNaN(x.V.(some).V)
	case resultV:
		return hasNaN(x.V)
	case variantV:
		return hasNaN(x.V)
	}
	return false
}
