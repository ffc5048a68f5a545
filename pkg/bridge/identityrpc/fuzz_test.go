package identityrpc

import (
	"slices"
	"testing"
	"time"

	"github.com/wasmcanvas/wasmcanvas/pkg/auth"
	"github.com/wasmcanvas/wasmcanvas/pkg/wrpc/wire"
)

// FuzzDecode feeds arbitrary bytes to what reads wire values here: every
// function's params (the handlers') and both sides of the results (the
// Client's). None may panic, and claims that decode must encode to bytes
// no longer than they came in that decode to the same claims. (Not to the
// same bytes: a LEB128 may carry redundant leading bytes, as wRPC's own
// decoders allow, and the encoder writes none.)
func FuzzDecode(f *testing.F) {
	var ok, fail wire.Encoder
	ok.Result(true)
	encodeClaims(&ok, auth.Claims{Subject: "alice", Issuer: "https://issuer.test", Audience: []string{"pc"}, Roles: []string{"pcadmin"}, ExpiresAt: time.Unix(1900000000, 0)})
	encodeError(&fail, auth.TokensInvalid, "expired")
	for _, seed := range [][]byte{ok.Bytes(), fail.Bytes(), {0x05, 'a', 'l', 'i', 'c', 'e'}, {0x01, 0x07}, {0xff, 0xff, 0xff, 0xff, 0x0f}} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, fn := range functions {
			d := wire.NewDecoder(b)
			fn.decode(d)
			_ = d.Finish()
		}
		d := wire.NewDecoder(b)
		if d.Result() {
			c := decodeClaims(d)
			if d.Finish() == nil {
				var e wire.Encoder
				e.Result(true)
				encodeClaims(&e, c)
				d2 := wire.NewDecoder(e.Bytes())
				d2.Result()
				c2 := decodeClaims(d2)
				if err := d2.Finish(); err != nil || !sameClaims(c, c2) || len(e.Bytes()) > len(b) {
					t.Errorf("claims % x decode to %+v, which encode to % x, which decode to %+v (%v)", b, c, e.Bytes(), c2, err)
				}
			}
		} else if we := decodeError(d); d.Finish() == nil && we == nil {
			t.Errorf("% x: an error side that decodes to nothing", b)
		}
	})
}

// sameClaims compares claims field by field, the expiry as an instant.
func sameClaims(a, b auth.Claims) bool {
	return a.Subject == b.Subject && a.Issuer == b.Issuer && slices.Equal(a.Audience, b.Audience) &&
		slices.Equal(a.Roles, b.Roles) && a.ExpiresAt.Equal(b.ExpiresAt)
}
